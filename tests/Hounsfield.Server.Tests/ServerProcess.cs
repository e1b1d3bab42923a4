using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Hounsfield.Server.Tests;

/// <summary>A real `hounsfield serve` process on a free loopback port with its own data folder, removed at the end.</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process process;

    private ServerProcess(Process process, int port, DirectoryInfo data)
    {
        this.process = process;
        Port = port;
        Data = data;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public int Port { get; }

    public DirectoryInfo Data { get; }

    public HttpClient Client { get; }

    public static Task<ServerProcess> StartAsync(DirectoryInfo? data = null, params string[] extraArguments) => StartAsync(data, null, extraArguments);

    /// <summary>Starts the server with these environment variables set for its process (TMPDIR, HOUNSFIELD__...).</summary>
    public static async Task<ServerProcess> StartAsync(DirectoryInfo? data, IReadOnlyDictionary<string, string>? environment, params string[] extraArguments)
    {
        data ??= Directory.CreateTempSubdirectory("hounsfield-test-");
        var port = FreePort();
        // The DICOM port is off unless a test asks for one, so that parallel servers do not fight over 11112.
        string[] dicom = extraArguments.Contains("--dicom-port") ? [] : ["--dicom-port", "0"];
        var process = CliRunner.Start(environment, ["serve", "--urls", $"http://127.0.0.1:{port}", "--data", data.FullName, .. dicom, .. extraArguments]);
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, port, data);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                if ((await server.Client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK)
                {
                    return server;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
            }

            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"hounsfield serve did not become ready (exit code {(process.HasExited ? process.ExitCode : -1)}).");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Kills the process at once (kill -9), leaving the data folder for a restart.</summary>
    public async Task KillAsync()
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            await KillAsync();
        }

        Client.Dispose();
        process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
