using System.Net;
using System.Net.Http.Json;
using System.Text;
using static Hounsfield.Server.Tests.AccountsTestClient;

namespace Hounsfield.Server.Tests;

/// <summary>What accounts do at start-up: the first admin, the signing key kept across restarts, settings that cannot work.</summary>
public sealed class AccountsStartupTests
{
    [Fact]
    public async Task The_signing_key_is_generated_once_readable_by_the_owner_only_and_reused_after_a_restart()
    {
        var data = Directory.CreateTempSubdirectory("hounsfield-key-");
        try
        {
            string token;
            byte[] keyBefore;
            await using (var first = await ServerProcess.StartAsync(data))
            {
                token = first.AccessToken;
                keyBefore = await File.ReadAllBytesAsync(Path.Combine(data.FullName, "auth-signing.key"));
                await first.KillAsync();
            }

            var keyFile = Path.Combine(data.FullName, "auth-signing.key");
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
            }

            Assert.Equal(64, Convert.FromBase64String(Encoding.ASCII.GetString(keyBefore)).Length);

            await using (var restarted = await ServerProcess.StartAsync(new ServerStart { Data = data, SignIn = false }))
            {
                using var client = restarted.ClientWith("Bearer", token);
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/dicomweb/studies")).StatusCode);
                Assert.Equal(keyBefore, await File.ReadAllBytesAsync(keyFile));
                await restarted.KillAsync();
            }

            // A configured key takes precedence: tokens of the generated key no longer pass, and new ones carry the configured key's signature.
            const string configured = "a configured signing key of more than thirty-two bytes";
            await using (var configuredServer = await ServerProcess.StartAsync(new ServerStart { Data = data, Arguments = ["--Auth:SigningKey", configured] }))
            {
                using var client = configuredServer.ClientWith("Bearer", token);
                Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/dicomweb/studies")).StatusCode);
                Assert.Equal(configuredServer.AccessToken, Sign(Encoding.UTF8.GetBytes(configured), Claims(configuredServer.AccessToken)));
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            data.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Without_admin_variables_the_first_start_prints_a_generated_admin_password_once()
    {
        var data = Directory.CreateTempSubdirectory("hounsfield-admin-");
        try
        {
            string password;
            await using (var server = await ServerProcess.StartAsync(new ServerStart { Data = data, Admin = null, SignIn = false }))
            {
                var line = await WaitForLineAsync(server, "password:");
                var match = System.Text.RegularExpressions.Regex.Match(line, "first admin account: (\\S+) password: (\\S+)");
                Assert.True(match.Success, line);
                Assert.Equal("admin@localhost", match.Groups[1].Value);
                password = match.Groups[2].Value;
                Assert.True(password.Length >= 16);
                Assert.Single(server.Output, l => l.Contains(password, StringComparison.Ordinal));
                Assert.Equal(HttpStatusCode.OK, (await server.Anonymous.PostAsJsonAsync("/api/token/", new { email = "admin@localhost", password })).StatusCode);
                await server.KillAsync();
            }

            await using (var restarted = await ServerProcess.StartAsync(new ServerStart { Data = data, Admin = ("someone.else@example.com", "another-password"), SignIn = false }))
            {
                await restarted.SignInAsync("admin@localhost", password);
                Assert.DoesNotContain(restarted.Output, l => l.Contains("password:", StringComparison.Ordinal));
                Assert.Equal(HttpStatusCode.Unauthorized, (await restarted.Anonymous.PostAsJsonAsync("/api/token/", new { email = "someone.else@example.com", password = "another-password" })).StatusCode);
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            data.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("--Auth:SigningKey", "too short", "Auth:SigningKey must be at least 32 bytes")]
    [InlineData("--Auth:RegistrationRole", "admin", "Auth:RegistrationRole must be one of")]
    [InlineData("--Archive:IndexWriteDelay", "soon", "'soon' at 'Archive:IndexWriteDelay'")]
    [InlineData("--Archive:MaxPartsPerRequest", "many", "'many' at 'Archive:MaxPartsPerRequest'")]
    [InlineData("--Dimse:MaxAssociations", "-x", "'-x' at 'Dimse:MaxAssociations'")]
    [InlineData("--Archive:MaxConcurrentCommits", "0", "Archive:MaxConcurrentCommits is 0; it must be at least 1.")]
    [InlineData("--Archive:IndexWriteDelay", "-00:00:01", "Archive:IndexWriteDelay is -00:00:01; it must be between 00:00:00 and 01:00:00.")]
    [InlineData("--Archive:MaxInstanceLength", "-5", "Archive:MaxInstanceLength is -5; it must be at least 1.")]
    [InlineData("--Archive:MaxStoredValueBytesPerQuery", "0", "Archive:MaxStoredValueBytesPerQuery is 0; it must be at least 1.")]
    [InlineData("--Dimse:MaxAsyncOperations", "0", "Dimse:MaxAsyncOperations is 0; it must be between 1 and 65535.")]
    [InlineData("--Dimse:MaxAssociations", "0", "Dimse:MaxAssociations is 0; it must be between 1 and 100000.")]
    [InlineData("--Auth:PasswordIterations", "1", "Auth:PasswordIterations is 1; it must be at least 1000.")]
    [InlineData("--Auth:AccessTokenLifetime", "00:00:00", "Auth:AccessTokenLifetime is 00:00:00; it must be between 00:00:01 and 3650.00:00:00.")]
    [InlineData("--Developer:MaxZipCompressionRatio", "0.5", "Developer:MaxZipCompressionRatio is 0.5; it must be at least 1.")]
    [InlineData("--Developer:MonthlyQuota", "-1", "Developer:MonthlyQuota is -1; it must be at least 0.")]
    [InlineData("--Dimse:Tls:Port", "70000", "Dimse:Tls:Port is 70000; it must be between 0 and 65535.")]
    [InlineData("--Dimse:Tls:HandshakeTimeoutSeconds", "0", "Dimse:Tls:HandshakeTimeoutSeconds is 0; it must be more than 0 and at most 3600.")]
    [InlineData("--Dimse:Nodes:0:Port", "70000", "Dimse:Nodes:0:Port is 70000; it must be between 0 and 65535.", "--Dimse:Nodes:0:AETitle", "PEER")]
    [InlineData("--Dimse:Nodes:0:AETitle", "BAD\\AE", "Dimse:Nodes:0:AETitle is 'BAD\\AE'; it must be an AE title: 1 to 16 characters of the default repertoire, without backslash.")]
    [InlineData("--Dimse:AETitle", "SEVENTEEN_CHARSXX", "Dimse:AETitle is 'SEVENTEEN_CHARSXX'; it must be an AE title")]
    [InlineData("--Nodes:MaxConcurrentJobs", "0", "Nodes:MaxConcurrentJobs is 0; it must be between 1 and 1024.")]
    [InlineData("--Nodes:JobStaleAfter", "00:00:06", "Nodes:JobStaleAfter is 00:00:06; it must be at least twice Nodes:JobHeartbeatInterval (00:00:05).")]
    public void Settings_that_cannot_work_stop_serve_with_a_message(string setting, string value, string message, params string[] otherSettings)
    {
        var data = Directory.CreateTempSubdirectory("hounsfield-bad-");
        try
        {
            var (exitCode, _, stderr) = CliRunner.Run(["serve", "--urls", "http://127.0.0.1:0", "--data", data.FullName, "--dicom-port", "0", setting, value, .. otherSettings]);

            Assert.Equal(1, exitCode);
            Assert.Contains(message, stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
        }
        finally
        {
            data.Delete(recursive: true);
        }
    }

    private static async Task<string> WaitForLineAsync(ServerProcess server, string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (server.Output.FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) is { } line)
            {
                return line;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"no output line with '{text}'");
    }
}
