using System.Diagnostics;

namespace Hounsfield.Server.Tests;

/// <summary>Runs the real `hounsfield` app host (built beside the tests) as a child process.</summary>
internal static class CliRunner
{
    public static readonly string AppPath = Path.Combine(AppContext.BaseDirectory, "hounsfield.dll");

    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        using var process = Start(args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"hounsfield {string.Join(' ', args)} did not finish in 60 s");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    public static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(AppPath);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("could not start hounsfield");
    }
}

internal static class CorpusPaths
{
    public static string? Directory { get; } = Find();

    public static string SkipReason => Directory is null && Environment.GetEnvironmentVariable("HOUNSFIELD_CORPUS_REQUIRED") != "1"
        ? "the DICOM corpus is not present (set HOUNSFIELD_CORPUS or place it at ../shared/dicom-corpus)"
        : string.Empty;

    public static string File(string name) => Path.Combine(Directory ?? throw new InvalidOperationException("the DICOM corpus is required but missing"), "files", name + ".dcm");

    public static string Oracle(string name, string file) => Path.Combine(Directory!, "oracle", name, file);

    private static string? Find()
    {
        var configured = Environment.GetEnvironmentVariable("HOUNSFIELD_CORPUS");
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !System.IO.File.Exists(Path.Combine(directory.FullName, "Hounsfield.slnx")))
        {
            directory = directory.Parent;
        }

        var candidate = !string.IsNullOrEmpty(configured) ? configured
            : directory is null ? null : Path.Combine(directory.FullName, "..", "shared", "dicom-corpus");
        return candidate is not null && System.IO.File.Exists(Path.Combine(candidate, "MANIFEST.json")) ? Path.GetFullPath(candidate) : null;
    }
}

public sealed class CorpusFactAttribute : FactAttribute
{
    public CorpusFactAttribute()
    {
        if (CorpusPaths.SkipReason.Length > 0)
        {
            Skip = CorpusPaths.SkipReason;
        }
    }
}
