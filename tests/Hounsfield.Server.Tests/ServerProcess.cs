using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Hounsfield.Testing;

namespace Hounsfield.Server.Tests;

/// <summary>How to start a test server: the admin account of the environment, sign-in, extra arguments.</summary>
public sealed record ServerStart
{
    public DirectoryInfo? Data { get; init; }

    public string[] Arguments { get; init; } = [];

    /// <summary>HOUNSFIELD_ADMIN_EMAIL / HOUNSFIELD_ADMIN_PASSWORD; null leaves them unset (the server then generates a password).</summary>
    public (string Email, string Password)? Admin { get; init; } = (ServerProcess.AdminEmail, ServerProcess.AdminPassword);

    /// <summary>Whether <see cref="ServerProcess.Client"/> signs in as the admin and carries its Bearer token.</summary>
    public bool SignIn { get; init; } = true;

    /// <summary>More environment variables for the process (TMPDIR, HOUNSFIELD__...).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// A real `hounsfield serve` process on a free loopback port with its own data folder, removed at the end. It starts with a
/// known admin account (environment), signs in through `POST /api/token/`, and gives <see cref="Client"/> the admin's Bearer
/// token (valid for hours: `--Auth:AccessTokenLifetime`); <see cref="Anonymous"/> sends no credentials.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    public const string AdminEmail = "admin@hounsfield.test";
    public const string AdminPassword = "correct horse battery staple";

    private readonly Process process;
    private readonly ConcurrentQueue<string> output = new();
    private readonly ConcurrentQueue<string> errors = new();

    private ServerProcess(Process process, int port, DirectoryInfo data)
    {
        this.process = process;
        Port = port;
        Data = data;
        Client = NewClient(new Uri($"http://127.0.0.1:{port}"));
        Anonymous = NewClient(new Uri($"http://127.0.0.1:{port}"));
    }

    public int Port { get; }

    public DirectoryInfo Data { get; }

    /// <summary>Signed in as the admin (unless started with SignIn = false).</summary>
    public HttpClient Client { get; }

    /// <summary>The id of the server's process (the `dotnet hounsfield.dll` host runs the app itself).</summary>
    public int ProcessId => process.Id;

    /// <summary>The peak resident set size of the server process so far, in bytes (VmHWM of /proc/PID/status; Linux only).</summary>
    public long PeakResidentBytes()
    {
        var line = File.ReadLines($"/proc/{process.Id}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }


    /// <summary>No Authorization header.</summary>
    public HttpClient Anonymous { get; }

    /// <summary>The admin's access token, for requests written by hand.</summary>
    public string AccessToken { get; private set; } = string.Empty;

    public string DatabasePath => Path.Combine(Data.FullName, "index.db");

    /// <summary>Lines the process wrote to stdout so far.</summary>
    public IReadOnlyCollection<string> Output => output;

    public static Task<ServerProcess> StartAsync(DirectoryInfo? data = null, params string[] extraArguments) =>
        StartAsync(new ServerStart { Data = data, Arguments = extraArguments });

    public static async Task<ServerProcess> StartAsync(ServerStart start)
    {
        var data = start.Data ?? Directory.CreateTempSubdirectory("hounsfield-test-");
        var port = FreePorts.Next();
        // The DICOM port is off unless a test asks for one, so that parallel servers do not fight over 11112.
        string[] dicom = start.Arguments.Contains("--dicom-port") ? [] : ["--dicom-port", "0"];
        var environment = new Dictionary<string, string?>
        {
            ["HOUNSFIELD_ADMIN_EMAIL"] = start.Admin?.Email,
            ["HOUNSFIELD_ADMIN_PASSWORD"] = start.Admin?.Password,
        };
        foreach (var (name, value) in start.Environment)
        {
            environment[name] = value;
        }

        var process = CliRunner.Start(environment,
            // A spare segment of 1 MiB, not 256: the same path, without 256 MiB of zeros written at each test server's start.
            ["serve", "--urls", $"http://127.0.0.1:{port}", "--data", data.FullName, "--Auth:AccessTokenLifetime", "04:00:00",
                "--Archive:SpareSegmentLength", "1048576", .. dicom, .. start.Arguments]);
        var server = new ServerProcess(process, port, data);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                server.output.Enqueue(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                server.errors.Enqueue(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                if ((await server.Anonymous.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet, or no longer: the check below tells which.
            }

            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                // What the process said last (stdout and stderr): a port another process took meanwhile, a bad argument.
                var said = string.Join(Environment.NewLine, server.output.Concat(server.errors).TakeLast(20));
                throw new InvalidOperationException($"hounsfield serve did not become ready (exit code {(process.HasExited ? process.ExitCode : -1)}):{Environment.NewLine}{said}");
            }

            await Task.Delay(100);
        }

        if (start.SignIn && start.Admin is { } admin)
        {
            server.AccessToken = await server.SignInAsync(admin.Email, admin.Password);
            server.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.AccessToken);
        }

        return server;
    }

    /// <summary>The access token of a sign-in through `POST /api/token/`.</summary>
    public async Task<string> SignInAsync(string email, string password)
    {
        var response = await Anonymous.PostAsJsonAsync("/api/token/", new { email, password });
        var body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"sign-in as {email} failed: {(int)response.StatusCode} {body}");
        }

        return JsonDocument.Parse(body).RootElement.GetProperty("access").GetString()!;
    }

    /// <summary>A client that sends the given Authorization header value on every request.</summary>
    public HttpClient ClientWith(string scheme, string credential)
    {
        var client = NewClient(Anonymous.BaseAddress!);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(scheme, credential);
        return client;
    }

    /// <summary>Kills the process at once (kill -9), leaving the data folder for a restart.</summary>
    public async Task KillAsync()
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    /// <summary>
    /// Stops the server, then removes its data folder. A test's cleanup calls this rather than deleting the folder under a
    /// running server, whose writes would fail the deletion and hide the test's own failure.
    /// </summary>
    public async Task DeleteDataAsync()
    {
        if (!process.HasExited)
        {
            await KillAsync();
        }

        Data.Delete(recursive: true);
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            await KillAsync();
        }

        Client.Dispose();
        Anonymous.Dispose();
        process.Dispose();
    }

    /// <summary>Without a cookie jar: the refresh cookie of one sign-in must not ride along on another test's requests.</summary>
    private static HttpClient NewClient(Uri baseAddress) =>
        new(new HttpClientHandler { UseCookies = false }) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
}
