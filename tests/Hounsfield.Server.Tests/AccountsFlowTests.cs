using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Hounsfield.Server.Accounts;
using static Hounsfield.Server.Tests.AccountsTestClient;

namespace Hounsfield.Server.Tests;

/// <summary>One server for the account flows; each test uses its own accounts.</summary>
public sealed class AccountsServerFixture : IAsyncLifetime
{
    public ServerProcess Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await ServerProcess.StartAsync();

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Server.Data.Delete(recursive: true);
    }
}

/// <summary>The documented developer flow and the token lifecycle over a real server.</summary>
public sealed class AccountsFlowTests(AccountsServerFixture fixture) : IClassFixture<AccountsServerFixture>
{
    private ServerProcess Server => fixture.Server;

    [Fact]
    public async Task The_documented_flow_register_token_refresh_profile_key_read_generate_summary_delete_works_end_to_end()
    {
        var register = await Server.Anonymous.PostAsJsonAsync("/api/auth/register/", new { email = "Flow@Example.com", first_name = "Grace", last_name = "Hopper", password = "s3cret-enough" });
        Assert.Equal(HttpStatusCode.Created, register.StatusCode);
        Assert.Equal("User registered successfully!", (await JsonAsync(register)).GetProperty("message").GetString());

        var pair = await TokenPairAsync(Server, "flow@example.com", "s3cret-enough");
        var access = pair.GetProperty("access").GetString()!;
        Assert.Equal("access", Claims(access)["token_type"]!.GetValue<string>());
        Assert.Equal("refresh", Claims(pair.GetProperty("refresh").GetString()!)["token_type"]!.GetValue<string>());

        var refreshed = await Server.Anonymous.PostAsJsonAsync("/api/token/refresh/", new { refresh = pair.GetProperty("refresh").GetString() });
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        access = (await JsonAsync(refreshed)).GetProperty("access").GetString()!;
        using var user = Server.ClientWith("Bearer", access);

        var noProfile = await user.GetAsync("/api/developer/profiles/");
        Assert.Equal(HttpStatusCode.NotFound, noProfile.StatusCode);
        Assert.Equal("Developer profile does not exist.", await DetailAsync(noProfile));
        Assert.Equal(HttpStatusCode.Forbidden, (await user.PostAsJsonAsync("/api-keys/", new { name = "too early" })).StatusCode);

        var profile = await user.PostAsJsonAsync("/api/developer/profiles/", new { purpose = "research", organization = "Navy" });
        Assert.Equal(HttpStatusCode.Created, profile.StatusCode);
        var profileBody = await JsonAsync(profile);
        Assert.Equal("research", profileBody.GetProperty("purpose").GetString());
        Assert.Equal("Navy", profileBody.GetProperty("organization").GetString());
        Assert.Equal(1000, profileBody.GetProperty("monthly_quota").GetInt32());
        Assert.Equal("Navy", (await JsonAsync(await user.GetAsync("/api/developer/profiles/"))).GetProperty("organization").GetString());

        var created = await user.PostAsJsonAsync("/api-keys/", new { name = "ci" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var createdBody = await JsonAsync(created);
        var keyId = createdBody.GetProperty("id").GetInt64();
        var key = createdBody.GetProperty("key").GetString()!;
        Assert.Equal("ci", createdBody.GetProperty("name").GetString());
        Assert.Matches("^[A-Za-z0-9]{8}\\.[A-Za-z0-9]{32}$", key);
        var unnamed = await JsonAsync(await user.PostAsync("/api/developer/auth/api-keys/", JsonContent.Create(new { })));
        Assert.Equal("Grace-developer-key", unnamed.GetProperty("name").GetString());

        var listText = await user.GetStringAsync("/api-keys/");
        var listed = JsonDocument.Parse(listText).RootElement.EnumerateArray().ToList();
        Assert.Equal(2, listed.Count);
        Assert.Equal(["created", "id", "last_used", "name", "prefix", "revoked"], listed[0].EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(key[..8], listed[0].GetProperty("prefix").GetString());
        Assert.DoesNotContain(key[9..], listText, StringComparison.Ordinal);
        Assert.Equal(listText, await user.GetStringAsync("/api/developer/auth/api-keys/"));

        // Keys act with their owner's role: a self-registered account has none until an admin grants one.
        using var withKey = Server.ClientWith("ApiKey", key);
        var forbidden = await withKey.GetAsync("/dicomweb/studies");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal(AccountAuthorizationResultHandler.NoPermission, await DetailAsync(forbidden));
        var store = new SqliteAccountStore(Server.DatabasePath);
        Assert.True(await store.SetRoleAsync((await store.FindUserByEmailAsync("flow@example.com", CancellationToken.None))!.Id, Roles.ReadOnly, CancellationToken.None));
        Assert.Equal(HttpStatusCode.OK, (await withKey.GetAsync("/dicomweb/studies")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await withKey.PostAsync("/dicomweb/studies", new ByteArrayContent([]))).StatusCode);
        var afterUse = JsonDocument.Parse(await user.GetStringAsync("/api-keys/")).RootElement[0];
        Assert.NotEqual(JsonValueKind.Null, afterUse.GetProperty("last_used").ValueKind);

        // The developer services with the key: read a file (images through the display pipeline), generate one.
        if (Corpus.Directory is not null)
        {
            var dicom = File.ReadAllBytes(Corpus.Get("evrle_ct_small").Path);
            using var readForm = new MultipartFormDataContent { { new ByteArrayContent(dicom), "file", "ct.dcm" } };
            var read = await withKey.PostAsync("/api/dicom/read/file/?fields=Modality,Rows", readForm);
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            var readBody = await JsonAsync(read);
            Assert.Equal("CT", readBody.GetProperty("Modality").GetString());
            Assert.Equal("png", readBody.GetProperty("ImageFormat").GetString()?.ToLowerInvariant());
            Assert.StartsWith("iVBORw0KGgo", readBody.GetProperty("Images")[0].GetString(), StringComparison.Ordinal);
        }
        else
        {
            Assert.True((await store.TryConsumeAsync((await store.FindUserByEmailAsync("flow@example.com", CancellationToken.None))!.Id, "/api/dicom/read/file/", 1000, DateTimeOffset.UtcNow, CancellationToken.None)).Allowed);
        }

        var picture = Hounsfield.Imaging.Encoders.PngEncoder.Encode(new Hounsfield.Imaging.Rendering.RenderedImage(3, 2, 1, [0, 50, 100, 150, 200, 250]));
        using var generateForm = new MultipartFormDataContent
        {
            { new StringContent("flow"), "file_name" },
            { new StringContent("Hopper^Grace"), "PatientName" },
            { new ByteArrayContent(picture), "image", "picture.png" },
        };
        var generated = await withKey.PostAsync("/api/dicom/generate/", generateForm);
        Assert.Equal(HttpStatusCode.OK, generated.StatusCode);
        Assert.Equal("application/dicom", generated.Content.Headers.ContentType?.MediaType);
        var generatedFile = Hounsfield.Dicom.DicomFile.Read(await generated.Content.ReadAsByteArrayAsync());
        Assert.Equal("Hopper^Grace", generatedFile.Dataset.GetString(Hounsfield.Dicom.DicomTag.PatientName));
        var pixels = new byte[6];
        Assert.Equal(6, ((Hounsfield.Dicom.DicomValueElement)generatedFile.Dataset.Find(Hounsfield.Dicom.DicomTag.PixelData)!).Buffer.Read(0, pixels));
        Assert.Equal(new byte[] { 0, 50, 100, 150, 200, 250 }, pixels);
        var summary = await JsonAsync(await withKey.GetAsync("/api/developer/profiles/activity-summary/"));
        Assert.Equal(2, summary.GetProperty("monthly_total").GetInt64()); // the read and the generate above
        var today = Assert.Single(summary.GetProperty("daily_activity").EnumerateArray());
        Assert.Equal(DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), today.GetProperty("day").GetString());
        Assert.Equal(2, today.GetProperty("count").GetInt64());
        var lastYear = await JsonAsync(await user.GetAsync($"/api/developer/profiles/activity-summary/?year={DateTime.UtcNow.Year - 1}&month=1"));
        Assert.Equal(0, lastYear.GetProperty("monthly_total").GetInt64());
        Assert.Equal(HttpStatusCode.BadRequest, (await user.GetAsync("/api/developer/profiles/activity-summary/?month=13")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await user.DeleteAsync($"/api-keys/delete/{keyId}/")).StatusCode);
        var rejected = await withKey.GetAsync("/dicomweb/studies");
        Assert.Equal(HttpStatusCode.Unauthorized, rejected.StatusCode);
        Assert.Equal("API key has been revoked.", await DetailAsync(rejected));
        Assert.True(JsonDocument.Parse(await user.GetStringAsync("/api-keys/")).RootElement[0].GetProperty("revoked").GetBoolean());
        Assert.Equal(HttpStatusCode.NotFound, (await user.DeleteAsync("/api-keys/delete/999999/")).StatusCode);
    }

    [Fact]
    public async Task An_operator_sets_roles_and_quotas_with_the_users_command_and_the_running_server_applies_them_at_once()
    {
        var access = await AccountAsync(Server, "operated@example.com", Roles.None, developer: true);
        using var client = Server.ClientWith("Bearer", access);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/dicomweb/studies")).StatusCode);

        var role = CliRunner.Run("users", "role", "Operated@example.com", "readonly", "--data", Server.Data.FullName);
        var quota = CliRunner.Run("users", "quota", "operated@example.com", "5", "--data", Server.Data.FullName);

        Assert.Equal((0, "operated@example.com: role readonly"), (role.ExitCode, role.Stdout.Trim()));
        Assert.Equal(0, quota.ExitCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/dicomweb/studies")).StatusCode);
        Assert.Equal(5, (await JsonAsync(await client.GetAsync("/api/developer/profiles/"))).GetProperty("monthly_quota").GetInt32());
        Assert.Equal(0, CliRunner.Run("users", "quota", "operated@example.com", "default", "--data", Server.Data.FullName).ExitCode);
        Assert.Equal(1000, (await JsonAsync(await client.GetAsync("/api/developer/profiles/"))).GetProperty("monthly_quota").GetInt32());
        Assert.Equal(2, CliRunner.Run("users", "role", "operated@example.com", "root", "--data", Server.Data.FullName).ExitCode);
        Assert.Equal(1, CliRunner.Run("users", "role", "nobody@example.com", "user", "--data", Server.Data.FullName).ExitCode);
    }

    [Fact]
    public async Task The_openapi_document_lists_the_account_endpoints_at_their_documented_paths_with_both_schemes()
    {
        var document = JsonDocument.Parse(await Server.Anonymous.GetStringAsync("/api/openapi.json")).RootElement;
        var paths = document.GetProperty("paths");

        foreach (var path in new[] { "/api/auth/register/", "/api/token/", "/api/token/refresh/", "/api/token/logout/", "/api/developer/profiles/",
            "/api/developer/profiles/activity-summary/", "/api-keys/", "/api-keys/delete/{id}/", "/api/developer/auth/api-keys/", "/api/developer/auth/api-keys/delete/{id}/" })
        {
            Assert.True(paths.TryGetProperty(path, out _), path);
        }

        Assert.Equal(["ApiKey", "Bearer"], document.GetProperty("components").GetProperty("securitySchemes").EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(0, paths.GetProperty("/api/token/").GetProperty("post").GetProperty("security").GetArrayLength());
        Assert.False(paths.GetProperty("/api-keys/").GetProperty("get").TryGetProperty("security", out _)); // inherits the document's: Bearer or ApiKey
        Assert.Equal(2, document.GetProperty("security").GetArrayLength());
        Assert.Equal("ObtainToken", paths.GetProperty("/api/token/").GetProperty("post").GetProperty("operationId").GetString());
    }

    [Fact]
    public async Task A_key_cannot_be_deleted_by_another_account()
    {
        var owner = await AccountAsync(Server, "owner@example.com", Roles.None, developer: true);
        var other = await AccountAsync(Server, "other@example.com", Roles.None, developer: true);
        var (id, key) = await CreateKeyAsync(Server, owner, "mine");

        using var otherClient = Server.ClientWith("Bearer", other);
        Assert.Equal(HttpStatusCode.NotFound, (await otherClient.DeleteAsync($"/api/developer/auth/api-keys/delete/{id}/")).StatusCode);
        using var withKey = Server.ClientWith("ApiKey", key);
        Assert.Equal(HttpStatusCode.OK, (await withKey.GetAsync("/api/developer/profiles/")).StatusCode);
    }

    [Fact]
    public async Task Refresh_tokens_rotate_and_presenting_a_rotated_one_revokes_the_whole_sign_in()
    {
        await RegisterAsync(Server, "rotate@example.com");
        var first = (await TokenPairAsync(Server, "rotate@example.com")).GetProperty("refresh").GetString()!;

        var second = await Server.Anonymous.PostAsJsonAsync("/api/token/refresh/", new { refresh = first });
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var secondRefresh = (await JsonAsync(second)).GetProperty("refresh").GetString()!;
        Assert.NotEqual(first, secondRefresh);
        Assert.Equal(Claims(first)["fid"]!.GetValue<string>(), Claims(secondRefresh)["fid"]!.GetValue<string>());

        var reuse = await Server.Anonymous.PostAsJsonAsync("/api/token/refresh/", new { refresh = first });
        Assert.Equal(HttpStatusCode.Unauthorized, reuse.StatusCode);
        Assert.Contains("already been used", await DetailAsync(reuse), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Server.Anonymous.PostAsJsonAsync("/api/token/refresh/", new { refresh = secondRefresh })).StatusCode);

        var missing = await Server.Anonymous.PostAsync("/api/token/refresh/", null);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("Refresh token not found", await DetailAsync(missing));
        var garbage = await Server.Anonymous.PostAsJsonAsync("/api/token/refresh/", new { refresh = "not.a.token" });
        Assert.Equal("Invalid or expired JWT token", await DetailAsync(garbage));
        // An access token is not a refresh token, however valid.
        var access = (await TokenPairAsync(Server, "rotate@example.com")).GetProperty("access").GetString();
        Assert.Equal(HttpStatusCode.Unauthorized, (await Server.Anonymous.PostAsJsonAsync("/api/token/refresh/", new { refresh = access })).StatusCode);
    }

    [Fact]
    public async Task The_refresh_cookie_is_httponly_samesite_strict_and_is_used_before_the_body_and_logout_revokes_it()
    {
        await RegisterAsync(Server, "cookie@example.com");
        var cookies = new CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = Server.Anonymous.BaseAddress };

        var signIn = await browser.PostAsJsonAsync("/api/token/", new { email = "cookie@example.com", password = "password123" });
        var setCookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("refresh_token=", setCookie, StringComparison.Ordinal);
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/api/token/", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", setCookie, StringComparison.OrdinalIgnoreCase); // plain HTTP here; Secure when HTTPS
        Assert.Equal((await JsonAsync(signIn)).GetProperty("refresh").GetString(), cookies.GetCookies(new Uri(browser.BaseAddress!, "/api/token/"))["refresh_token"]!.Value);

        var viaCookie = await browser.PostAsJsonAsync("/api/token/refresh/", new { refresh = "ignored because the cookie comes first" });
        Assert.Equal(HttpStatusCode.OK, viaCookie.StatusCode);
        var current = (await JsonAsync(viaCookie)).GetProperty("refresh").GetString()!;
        Assert.Equal(current, cookies.GetCookies(new Uri(browser.BaseAddress!, "/api/token/"))["refresh_token"]!.Value);

        Assert.Equal(HttpStatusCode.NoContent, (await browser.PostAsync("/api/token/logout/", null)).StatusCode);
        Assert.Empty(cookies.GetCookies(new Uri(browser.BaseAddress!, "/api/token/")));
        var afterLogout = await Server.Anonymous.PostAsJsonAsync("/api/token/refresh/", new { refresh = current });
        Assert.Equal(HttpStatusCode.Unauthorized, afterLogout.StatusCode);
    }

    [Fact]
    public async Task Repeated_failed_sign_ins_are_throttled_per_account_and_address_with_429()
    {
        await RegisterAsync(Server, "throttle@example.com");
        await RegisterAsync(Server, "bystander@example.com");

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            statuses.Add((await Server.Anonymous.PostAsJsonAsync("/api/token/", new { email = "throttle@example.com", password = "wrong-password" })).StatusCode);
        }

        var locked = await Server.Anonymous.PostAsJsonAsync("/api/token/", new { email = "THROTTLE@example.com", password = "password123" });

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Unauthorized, s));
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        Assert.Contains("Too many failed sign-in attempts", await DetailAsync(locked), StringComparison.Ordinal);
        Assert.InRange(int.Parse(locked.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture), 1, 900);
        Assert.Equal(HttpStatusCode.OK, (await Server.Anonymous.PostAsJsonAsync("/api/token/", new { email = "bystander@example.com", password = "password123" })).StatusCode);
        var failures = await CountRowsAsync(Server, "SELECT COUNT(*) FROM login_failures WHERE email = 'throttle@example.com'");
        Assert.Equal(5, failures);
    }

    [Fact]
    public async Task Wrong_credentials_get_the_documented_401_whether_or_not_the_account_exists()
    {
        await RegisterAsync(Server, "known@example.com");

        var wrongPassword = await Server.Anonymous.PostAsJsonAsync("/api/token/", new { email = "known@example.com", password = "nope-nope" });
        var unknown = await Server.Anonymous.PostAsJsonAsync("/api/token/", new { email = "unknown@example.com", password = "nope-nope" });
        var missing = await Server.Anonymous.PostAsJsonAsync("/api/token/", new { });

        Assert.Equal(HttpStatusCode.Unauthorized, wrongPassword.StatusCode);
        Assert.Equal("No active account found with the given credentials", await DetailAsync(wrongPassword));
        Assert.Equal("No active account found with the given credentials", await DetailAsync(unknown));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Equal("This field is required.", (await JsonAsync(missing)).GetProperty("email")[0].GetString());
    }

    [Fact]
    public async Task Registration_errors_are_reported_per_field()
    {
        await RegisterAsync(Server, "taken@example.com");

        var invalid = await Server.Anonymous.PostAsJsonAsync("/api/auth/register/", new { email = "not-an-email", first_name = "", password = "short" });
        var duplicate = await Server.Anonymous.PostAsync("/api/auth/register/", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["email"] = "Taken@Example.com", ["first_name"] = "A", ["last_name"] = "B", ["password"] = "long-enough",
        }));
        var notJson = await Server.Anonymous.PostAsync("/api/auth/register/", new StringContent("{", Encoding.UTF8, "application/json"));
        var wrongType = await Server.Anonymous.PostAsJsonAsync("/api/auth/register/", new { email = new[] { "a@b.c" }, first_name = "A", last_name = "B", password = "long-enough" });
        var huge = await Server.Anonymous.PostAsync("/api/auth/register/", new StringContent(new string('x', 100_000), Encoding.UTF8, "application/json"));
        var badProfile = await Server.ClientWith("Bearer", await AccountAsync(Server, "profile@example.com", Roles.None, developer: false))
            .PostAsJsonAsync("/api/developer/profiles/", new { purpose = "fun", organization = new string('o', 300) });

        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var errors = await JsonAsync(invalid);
        Assert.Equal("Enter a valid email address.", errors.GetProperty("email")[0].GetString());
        Assert.Equal("This field may not be blank.", errors.GetProperty("first_name")[0].GetString());
        Assert.Equal("This field is required.", errors.GetProperty("last_name")[0].GetString());
        Assert.Equal("Ensure this field has at least 8 characters.", errors.GetProperty("password")[0].GetString());
        Assert.Equal(HttpStatusCode.BadRequest, duplicate.StatusCode);
        Assert.Equal("user with this email already exists.", (await JsonAsync(duplicate)).GetProperty("email")[0].GetString());
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        Assert.StartsWith("JSON parse error", await DetailAsync(notJson), StringComparison.Ordinal);
        Assert.Equal("Not a valid string.", (await JsonAsync(wrongType)).GetProperty("email")[0].GetString());
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        var profileErrors = await JsonAsync(badProfile);
        Assert.Equal("\"fun\" is not a valid choice.", profileErrors.GetProperty("purpose")[0].GetString());
        Assert.Equal("Ensure this field has no more than 255 characters.", profileErrors.GetProperty("organization")[0].GetString());
    }

    [Fact]
    public async Task Passwords_are_stored_only_as_salted_pbkdf2_hashes()
    {
        const string password = "Plain-Text-Canary-42";
        await RegisterAsync(Server, "canary1@example.com", password);
        await RegisterAsync(Server, "canary2@example.com", password);

        var store = new SqliteAccountStore(Server.DatabasePath);
        var first = (await store.FindCredentialsAsync("canary1@example.com", CancellationToken.None))!.PasswordHash;
        var second = (await store.FindCredentialsAsync("canary2@example.com", CancellationToken.None))!.PasswordHash;
        var canary = Encoding.UTF8.GetBytes(password);
        var files = Server.Data.EnumerateFiles("index.db*").ToList();

        Assert.Matches("^pbkdf2-sha256\\$600000\\$[A-Za-z0-9+/=]{24}\\$[A-Za-z0-9+/=]{44}$", first);
        Assert.NotEqual(first, second); // salted
        Assert.NotEmpty(files);
        Assert.All(files, f => Assert.Equal(-1, ReadShared(f).AsSpan().IndexOf(canary)));
        Assert.Equal(HttpStatusCode.OK, (await Server.Anonymous.PostAsJsonAsync("/api/token/", new { email = "canary1@example.com", password })).StatusCode);
    }

    [Fact]
    public async Task Tokens_are_standard_hs256_jwts_and_only_exact_ones_pass()
    {
        var key = SigningKeyOf(Server);
        var access = Server.AccessToken;
        var claims = Claims(access);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        Assert.Equal(Sign(key, claims), access); // our own HS256 signer, from the key file, reproduces the server's token
        Assert.Equal("hounsfield", claims["iss"]!.GetValue<string>());
        Assert.Equal("hounsfield", claims["aud"]!.GetValue<string>());

        async Task<HttpStatusCode> Status(string token)
        {
            using var client = Server.ClientWith("Bearer", token);
            return (await client.GetAsync("/dicomweb/studies")).StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await Status(Sign(key, JsonObjectWith(claims, ("jti", "fresh-id")))));
        Assert.Equal(HttpStatusCode.Unauthorized, await Status(Sign(key, JsonObjectWith(claims, ("exp", now - 3600)))));
        Assert.Equal(HttpStatusCode.Unauthorized, await Status(Sign(key, JsonObjectWith(claims, ("nbf", now + 3600)))));
        Assert.Equal(HttpStatusCode.Unauthorized, await Status(Sign(key, JsonObjectWith(claims, ("iss", "someone-else")))));
        Assert.Equal(HttpStatusCode.Unauthorized, await Status(Sign(key, JsonObjectWith(claims, ("aud", "someone-else")))));
        Assert.Equal(HttpStatusCode.Unauthorized, await Status(Sign(key, JsonObjectWith(claims, ("token_type", "refresh")))));
        Assert.Equal(HttpStatusCode.Unauthorized, await Status(Sign(key, claims, """{"alg":"HS512","typ":"JWT"}""")));
        Assert.Equal(HttpStatusCode.Unauthorized, await Status(Sign(RandomKey(), claims)));
        var parts = access.Split('.');
        Assert.Equal(HttpStatusCode.Unauthorized, await Status($"{System.Buffers.Text.Base64Url.EncodeToString("""{"alg":"none","typ":"JWT"}"""u8)}.{parts[1]}."));
        // A signature with one bit flipped (replacing its last characters instead matched the original about once in 1024 runs).
        var tampered = System.Buffers.Text.Base64Url.DecodeFromChars(parts[2]);
        tampered[0] ^= 1;
        Assert.Equal(HttpStatusCode.Unauthorized, await Status($"{parts[0]}.{parts[1]}.{System.Buffers.Text.Base64Url.EncodeToString(tampered)}"));
        Assert.Equal(HttpStatusCode.Unauthorized, await Status($"{parts[0]}.{parts[1]}"));
        Assert.Equal(HttpStatusCode.Unauthorized, await Status(new string('a', 10_000)));
    }

    [Fact]
    public async Task Unknown_authorization_schemes_and_malformed_keys_get_401_with_a_detail()
    {
        using var basic = Server.ClientWith("Basic", Convert.ToBase64String(Encoding.ASCII.GetBytes("a:b")));
        using var shortKey = Server.ClientWith("ApiKey", "abc.def");
        using var unknownKey = Server.ClientWith("ApiKey", "AAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB");

        var responses = new[] { await basic.GetAsync("/dicomweb/studies"), await shortKey.GetAsync("/dicomweb/studies"), await unknownKey.GetAsync("/dicomweb/studies") };

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        Assert.Contains("Unsupported authorization scheme", await DetailAsync(responses[0]), StringComparison.Ordinal);
        Assert.Equal("Invalid API key.", await DetailAsync(responses[1]));
        Assert.Equal("Invalid API key.", await DetailAsync(responses[2]));
        Assert.Contains("Bearer", responses[0].Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    private static System.Text.Json.Nodes.JsonObject JsonObjectWith(System.Text.Json.Nodes.JsonObject claims, params (string Name, object Value)[] changes)
    {
        var copy = System.Text.Json.Nodes.JsonNode.Parse(claims.ToJsonString())!.AsObject();
        foreach (var (name, value) in changes)
        {
            copy[name] = value switch
            {
                string text => System.Text.Json.Nodes.JsonValue.Create(text),
                long number => System.Text.Json.Nodes.JsonValue.Create(number),
                _ => throw new ArgumentException($"unexpected claim value {value}"),
            };
        }

        return copy;
    }

    private static byte[] RandomKey() => System.Security.Cryptography.RandomNumberGenerator.GetBytes(64);

    private static byte[] ReadShared(FileInfo file)
    {
        using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static async Task<long> CountRowsAsync(ServerProcess server, string sql)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={server.DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
