using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hounsfield.Server.Accounts;

namespace Hounsfield.Server.Tests;

/// <summary>The account calls the tests repeat, over HTTP, and an HS256 signer of the test's own to forge tokens with the server's key.</summary>
internal static class AccountsTestClient
{
    public static async Task RegisterAsync(ServerProcess server, string email, string password = "password123", string firstName = "Ada")
    {
        var response = await server.Anonymous.PostAsJsonAsync("/api/auth/register/", new { email, first_name = firstName, last_name = "Lovelace", password });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }

    public static async Task<JsonElement> TokenPairAsync(ServerProcess server, string email, string password = "password123")
    {
        var response = await server.Anonymous.PostAsJsonAsync("/api/token/", new { email, password });
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await JsonAsync(response);
    }

    /// <summary>Registers an account, gives it a role (as an admin would, through the store on the server's database) and optionally a developer profile; returns its access token.</summary>
    public static async Task<string> AccountAsync(ServerProcess server, string email, string role, bool developer)
    {
        await RegisterAsync(server, email);
        if (role != Roles.None)
        {
            var store = new SqliteAccountStore(server.DatabasePath);
            var user = await store.FindUserByEmailAsync(email, CancellationToken.None);
            Assert.True(await store.SetRoleAsync(user!.Id, role, CancellationToken.None));
        }

        var access = (await TokenPairAsync(server, email)).GetProperty("access").GetString()!;
        if (developer)
        {
            using var client = server.ClientWith("Bearer", access);
            var profile = await client.PostAsJsonAsync("/api/developer/profiles/", new { purpose = "testing", organization = "Hounsfield tests" });
            Assert.Equal(HttpStatusCode.Created, profile.StatusCode);
        }

        return access;
    }

    /// <summary>Creates an API key with the given access token; returns (id, key).</summary>
    public static async Task<(long Id, string Key)> CreateKeyAsync(ServerProcess server, string access, string name)
    {
        using var client = server.ClientWith("Bearer", access);
        var response = await client.PostAsJsonAsync("/api-keys/", new { name });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var body = await JsonAsync(response);
        return (body.GetProperty("id").GetInt64(), body.GetProperty("key").GetString()!);
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    public static async Task<string> DetailAsync(HttpResponseMessage response) => (await JsonAsync(response)).GetProperty("detail").GetString()!;

    /// <summary>The key the server generated in its data folder.</summary>
    public static byte[] SigningKeyOf(ServerProcess server) =>
        Convert.FromBase64String(File.ReadAllText(Path.Combine(server.Data.FullName, "auth-signing.key")).Trim());

    public static JsonObject Claims(string token) => JsonNode.Parse(Base64Url.DecodeFromChars(token.Split('.')[1]))!.AsObject();

    /// <summary>A compact JWS (RFC 7515) with the given header and claims, HMAC-SHA256 over `header.payload`.</summary>
    public static string Sign(byte[] key, JsonObject claims, string header = """{"alg":"HS256","typ":"JWT"}""")
    {
        var input = $"{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header))}.{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(claims.ToJsonString()))}";
        return $"{input}.{Base64Url.EncodeToString(HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(input)))}";
    }
}
