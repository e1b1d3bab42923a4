using System.Diagnostics;

namespace Hounsfield.Server.Tests;

/// <summary>
/// Runs the real `hounsfield` app (built beside the tests) as a child process; HOUNSFIELD_TEST_APP names another one, e.g.
/// the executable of `scripts/publish`, to run the tests against the production build.
/// </summary>
internal static class CliRunner
{
    public static readonly string AppPath = Environment.GetEnvironmentVariable("HOUNSFIELD_TEST_APP") is { Length: > 0 } app
        ? Path.GetFullPath(app)
        : Path.Combine(AppContext.BaseDirectory, "hounsfield.dll");

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

    public static Process Start(params string[] args) => Start(null, args);

    /// <summary>Starts `hounsfield` with extra environment variables (a null value removes one).</summary>
    public static Process Start(IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        var runsThroughDotnet = AppPath.EndsWith(".dll", StringComparison.Ordinal);
        var info = new ProcessStartInfo(runsThroughDotnet ? "dotnet" : AppPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        if (runsThroughDotnet)
        {
            info.ArgumentList.Add(AppPath);
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("could not start hounsfield");
    }
}
