using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Hounsfield.Dicom;

namespace Hounsfield.Server.Tests;

/// <summary>`hounsfield transcode`: the written files are read by DCMTK and by our reader with the oracle's pixels.</summary>
public sealed class TranscodeCliTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "hounsfield-transcode-" + Guid.NewGuid().ToString("N"));

    public TranscodeCliTests() => Directory.CreateDirectory(directory);

    [CorpusFact]
    public void Transcode_turns_jpeg_ls_into_native_and_native_into_jpeg_ls_with_the_same_pixels()
    {
        var expected = OracleValueSha256("jpegls_lossless_emri_10frame");
        Assert.Equal(expected, OracleValueSha256("emri_10frame"));

        // JPEG-LS → explicit VR little endian: the Pixel Data value is the oracle's decode.
        var native = Path.Combine(directory, "native.dcm");
        var (exitCode, _, stderr) = CliRunner.Run("transcode", Corpus.Get("jpegls_lossless_emri_10frame").Path, "--transfer-syntax", "1.2.840.10008.1.2.1", "--output", native);
        Assert.True(exitCode == 0, stderr);
        var file = DicomFile.Open(native);
        Assert.Equal(DicomTransferSyntax.ExplicitVRLittleEndian, file.TransferSyntax);
        Assert.Equal(expected, Sha256(Assert.IsType<DicomValueElement>(file.Dataset[DicomTag.PixelData]).Span));
        if (HasTool("dcmdump"))
        {
            var dump = Run("dcmdump", native);
            Assert.Contains("(0002,0010) UI =LittleEndianExplicit", dump);
            Assert.Contains("(7fe0,0010) OW", dump);
        }

        // Native → JPEG-LS: one fragment per frame behind a Basic Offset Table, which DCMTK decodes to the same pixels.
        var encoded = Path.Combine(directory, "jpegls.dcm");
        (exitCode, _, stderr) = CliRunner.Run("transcode", Corpus.Get("emri_10frame").Path, "-t", "1.2.840.10008.1.2.4.80", "-o", encoded);
        Assert.True(exitCode == 0, stderr);
        var sequence = Assert.IsType<DicomFragmentSequence>(DicomFile.Open(encoded).Dataset[DicomTag.PixelData]);
        Assert.Equal(10, sequence.Fragments.Count);
        Assert.Equal(10, sequence.GetBasicOffsets().Length);
        if (HasTool("dcmdjpls"))
        {
            var decoded = Path.Combine(directory, "decoded.dcm");
            Run("dcmdjpls", encoded, decoded);
            Assert.Equal(expected, Sha256(Assert.IsType<DicomValueElement>(DicomFile.Open(decoded).Dataset[DicomTag.PixelData]).Span));
        }
    }

    [CorpusFact]
    public void Transcode_to_an_unknown_syntax_exits_2_and_to_one_without_an_encoder_exits_1()
    {
        var output = Path.Combine(directory, "out.dcm");
        var (exitCode, _, stderr) = CliRunner.Run("transcode", Corpus.Get("emri_10frame").Path, "--transfer-syntax", "1.2.3.4", "--output", output);
        Assert.Equal(2, exitCode);
        Assert.Contains("unknown transfer syntax", stderr);

        (exitCode, _, stderr) = CliRunner.Run("transcode", Corpus.Get("emri_10frame").Path, "--transfer-syntax", "1.2.840.10008.1.2.4.201", "--output", output);
        Assert.Equal(1, exitCode);
        Assert.Contains("No encoder", stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string OracleValueSha256(string name)
    {
        using var pixels = JsonDocument.Parse(File.ReadAllBytes(Corpus.Get(name).OraclePath("pixels.json")));
        return pixels.RootElement.GetProperty("default").GetProperty("value_sha256").GetString()!;
    }

    private static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static bool HasTool(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator).Any(d => File.Exists(Path.Combine(d, name)));

    private static string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), $"{tool} timed out");
        Assert.True(process.ExitCode == 0, $"{tool} failed: {stderr.Result}");
        return stdout.Result;
    }
}
