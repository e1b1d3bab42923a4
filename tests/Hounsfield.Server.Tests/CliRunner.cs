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
