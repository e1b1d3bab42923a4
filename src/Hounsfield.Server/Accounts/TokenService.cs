// JSON Web Tokens (RFC 7519) as JWS compact serialisation (RFC 7515 §7.1) with HS256 (RFC 7518 §3.2) only.
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Hounsfield.Server.Accounts;

internal enum TokenKind
{
    Access,
    Refresh,
}

/// <summary>A token as issued: its compact form, its id (`jti`) and when it expires.</summary>
internal sealed record IssuedToken(string Value, string Id, DateTimeOffset ExpiresAt);

/// <summary>The claims of a token that passed every check.</summary>
internal sealed record ValidToken(long UserId, string Id, string? FamilyId, DateTimeOffset ExpiresAt);

/// <summary>Issues and validates the server's access and refresh tokens: HS256, `iss`/`aud`/`exp`/`nbf` checked, token type pinned.</summary>
internal sealed class TokenService
{
    /// <summary>Longer strings are refused before any parsing; our tokens are ~300 bytes.</summary>
    private const int MaxTokenLength = 4096;

    private static readonly string EncodedHeader = Base64Url.EncodeToString("""{"alg":"HS256","typ":"JWT"}"""u8);

    private readonly AccountOptions options;
    private readonly byte[] key;
    private readonly TimeProvider time;

    public TokenService(AccountOptions options, byte[] key, TimeProvider time)
    {
        if (key.Length < 32)
        {
            throw new ArgumentException("The token signing key must be at least 32 bytes.", nameof(key));
        }

        this.options = options;
        this.key = key;
        this.time = time;
    }

    public IssuedToken Issue(TokenKind kind, long userId, string? familyId = null)
    {
        var now = time.GetUtcNow();
        var expires = now + (kind == TokenKind.Access ? options.AccessTokenLifetime : options.RefreshTokenLifetime);
        var id = NewId();
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("token_type", TypeName(kind));
            json.WriteString("sub", userId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("jti", id);
            if (familyId is not null)
            {
                json.WriteString("fid", familyId);
            }

            json.WriteString("iss", options.Issuer);
            json.WriteString("aud", options.Audience);
            json.WriteNumber("iat", now.ToUnixTimeSeconds());
            json.WriteNumber("nbf", now.ToUnixTimeSeconds());
            json.WriteNumber("exp", expires.ToUnixTimeSeconds());
            json.WriteEndObject();
        }

        var signingInput = $"{EncodedHeader}.{Base64Url.EncodeToString(buffer.ToArray())}";
        return new IssuedToken($"{signingInput}.{Sign(signingInput)}", id, DateTimeOffset.FromUnixTimeSeconds(expires.ToUnixTimeSeconds()));
    }

    /// <summary>The token's claims if its header, signature, type, issuer, audience and validity period all check out; else null.</summary>
    public ValidToken? Validate(string token, TokenKind kind)
    {
        if (token.Length > MaxTokenLength)
        {
            return null;
        }

        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }

        try
        {
            // The signature first: nothing else of an unsigned token is looked at beyond the header.
            if (!HeaderIsHs256(Base64Url.DecodeFromChars(parts[0]))
                || !CryptographicOperations.FixedTimeEquals(Base64Url.DecodeFromChars(parts[2]), HmacSha256($"{parts[0]}.{parts[1]}")))
            {
                return null;
            }

            using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            var claims = payload.RootElement;
            if (claims.ValueKind != JsonValueKind.Object
                || StringClaim(claims, "token_type") != TypeName(kind)
                || StringClaim(claims, "iss") != options.Issuer
                || !AudienceMatches(claims)
                || !long.TryParse(StringClaim(claims, "sub"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var userId)
                || StringClaim(claims, "jti") is not { Length: > 0 } id
                || NumericClaim(claims, "exp") is not { } exp)
            {
                return null;
            }

            var now = time.GetUtcNow().ToUnixTimeSeconds();
            var skew = (long)options.ClockSkew.TotalSeconds;
            if (now >= exp + skew || (NumericClaim(claims, "nbf") is { } nbf && now + skew < nbf))
            {
                return null;
            }

            return new ValidToken(userId, id, StringClaim(claims, "fid"), DateTimeOffset.FromUnixTimeSeconds(exp));
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return null;
        }
    }

    public static string NewId() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));

    private static string TypeName(TokenKind kind) => kind == TokenKind.Access ? "access" : "refresh";

    private static bool HeaderIsHs256(byte[] header)
    {
        using var document = JsonDocument.Parse(header);
        var root = document.RootElement;
        return root.ValueKind == JsonValueKind.Object
            && StringClaim(root, "alg") == "HS256"
            && (!root.TryGetProperty("typ", out var typ) || typ.ValueKind == JsonValueKind.String && typ.GetString() == "JWT")
            && !root.TryGetProperty("crit", out _);
    }

    private bool AudienceMatches(JsonElement claims)
    {
        if (!claims.TryGetProperty("aud", out var aud))
        {
            return false;
        }

        return aud.ValueKind switch
        {
            JsonValueKind.String => aud.GetString() == options.Audience,
            JsonValueKind.Array => aud.EnumerateArray().Any(a => a.ValueKind == JsonValueKind.String && a.GetString() == options.Audience),
            _ => false,
        };
    }

    private static string? StringClaim(JsonElement claims, string name) =>
        claims.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static long? NumericClaim(JsonElement claims, string name) =>
        claims.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) ? number : null;

    private string Sign(string signingInput) => Base64Url.EncodeToString(HmacSha256(signingInput));

    private byte[] HmacSha256(string signingInput) => HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(signingInput));
}
