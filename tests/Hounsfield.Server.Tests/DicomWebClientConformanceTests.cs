using System.Diagnostics;
using System.Text.Json;

namespace Hounsfield.Server.Tests;

/// <summary>
/// The conformance run of tests/conformance/dicomweb-client — dicomweb-client, the client OHIF uses, in Node — against a
/// real server: store, search at every level, retrieve instances, metadata, frames, rendered images and bulk data,
/// each asserted against the corpus oracle by the script.
/// </summary>
public sealed class DicomWebClientConformanceTests
{
    public static readonly string ProjectDirectory = Path.Combine(Corpus.RepositoryRoot, "tests", "conformance", "dicomweb-client");

    [NodeConformanceFact]
    public async Task Dicomweb_client_stores_searches_and_retrieves_what_it_uploaded()
    {
        var files = new[]
        {
            Corpus.Get("evrle_ct_small"),           // native CT, Explicit VR Little Endian
            Corpus.Get("emri_10frame"),             // native multi-frame MR
            Corpus.Get("jpegls_lossless_mr_small"), // compressed, JPEG-LS lossless
            Corpus.Get("rle_rgb8"),                 // compressed colour, RLE
        };
        Assert.Equal("CT", files[0].Manifest.GetProperty("modality").GetString());
        Assert.True(files[1].Manifest.GetProperty("number_of_frames").GetInt32() > 1);
        Assert.All(files[2..], f => Assert.NotEqual("1.2.840.10008.1.2.1", f.TransferSyntaxUid));

        await using var server = await ServerProcess.StartAsync();
        try
        {
            var headers = new Dictionary<string, string> { ["Authorization"] = $"Bearer {server.AccessToken}" };

            var (exitCode, output) = await RunAsync(server, headers, files.Select(f => f.Name));

            Assert.True(exitCode == 0, $"the dicomweb-client conformance run failed (exit code {exitCode}):\n{output}");
            Assert.Contains(" passed, 0 failed", output, StringComparison.Ordinal);
        }
        finally
        {
            await server.DeleteDataAsync();
        }
    }

    /// <summary>Runs conformance.mjs against <paramref name="server"/>; the exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(ServerProcess server, IReadOnlyDictionary<string, string> headers, IEnumerable<string> corpusNames)
    {
        var info = new ProcessStartInfo(NodeConformanceFactAttribute.FindOnPath("node")
            ?? throw new InvalidOperationException("Node.js is not installed: run scripts/install-prerequisites."))
        {
            WorkingDirectory = ProjectDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "conformance.mjs", "--url", $"http://127.0.0.1:{server.Port}/dicomweb", "--corpus", Corpus.Directory! }.Concat(corpusNames))
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["DICOMWEB_HEADERS"] = JsonSerializer.Serialize(headers);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start node");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"timed out after 120 s\n{await stdout}\n{await stderr}");
        }

        return (process.ExitCode, $"{await stdout}{await stderr}");
    }
}

/// <summary>
/// A fact that needs the corpus, Node and the conformance project's packages (installed by scripts/install-prerequisites).
/// Skipped with the reason when one is missing, except under HOUNSFIELD_CORPUS_REQUIRED=1 (CI), where it runs and fails.
/// </summary>
public sealed class NodeConformanceFactAttribute : FactAttribute
{
    public NodeConformanceFactAttribute()
    {
        if (Corpus.IsRequired)
        {
            return;
        }

        if (Corpus.SkipReason.Length > 0)
        {
            Skip = Corpus.SkipReason;
        }
        else if (FindOnPath("node") is null)
        {
            Skip = "Node.js is not installed (scripts/install-prerequisites installs it)";
        }
        else if (!File.Exists(Path.Combine(DicomWebClientConformanceTests.ProjectDirectory, "node_modules", "dicomweb-client", "package.json")))
        {
            Skip = "the packages of tests/conformance/dicomweb-client are not installed (run scripts/install-prerequisites)";
        }
    }

    public static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);
}
