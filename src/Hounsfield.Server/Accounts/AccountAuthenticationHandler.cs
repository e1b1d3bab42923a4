using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Hounsfield.Server.Accounts;

/// <summary>The claims the authentication handler puts on a request's user.</summary>
internal static class AccountClaims
{
    public const string Developer = "hounsfield:developer";

    /// <summary>"token" for a Bearer access token, "apikey" for an API key.</summary>
    public const string Credential = "hounsfield:credential";

    public const string ApiKeyId = "hounsfield:api_key_id";

    public static long? UserId(ClaimsPrincipal user) =>
        user.Identity?.IsAuthenticated == true
        && long.TryParse(user.FindFirstValue(ClaimTypes.NameIdentifier), NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            ? id
            : null;
}

/// <summary>
/// One scheme for both credentials of the API: `Authorization: Bearer &lt;access JWT&gt;` and `Authorization: ApiKey &lt;prefix&gt;.&lt;secret&gt;`.
/// The account is read from the database on every request, so a role change, a new developer profile, a disabled account
/// or a revoked key takes effect at once on every node. Failures answer 401 with a `detail` naming the problem.
/// </summary>
internal sealed class AccountAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IAccountStore store,
    TokenService tokens,
    TimeProvider time)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Hounsfield";

    public const string NotProvided = "Authentication credentials were not provided.";

    /// <summary>How stale `last_used` of a key may get before a request writes it again (one write a minute, not one per request).</summary>
    private static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var headers = Request.Headers.Authorization;
        if (headers.Count == 0 || string.IsNullOrWhiteSpace(headers[0]))
        {
            return AuthenticateResult.NoResult();
        }

        if (headers.Count > 1)
        {
            return AuthenticateResult.Fail("Only one Authorization header is allowed.");
        }

        var header = headers[0]!.Trim();
        var space = header.IndexOf(' ', StringComparison.Ordinal);
        var scheme = space < 0 ? header : header[..space];
        var credential = space < 0 ? string.Empty : header[(space + 1)..].Trim();
        if (scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            return await AuthenticateTokenAsync(credential);
        }

        if (scheme.Equals("ApiKey", StringComparison.OrdinalIgnoreCase))
        {
            return await AuthenticateApiKeyAsync(credential);
        }

        return AuthenticateResult.Fail("Unsupported authorization scheme: use 'Bearer <token>' or 'ApiKey <key>'.");
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer realm=\"hounsfield\", ApiKey realm=\"hounsfield\"";
        await Response.WriteAsJsonAsync(new { detail = result.Failure?.Message ?? NotProvided }, Context.RequestAborted);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await Response.WriteAsJsonAsync(new { detail = AccountAuthorizationResultHandler.NoPermission }, Context.RequestAborted);
    }

    private async Task<AuthenticateResult> AuthenticateTokenAsync(string credential)
    {
        var token = tokens.Validate(credential, TokenKind.Access);
        if (token is null)
        {
            return AuthenticateResult.Fail("Token is invalid or expired.");
        }

        var user = await store.FindUserAsync(token.UserId, Context.RequestAborted);
        return user is { IsActive: true }
            ? Success(user, "token", null)
            : AuthenticateResult.Fail("User not found or inactive.");
    }

    private async Task<AuthenticateResult> AuthenticateApiKeyAsync(string credential)
    {
        if (!ApiKeySecret.TryParse(credential, out var prefix, out var secret))
        {
            return AuthenticateResult.Fail("Invalid API key.");
        }

        var key = await store.FindApiKeyAsync(prefix, Context.RequestAborted);
        if (key is null || !ApiKeySecret.Matches(secret, key.Salt, key.Hash))
        {
            return AuthenticateResult.Fail("Invalid API key.");
        }

        if (key.Revoked)
        {
            return AuthenticateResult.Fail("API key has been revoked.");
        }

        var user = await store.FindUserAsync(key.UserId, Context.RequestAborted);
        if (user is not { IsActive: true })
        {
            return AuthenticateResult.Fail("User not found or inactive.");
        }

        var now = time.GetUtcNow();
        if (key.LastUsedAt is null || now - key.LastUsedAt >= LastUsedResolution)
        {
            await store.TouchApiKeyAsync(key.Id, now, Context.RequestAborted);
        }

        return Success(user, "apikey", key.Id);
    }

    private AuthenticateResult Success(AccountUser user, string credential, long? apiKeyId)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, user.Id.ToString(CultureInfo.InvariantCulture)),
            new(ClaimTypes.Email, user.Email),
            new(ClaimTypes.Role, user.Role),
            new(AccountClaims.Credential, credential),
        };
        if (user.IsDeveloper)
        {
            claims.Add(new Claim(AccountClaims.Developer, "true"));
        }

        if (apiKeyId is { } id)
        {
            claims.Add(new Claim(AccountClaims.ApiKeyId, id.ToString(CultureInfo.InvariantCulture)));
        }

        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName, ClaimTypes.Email, ClaimTypes.Role));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }
}
