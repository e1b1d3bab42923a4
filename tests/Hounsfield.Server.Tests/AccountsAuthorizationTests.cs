using System.Net;
using System.Net.Http.Json;
using System.Text;
using Hounsfield.Server.Accounts;
using static Hounsfield.Server.Tests.AccountsTestClient;
using Hounsfield.Testing;

namespace Hounsfield.Server.Tests;

/// <summary>Every kind of caller against every kind of endpoint: the status each gets, and a `detail` on every refusal.</summary>
public sealed class AccountsAuthorizationTests
{
    private static readonly string[] Callers = ["anonymous", "readonly", "user", "developer", "admin", "apikey", "expired", "tampered", "revoked key"];

    // Expected status per caller, in the order of Callers. Writers sending STOW a JSON body get 415 (authorized, then refused
    // by STOW itself), as do developers sending read/generate JSON instead of a form; 404 and 400 likewise mean "let through
    // to the endpoint".
    private static readonly (string Method, string Path, string? Json, int[] Expected)[] Table =
    [
        ("GET", "/dicomweb/studies", null, [401, 200, 200, 403, 200, 200, 401, 401, 401]),
        ("GET", "/qidors/studies", null, [401, 200, 200, 403, 200, 200, 401, 401, 401]),
        ("GET", "/wadors/studies/1.2.3/metadata", null, [401, 404, 404, 403, 404, 404, 401, 401, 401]),
        ("GET", "/dicomweb/studies/1.2.3/series/4.5/instances/6.7/rendered", null, [401, 404, 404, 403, 404, 404, 401, 401, 401]),
        ("POST", "/dicomweb/studies", "{}", [401, 403, 415, 403, 415, 415, 401, 401, 401]),
        ("DELETE", "/dicomweb/studies/1.2.3", null, [401, 403, 404, 403, 404, 404, 401, 401, 401]),
        ("GET", "/api/developer/profiles/", null, [401, 404, 404, 200, 404, 200, 401, 401, 401]),
        ("POST", "/api/developer/profiles/", """{"purpose":"bogus"}""", [401, 400, 400, 400, 400, 403, 401, 401, 401]),
        ("GET", "/api/developer/profiles/activity-summary/", null, [401, 403, 403, 200, 403, 200, 401, 401, 401]),
        ("GET", "/api-keys/", null, [401, 200, 200, 200, 200, 403, 401, 401, 401]),
        ("GET", "/api/developer/auth/api-keys/", null, [401, 200, 200, 200, 200, 403, 401, 401, 401]),
        ("POST", "/api-keys/", $$"""{"name":"{{new string('n', 101)}}"}""", [401, 403, 403, 400, 403, 403, 401, 401, 401]),
        ("DELETE", "/api-keys/delete/999999/", null, [401, 404, 404, 404, 404, 403, 401, 401, 401]),
        ("DELETE", "/api/developer/auth/api-keys/delete/999999/", null, [401, 404, 404, 404, 404, 403, 401, 401, 401]),
        ("GET", "/wado?requestType=WADO&studyUID=1.2&seriesUID=3.4&objectUID=5.6", null, [401, 404, 404, 403, 404, 404, 401, 401, 401]),
        ("POST", "/api/dicom/read/file/", "{}", [401, 403, 403, 415, 403, 415, 401, 401, 401]),
        ("POST", "/api/dicom/generate/", "{}", [401, 403, 403, 415, 403, 415, 401, 401, 401]),
        ("POST", "/api/dicom/write/upload_content/", "{}", [401, 403, 403, 415, 403, 415, 401, 401, 401]),
        ("GET", "/api/dicom-format/allowed-fields/", null, [200, 200, 200, 200, 200, 200, 200, 200, 200]),
        ("GET", "/api/dicom-format/required-field-type/", null, [200, 200, 200, 200, 200, 200, 200, 200, 200]),
        ("GET", "/api/dicom_nodes", null, [401, 200, 200, 403, 200, 200, 401, 401, 401]),
        ("POST", "/api/dicom_nodes", "{}", [401, 403, 403, 403, 400, 403, 401, 401, 401]),
        ("PUT", "/api/dicom_nodes/999999", "{}", [401, 403, 403, 403, 404, 403, 401, 401, 401]),
        ("DELETE", "/api/dicom_nodes/999999", null, [401, 403, 403, 403, 404, 403, 401, 401, 401]),
        ("POST", "/api/dicom_nodes/999999/echo", null, [401, 404, 404, 403, 404, 404, 401, 401, 401]),
        ("POST", "/api/dicom_nodes/999999/find", "{}", [401, 404, 404, 403, 404, 404, 401, 401, 401]),
        ("POST", "/api/dicom_nodes/999999/store", "{}", [401, 403, 404, 403, 404, 404, 401, 401, 401]),
        ("POST", "/api/dicom_nodes/999999/move", "{}", [401, 403, 404, 403, 404, 404, 401, 401, 401]),
        ("POST", "/api/dicom_nodes/999999/get", "{}", [401, 403, 404, 403, 404, 404, 401, 401, 401]),
        ("GET", "/api/dicom_nodes/jobs/none", null, [401, 404, 404, 403, 404, 404, 401, 401, 401]),
        ("GET", "/no/such/endpoint", null, [401, 404, 404, 403, 404, 404, 401, 401, 401]),
        ("GET", "/health/live", null, [200, 200, 200, 200, 200, 200, 200, 200, 200]),
        ("GET", "/health/ready", null, [200, 200, 200, 200, 200, 200, 200, 200, 200]),
        ("GET", "/api/openapi.json", null, [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ];

    [Fact]
    public async Task Every_caller_gets_the_expected_status_from_every_endpoint()
    {
        Assert.All(Table, row => Assert.Equal(Callers.Length, row.Expected.Length));
        var server = await ServerProcess.StartAsync(new ServerStart { Arguments = ["--Auth:PasswordIterations", "10000"] });
        try
        {
            var key = SigningKeyOf(server);
            var adminClaims = Claims(server.AccessToken);
            adminClaims["exp"] = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeSeconds();
            var expired = Sign(key, adminClaims);
            var parts = server.AccessToken.Split('.');
            var tamperedClaims = Claims(server.AccessToken);
            tamperedClaims["sub"] = "2";
            var tampered = $"{parts[0]}.{System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(tamperedClaims.ToJsonString()))}.{parts[2]}";

            var keyOwner = await AccountAsync(server, "keyowner@example.com", Roles.User, developer: true);
            var (_, apiKey) = await CreateKeyAsync(server, keyOwner, "live");
            var (revokedId, revokedKey) = await CreateKeyAsync(server, keyOwner, "revoked");
            using (var owner = server.ClientWith("Bearer", keyOwner))
            {
                Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"/api-keys/delete/{revokedId}/")).StatusCode);
            }

            var clients = new HttpClient[]
            {
                server.Anonymous,
                server.ClientWith("Bearer", await AccountAsync(server, "readonly@example.com", Roles.ReadOnly, developer: false)),
                server.ClientWith("Bearer", await AccountAsync(server, "user@example.com", Roles.User, developer: false)),
                server.ClientWith("Bearer", await AccountAsync(server, "developer@example.com", Roles.None, developer: true)),
                server.Client,
                server.ClientWith("ApiKey", apiKey),
                server.ClientWith("Bearer", expired),
                server.ClientWith("Bearer", tampered),
                server.ClientWith("ApiKey", revokedKey),
            };

            var mismatches = new List<string>();
            foreach (var (method, path, json, expected) in Table)
            {
                for (var i = 0; i < Callers.Length; i++)
                {
                    using var request = new HttpRequestMessage(new HttpMethod(method), path);
                    if (json is not null)
                    {
                        request.Content = new StringContent(json, Encoding.UTF8, "application/json");
                    }

                    using var response = await clients[i].SendAsync(request);
                    var status = (int)response.StatusCode;
                    if (status != expected[i])
                    {
                        mismatches.Add($"{method} {path} as {Callers[i]}: {status}, expected {expected[i]} ({await response.Content.ReadAsStringAsync()})");
                    }
                    else if (status is 401 or 403 && string.IsNullOrEmpty(await DetailAsync(response)))
                    {
                        mismatches.Add($"{method} {path} as {Callers[i]}: {status} without a detail");
                    }
                }
            }

            Assert.Empty(mismatches);
            using var anonymous = await server.Anonymous.GetAsync("/dicomweb/studies");
            Assert.Equal(AccountAuthenticationHandler.NotProvided, await DetailAsync(anonymous));
            using var expiredResponse = await clients[6].GetAsync("/dicomweb/studies");
            Assert.Equal("Token is invalid or expired.", await DetailAsync(expiredResponse));
            using var developerQuery = await clients[3].GetAsync("/dicomweb/studies");
            Assert.Equal(AccountAuthorizationResultHandler.NoPermission, await DetailAsync(developerQuery));
            using var readonlyKeys = await clients[1].PostAsJsonAsync("/api-keys/", new { name = "x" });
            Assert.Contains("developer profile is required", await DetailAsync(readonlyKeys), StringComparison.Ordinal);
            using var keyMintingKey = await clients[5].PostAsJsonAsync("/api-keys/", new { name = "x" });
            Assert.Contains("API keys cannot manage", await DetailAsync(keyMintingKey), StringComparison.Ordinal);

            await JobsAreSeenByTheirCreatorAndAdminsOnlyAsync(server, readOnly: clients[1], user: clients[2], developer: clients[3], apiKey: clients[5],
                keyOwner: server.ClientWith("Bearer", keyOwner));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            await server.DisposeAsync();
            server.Data.Delete(recursive: true);
        }
    }

    /// <summary>A DICOM node job belongs to the account that started it (by token or by its API key): others get a 404, admins see all.</summary>
    private static async Task JobsAreSeenByTheirCreatorAndAdminsOnlyAsync(
        ServerProcess server, HttpClient readOnly, HttpClient user, HttpClient developer, HttpClient apiKey, HttpClient keyOwner)
    {
        using var node = await server.Client.PostAsJsonAsync("/api/dicom_nodes",
            new { name = "closed", peer_aet_title = "CLOSED", peer_host = "127.0.0.1", peer_port = FreePorts.Next() });
        Assert.Equal(HttpStatusCode.Created, node.StatusCode);
        var nodeId = (await JsonAsync(node)).GetProperty("id").GetInt64();

        var userJob = await StartJobAsync(user);
        var adminJob = await StartJobAsync(server.Client);
        var keyJob = await StartJobAsync(apiKey);

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(user, userJob));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(server.Client, userJob));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(server.Client, keyJob));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(keyOwner, keyJob)); // the key acts for its owner
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(apiKey, keyJob));
        foreach (var (client, job) in new[] { (readOnly, userJob), (user, adminJob), (user, keyJob), (apiKey, userJob), (keyOwner, adminJob) })
        {
            using var hidden = await client.GetAsync($"/api/dicom_nodes/jobs/{job}");
            Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
            Assert.Equal($"No DICOM node job {job}.", await DetailAsync(hidden)); // the same answer as for a job that does not exist
        }

        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(developer, userJob));
        var userId = (await new SqliteAccountStore(server.DatabasePath).FindUserByEmailAsync("user@example.com", CancellationToken.None))!.Id;
        using var seen = await server.Client.GetAsync($"/api/dicom_nodes/jobs/{userJob}");
        Assert.Equal(userId, (await JsonAsync(seen)).GetProperty("created_by").GetInt64());

        async Task<string> StartJobAsync(HttpClient client)
        {
            using var accepted = await client.PostAsync($"/api/dicom_nodes/{nodeId}/get",
                new StringContent("""{"level": "STUDY", "query": {"StudyInstanceUID": "1.2.3"}}""", Encoding.UTF8, "application/json"));
            Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync());
            return (await JsonAsync(accepted)).GetProperty("job_id").GetString()!;
        }

        static async Task<HttpStatusCode> StatusAsync(HttpClient client, string job)
        {
            using var response = await client.GetAsync($"/api/dicom_nodes/jobs/{job}");
            return response.StatusCode;
        }
    }
}
