// Accounts and tokens: the DICOMaestro developer API's register, token, refresh (with rotation and revocation, which the
// original lacked) and logout. JWTs per RFC 7519; the refresh cookie per RFC 6265bis (HttpOnly, SameSite=Strict).
using System.Net.Mail;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;

namespace Hounsfield.Server.Accounts;

internal sealed record RegisterRequest(
    [property: JsonPropertyName("email")] string Email,
    [property: JsonPropertyName("first_name")] string FirstName,
    [property: JsonPropertyName("last_name")] string LastName,
    [property: JsonPropertyName("password")] string Password);

internal sealed record TokenRequest([property: JsonPropertyName("email")] string Email, [property: JsonPropertyName("password")] string Password);

internal sealed record RefreshRequest([property: JsonPropertyName("refresh")] string? Refresh);

internal sealed record TokenPair([property: JsonPropertyName("refresh")] string Refresh, [property: JsonPropertyName("access")] string Access);

internal sealed record MessageResponse([property: JsonPropertyName("message")] string Message);

internal sealed record DetailResponse([property: JsonPropertyName("detail")] string Detail);

internal static class AccountEndpoints
{
    public const string RefreshCookie = "refresh_token";

    private const string RefreshCookiePath = "/api/token/";
    private const string BadCredentials = "No active account found with the given credentials";
    private const string InvalidRefresh = "Invalid or expired JWT token";
    private const int MaxNameLength = 150;
    private const int MaxEmailLength = 254;
    private const int MinPasswordLength = 8;
    private const int MaxPasswordLength = 1024;

