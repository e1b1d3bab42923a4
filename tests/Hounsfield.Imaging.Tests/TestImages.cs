using System.Diagnostics;
using System.Security.Cryptography;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;

namespace Hounsfield.Imaging.Tests;

/// <summary>Reads image attributes and pixel data frames from DICOM files with the toolkit, for the codec tests.</summary>
internal static class TestImages
{
    public static readonly DicomTag PixelData = new(0x7FE0, 0x0010);

    public static FrameInfo GetFrameInfo(DicomDataset dataset) => new(
        Rows: dataset.GetValue<int>(new DicomTag(0x0028, 0x0010)),
        Columns: dataset.GetValue<int>(new DicomTag(0x0028, 0x0011)),
        SamplesPerPixel: dataset.GetValueOrDefault<int>(new DicomTag(0x0028, 0x0002)) ?? 1,
        BitsAllocated: dataset.GetValue<int>(new DicomTag(0x0028, 0x0100)),
        BitsStored: dataset.GetValue<int>(new DicomTag(0x0028, 0x0101)),
        PixelRepresentation: dataset.GetValueOrDefault<int>(new DicomTag(0x0028, 0x0103)) ?? 0,
        PhotometricInterpretation: dataset.GetString(new DicomTag(0x0028, 0x0004)) ?? "MONOCHROME2",
        PlanarConfiguration: dataset.GetValueOrDefault<int>(new DicomTag(0x0028, 0x0006)) ?? 0);

    public static int GetNumberOfFrames(DicomDataset dataset)
    {
        try
        {
            return dataset.GetValueOrDefault<int>(new DicomTag(0x0028, 0x0008)) ?? 1;
        }
        catch (DicomFormatException)
        {
            return 1;
        }
    }

    /// <summary>
    /// The compressed frames of encapsulated pixel data (PS3.5 A.4): one per fragment when the counts agree, else
    /// grouped by the Basic Offset Table, else all fragments for a single frame, else (JPEG) a new frame at each
    /// fragment that starts with SOI.
    /// </summary>
    public static List<byte[]> GetCompressedFrames(DicomDataset dataset, int frames)
    {
        var sequence = Assert.IsType<DicomFragmentSequence>(dataset[PixelData]);
        var fragments = sequence.Fragments.Select(f => f.GetMemory()).ToList();
        if (fragments.Count == frames)
        {
            return [.. fragments.Select(f => f.ToArray())];
        }

        if (frames == 1)
        {
            return [Concatenate(fragments)];
        }

        var offsets = sequence.GetBasicOffsets();
        var result = new List<byte[]>();
        if (offsets.Length == frames)
        {
            // Fragment start positions, measured from the first fragment's item tag (8-byte item headers).
            long position = 0;
            var starts = new List<long>();
            foreach (var fragment in fragments)
            {
                starts.Add(position);
                position += 8 + fragment.Length;
            }

            for (var f = 0; f < frames; f++)
            {
                var end = f + 1 < frames ? offsets[f + 1] : long.MaxValue;
                result.Add(Concatenate([.. fragments.Where((_, i) => starts[i] >= offsets[f] && starts[i] < end)]));
            }

            return result;
        }

        var current = new List<ReadOnlyMemory<byte>>();
        foreach (var fragment in fragments)
        {
            if (fragment.Length >= 2 && fragment.Span[0] == 0xFF && fragment.Span[1] == 0xD8 && current.Count > 0)
            {
                result.Add(Concatenate(current));
                current.Clear();
            }

            current.Add(fragment);
        }

        result.Add(Concatenate(current));
        Assert.Equal(frames, result.Count);
        return result;
    }

    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static bool HasTool(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => File.Exists(Path.Combine(directory, name)));

    /// <summary>Runs a DCMTK tool; fails the test with its output when it fails.</summary>
    public static void Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{tool} did not start.");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{tool} {string.Join(' ', arguments)} timed out.");
        }

        Assert.True(process.ExitCode == 0, $"{tool} {string.Join(' ', arguments)} failed ({process.ExitCode}): {stderr.Result}{stdout.Result}");
    }

    /// <summary>A temporary directory deleted on dispose.</summary>
    public sealed class TempDirectory : IDisposable
    {
        public TempDirectory()
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "hounsfield-imaging-" + Guid.NewGuid().ToString("N"));
            System.IO.Directory.CreateDirectory(Path);
        }

        public string Path { get; }

        public string File(string name) => System.IO.Path.Combine(Path, name);

        public void Dispose()
        {
            try
            {
                System.IO.Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static byte[] Concatenate(IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        var result = new byte[parts.Sum(p => p.Length)];
        var offset = 0;
        foreach (var part in parts)
        {
            part.Span.CopyTo(result.AsSpan(offset));
            offset += part.Length;
        }

        return result;
    }
}
