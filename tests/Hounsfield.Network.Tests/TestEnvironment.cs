using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Hounsfield.Testing;

namespace Hounsfield.Network.Tests;

/// <summary>
/// DCMTK on the PATH and scratch space. Without DCMTK the tests that need it report themselves skipped, unless
/// HOUNSFIELD_CORPUS_REQUIRED=1 (CI, where scripts/install-prerequisites installs it). The corpus is tests/Shared's.
/// </summary>
public static class TestEnvironment
{
    public static bool HasDcmtk { get; } = FindOnPath("echoscu") is not null && FindOnPath("storescp") is not null;

    public static string DcmtkSkipReason => !HasDcmtk && !Corpus.IsRequired
        ? "DCMTK is not installed (scripts/install-prerequisites installs it)"
        : string.Empty;

    public static string CorpusSkipReason => Corpus.SkipReason.Length > 0 ? Corpus.SkipReason : DcmtkSkipReason;


    public static string CreateTempDirectory(string prefix)
    {
        var path = Path.Combine(Path.GetTempPath(), $"hounsfield-net-{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    private static string? FindOnPath(string tool)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator))
        {
            if (directory.Length > 0 && File.Exists(Path.Combine(directory, tool)))
            {
                return Path.Combine(directory, tool);
            }
        }

        return null;
    }
}

/// <summary>A test that needs DCMTK: skipped with the reason when it is absent (and not required).</summary>
public sealed class DcmtkFactAttribute : FactAttribute
{
    public DcmtkFactAttribute()
    {
        if (TestEnvironment.DcmtkSkipReason.Length > 0)
        {
            Skip = TestEnvironment.DcmtkSkipReason;
        }
    }
}

/// <summary>A test that needs the corpus and DCMTK.</summary>
public sealed class CorpusDcmtkFactAttribute : FactAttribute
{
    public CorpusDcmtkFactAttribute()
    {
        if (TestEnvironment.CorpusSkipReason.Length > 0)
        {
            Skip = TestEnvironment.CorpusSkipReason;
        }
    }
}

/// <summary>Runs DCMTK tools with bounded waits; background peers are killed on dispose.</summary>
public static class Dcmtk
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string tool, IEnumerable<string> arguments, TimeSpan? timeout = null, string? workingDirectory = null)
    {
        using var process = Create(tool, arguments, workingDirectory);
        process.Start();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} did not finish within {timeout ?? TimeSpan.FromSeconds(60)}: {await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Starts a DCMTK server (storescp, dcmqrscp) and waits until it accepts connections on <paramref name="port"/>.</summary>
    public static async Task<BackgroundProcess> StartAsync(string tool, IEnumerable<string> arguments, int port, string? workingDirectory = null)
    {
        var process = Create(tool, arguments, workingDirectory);
        process.Start();
        var background = new BackgroundProcess(process);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{tool} exited with {process.ExitCode}: {background.Output}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return background;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        await background.DisposeAsync();
        throw new TimeoutException($"{tool} did not listen on port {port} within 20 s");
    }

    private static Process Create(string tool, IEnumerable<string> arguments, string? workingDirectory)
    {
        var info = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return new Process { StartInfo = info };
    }
}

public sealed class BackgroundProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly System.Text.StringBuilder output = new();

    public BackgroundProcess(Process process)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }
}