    public static void MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(string.Empty).WithTags("Accounts").AllowAnonymous().DisableAntiforgery();
        group.MapPost("/api/auth/register/", RegisterAsync)
            .WithName("Register").WithSummary("Create an account (email, first_name, last_name, password of at least 8 characters)")
            .Accepts<RegisterRequest>("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
            .Produces<MessageResponse>(StatusCodes.Status201Created).Produces<Dictionary<string, string[]>>(StatusCodes.Status400BadRequest);
        group.MapPost("/api/token/", ObtainTokenAsync)
            .WithName("ObtainToken").WithSummary("Sign in: an access and a refresh token (the refresh token is also set as an HttpOnly cookie)")
            .Accepts<TokenRequest>("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
            .Produces<TokenPair>().Produces<DetailResponse>(StatusCodes.Status401Unauthorized).Produces<DetailResponse>(StatusCodes.Status429TooManyRequests);
        group.MapPost("/api/token/refresh/", RefreshAsync)
            .WithName("RefreshToken").WithSummary("A new access token for the refresh token in the cookie (else the body); the refresh token rotates")
            .Accepts<RefreshRequest>("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
            .Produces<TokenPair>().Produces<DetailResponse>(StatusCodes.Status401Unauthorized);
        group.MapPost("/api/token/logout/", LogoutAsync)
            .WithName("Logout").WithSummary("Revoke the refresh token (cookie, else body) and every token rotated from the same sign-in")
            .Accepts<RefreshRequest>("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
            .Produces(StatusCodes.Status204NoContent).Produces<DetailResponse>(StatusCodes.Status401Unauthorized);
    }

    /// <summary>Emails are case-insensitive for sign-in and uniqueness.</summary>
    public static string NormalizeEmail(string email) => email.Trim().ToLowerInvariant();

    public static bool IsValidEmail(string email)
    {
        if (email.Length > MaxEmailLength || email.Any(char.IsWhiteSpace) || email.Count(c => c == '@') != 1)
        {
            return false;
        }

        var at = email.IndexOf('@', StringComparison.Ordinal);
        var domain = email[(at + 1)..];
        return at > 0 && (domain.Contains('.', StringComparison.Ordinal) || domain == "localhost")
            && !domain.StartsWith('.') && !domain.EndsWith('.') && MailAddress.TryCreate(email, out var parsed) && parsed.Address == email;
    }

    private static async Task<IResult> RegisterAsync(HttpRequest request, IAccountStore store, PasswordHasher hasher, AccountOptions options,
        TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (!options.AllowRegistration)
        {
            return RequestFields.Detail(StatusCodes.Status403Forbidden, "Registration is disabled on this server.");
        }

        var (fields, problem) = await RequestFields.ReadAsync(request, options.MaxRequestBodyLength, cancellationToken);
        if (fields is null)
        {
            return problem!;
        }

        var email = fields.Text("email", required: true, MaxEmailLength);
        var firstName = fields.Text("first_name", required: true, MaxNameLength);
        var lastName = fields.Text("last_name", required: true, MaxNameLength);
        var password = fields.Password("password", MinPasswordLength, MaxPasswordLength);
        if (email is { Length: > 0 } && !fields.Errors.ContainsKey("email") && !IsValidEmail(NormalizeEmail(email)))
        {
            fields.AddError("email", "Enter a valid email address.");
        }

        if (fields.HasErrors)
        {
            return fields.ValidationProblem();
        }

        var normalized = NormalizeEmail(email!);
        var id = await store.CreateUserAsync(new NewAccount(normalized, firstName!, lastName!, hasher.Hash(password!), options.RegistrationRole),
            time.GetUtcNow(), cancellationToken);
        if (id is null)
        {
            fields.AddError("email", "user with this email already exists.");
            return fields.ValidationProblem();
        }

        loggers.CreateLogger(typeof(AccountEndpoints)).LogInformation("Registered account {UserId} with role {Role}", id, options.RegistrationRole);
        return Results.Json(new MessageResponse("User registered successfully!"), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ObtainTokenAsync(HttpContext context, IAccountStore store, PasswordHasher hasher, TokenService tokens,
        AccountOptions options, TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (fields, problem) = await RequestFields.ReadAsync(context.Request, options.MaxRequestBodyLength, cancellationToken);
        if (fields is null)
        {
            return problem!;
        }

        var email = fields.Text("email", required: true, MaxEmailLength);
        var password = fields.Password("password", 0, MaxPasswordLength);
        if (fields.HasErrors)
        {
            return fields.ValidationProblem();
        }

        var normalized = NormalizeEmail(email!);
        var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var throttle = await store.BeginLoginAttemptAsync(normalized, address, options.MaxFailedLogins, options.LoginThrottleWindow, time.GetUtcNow(), cancellationToken);
        if (!throttle.Allowed)
        {
            var seconds = (long)Math.Ceiling(throttle.RetryAfter.TotalSeconds);
            loggers.CreateLogger(typeof(AccountEndpoints)).LogWarning("Sign-in throttled for {Address} after {MaxFailedLogins} failures", address, options.MaxFailedLogins);
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return RequestFields.Detail(StatusCodes.Status429TooManyRequests, $"Too many failed sign-in attempts. Try again in {seconds} seconds.");
        }

        var credentials = await store.FindCredentialsAsync(normalized, cancellationToken);
        var valid = credentials is null ? hasher.VerifyNothing(password!) : hasher.Verify(password!, credentials.PasswordHash);
        if (!valid || credentials is not { IsActive: true })
        {
            return RequestFields.Detail(StatusCodes.Status401Unauthorized, BadCredentials);
        }

        await store.ClearLoginFailuresAsync(normalized, address, cancellationToken);
        var family = TokenService.NewId();
        var refresh = tokens.Issue(TokenKind.Refresh, credentials.UserId, family);
        await store.AddRefreshTokenAsync(refresh.Id, family, credentials.UserId, refresh.ExpiresAt, time.GetUtcNow(), cancellationToken);
        return IssuePair(context, options, tokens, credentials.UserId, refresh);
    }

    private static async Task<IResult> RefreshAsync(HttpContext context, IAccountStore store, TokenService tokens, AccountOptions options,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var (presented, problem) = await PresentedRefreshTokenAsync(context, options, cancellationToken);
        if (presented is null)
        {
            return problem!;
        }

        var token = tokens.Validate(presented, TokenKind.Refresh);
        if (token?.FamilyId is null)
        {
            return RequestFields.Detail(StatusCodes.Status401Unauthorized, InvalidRefresh);
        }

        var user = await store.FindUserAsync(token.UserId, cancellationToken);
        if (user is not { IsActive: true })
        {
            return RequestFields.Detail(StatusCodes.Status401Unauthorized, InvalidRefresh);
        }

        var successor = tokens.Issue(TokenKind.Refresh, user.Id, token.FamilyId);
        switch (await store.RotateRefreshTokenAsync(token.Id, user.Id, successor.Id, successor.ExpiresAt, time.GetUtcNow(), cancellationToken))
        {
            case RefreshOutcome.Rotated:
                return IssuePair(context, options, tokens, user.Id, successor);
            case RefreshOutcome.Reused:
                context.Response.Cookies.Delete(RefreshCookie, new CookieOptions { Path = RefreshCookiePath });
                return RequestFields.Detail(StatusCodes.Status401Unauthorized,
                    "This refresh token has already been used; every token of this sign-in is now revoked. Sign in again.");
            default:
                return RequestFields.Detail(StatusCodes.Status401Unauthorized, InvalidRefresh);
        }
    }

    private static async Task<IResult> LogoutAsync(HttpContext context, IAccountStore store, TokenService tokens, AccountOptions options,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var (presented, problem) = await PresentedRefreshTokenAsync(context, options, cancellationToken);
        if (presented is null)
        {
            return problem!;
        }

        var token = tokens.Validate(presented, TokenKind.Refresh);
        if (token is null)
        {
            return RequestFields.Detail(StatusCodes.Status401Unauthorized, InvalidRefresh);
        }

        await store.RevokeRefreshFamilyAsync(token.Id, time.GetUtcNow(), cancellationToken);
        context.Response.Cookies.Delete(RefreshCookie, new CookieOptions { Path = RefreshCookiePath });
        return Results.NoContent();
    }

    /// <summary>The refresh token from the cookie first, else from the body's `refresh`.</summary>
    private static async Task<(string? Token, IResult? Problem)> PresentedRefreshTokenAsync(HttpContext context, AccountOptions options, CancellationToken cancellationToken)
    {
        if (context.Request.Cookies.TryGetValue(RefreshCookie, out var cookie) && !string.IsNullOrEmpty(cookie))
        {
            return (cookie, null);
        }

        var (fields, problem) = await RequestFields.ReadAsync(context.Request, options.MaxRequestBodyLength, cancellationToken);
        if (fields is null)
        {
            return (null, problem);
        }

        var body = fields.Text("refresh", required: false, 4096);
        return string.IsNullOrEmpty(body)
            ? (null, RequestFields.Detail(StatusCodes.Status401Unauthorized, "Refresh token not found"))
            : (body, null);
    }

    private static IResult IssuePair(HttpContext context, AccountOptions options, TokenService tokens, long userId, IssuedToken refresh)
    {
        var access = tokens.Issue(TokenKind.Access, userId);
        context.Response.Cookies.Append(RefreshCookie, refresh.Value, new CookieOptions
        {
            HttpOnly = true,
            Secure = context.Request.IsHttps,
            SameSite = SameSiteMode.Strict,
            Path = RefreshCookiePath,
            MaxAge = options.RefreshTokenLifetime,
        });
        context.Response.Headers.CacheControl = "no-store";
        return Results.Json(new TokenPair(refresh.Value, access.Value));
    }
}
