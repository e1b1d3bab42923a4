// The DICOMaestro developer API: developer profile, activity summary and API keys (with the original's alias paths).
using System.Globalization;
using System.Security.Claims;
using System.Text.Json.Serialization;

namespace Hounsfield.Server.Accounts;

internal sealed record ProfileRequest([property: JsonPropertyName("purpose")] string? Purpose, [property: JsonPropertyName("organization")] string? Organization);

internal sealed record ProfileResponse(
    [property: JsonPropertyName("purpose")] string? Purpose,
    [property: JsonPropertyName("organization")] string? Organization,
    [property: JsonPropertyName("monthly_quota")] int MonthlyQuota);

internal sealed record DayCount([property: JsonPropertyName("day")] string Day, [property: JsonPropertyName("count")] long Count);

internal sealed record ActivitySummary(
    [property: JsonPropertyName("daily_activity")] IReadOnlyList<DayCount> DailyActivity,
    [property: JsonPropertyName("monthly_total")] long MonthlyTotal);

internal sealed record ApiKeyRequest([property: JsonPropertyName("name")] string? Name);

internal sealed record CreatedApiKey(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("prefix")] string Prefix,
    [property: JsonPropertyName("created")] DateTimeOffset Created);

internal sealed record ApiKeyListItem(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("prefix")] string Prefix,
    [property: JsonPropertyName("created")] DateTimeOffset Created,
    [property: JsonPropertyName("last_used")] DateTimeOffset? LastUsed,
    [property: JsonPropertyName("revoked")] bool Revoked);

internal static class DeveloperAccountEndpoints
{
    public static readonly string[] Purposes = ["testing", "research", "education", "commercial", "other"];

    private const int MaxOrganizationLength = 255;
    private const int MaxKeyNameLength = 100;

    public static void MapDeveloperAccountEndpoints(this IEndpointRouteBuilder app)
    {
        var profiles = app.MapGroup("/api/developer/profiles").WithTags("Developer profile").DisableAntiforgery();
        profiles.MapGet("/", GetProfileAsync).RequireAuthorization()
            .WithName("GetDeveloperProfile").WithSummary("The caller's developer profile (404 when none)")
            .Produces<ProfileResponse>().Produces<DetailResponse>(StatusCodes.Status404NotFound);
        profiles.MapPost("/", SaveProfileAsync).RequireAuthorization(SignedInRequirement.Policy)
            .WithName("SaveDeveloperProfile").WithSummary("Create or update the caller's developer profile; it makes the account a developer")
            .Accepts<ProfileRequest>("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
            .Produces<ProfileResponse>(StatusCodes.Status201Created).Produces<Dictionary<string, string[]>>(StatusCodes.Status400BadRequest);
        profiles.MapGet("/activity-summary/", ActivitySummaryAsync).RequireAuthorization(AuthorizationPolicies.Developer)
            .WithName("DeveloperActivitySummary").WithSummary("Metered calls per day of a month (UTC): ?year=&month=, default the current month")
            .Produces<ActivitySummary>().Produces<Dictionary<string, string[]>>(StatusCodes.Status400BadRequest);

        foreach (var (prefix, suffix) in new[] { ("/api-keys", string.Empty), ("/api/developer/auth/api-keys", "Alias") })
        {
            var keys = app.MapGroup(prefix).WithTags("API keys").DisableAntiforgery().RequireAuthorization(SignedInRequirement.Policy);
            keys.MapGet("/", ListKeysAsync)
                .WithName($"ListApiKeys{suffix}").WithSummary("The caller's API keys: never the secret nor its hash")
                .Produces<ApiKeyListItem[]>();
            keys.MapPost("/", CreateKeyAsync).RequireAuthorization(AuthorizationPolicies.Developer)
                .WithName($"CreateApiKey{suffix}").WithSummary("A new API key `<prefix>.<secret>`, shown this once only")
                .Accepts<ApiKeyRequest>("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
                .Produces<CreatedApiKey>(StatusCodes.Status201Created);
            keys.MapDelete("/delete/{id}/", DeleteKeyAsync)
                .WithName($"DeleteApiKey{suffix}").WithSummary("Revoke one of the caller's API keys")
                .Produces(StatusCodes.Status204NoContent).Produces<DetailResponse>(StatusCodes.Status404NotFound);
        }
    }

    private static async Task<IResult> GetProfileAsync(ClaimsPrincipal user, IAccountStore store, QuotaOptions quota, CancellationToken cancellationToken)
    {
        var profile = await store.GetProfileAsync(AccountClaims.UserId(user)!.Value, cancellationToken);
        return profile is null
            ? RequestFields.Detail(StatusCodes.Status404NotFound, "Developer profile does not exist.")
            : Results.Json(Response(profile, quota));
    }

    private static async Task<IResult> SaveProfileAsync(HttpRequest request, ClaimsPrincipal user, IAccountStore store, AccountOptions options,
        QuotaOptions quota, TimeProvider time, CancellationToken cancellationToken)
    {
        var (fields, problem) = await RequestFields.ReadAsync(request, options.MaxRequestBodyLength, cancellationToken);
        if (fields is null)
        {
            return problem!;
        }

        var purpose = fields.Text("purpose", required: false, 50, allowBlank: true);
        var organization = fields.Text("organization", required: false, MaxOrganizationLength, allowBlank: true);
        if (purpose is not null && !Purposes.Contains(purpose, StringComparer.Ordinal))
        {
            fields.AddError("purpose", $"\"{purpose}\" is not a valid choice.");
        }

        if (fields.HasErrors)
        {
            return fields.ValidationProblem();
        }

        var profile = await store.SaveProfileAsync(AccountClaims.UserId(user)!.Value, purpose, organization, time.GetUtcNow(), cancellationToken);
        return Results.Json(Response(profile, quota), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ActivitySummaryAsync(HttpRequest request, ClaimsPrincipal user, IAccountStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        // `timestamp__year`/`timestamp__month` are the original implementation's parameter names.
        var year = IntegerParameter(request, errors, "year", "timestamp__year", 1, 9999) ?? now.Year;
        var month = IntegerParameter(request, errors, "month", "timestamp__month", 1, 12) ?? now.Month;
        if (errors.Count > 0)
        {
            return Results.Json(errors, statusCode: StatusCodes.Status400BadRequest);
        }

        var days = await store.GetDailyActivityAsync(AccountClaims.UserId(user)!.Value, year, month, cancellationToken);
        return Results.Json(new ActivitySummary([.. days.Select(d => new DayCount(d.Day, d.Count))], days.Sum(d => d.Count)));
    }

    private static async Task<IResult> ListKeysAsync(ClaimsPrincipal user, IAccountStore store, CancellationToken cancellationToken)
    {
        var keys = await store.ListApiKeysAsync(AccountClaims.UserId(user)!.Value, cancellationToken);
        return Results.Json(keys.Select(k => new ApiKeyListItem(k.Id, k.Name, k.Prefix, k.CreatedAt, k.LastUsedAt, k.RevokedAt is not null)).ToArray());
    }

    private static async Task<IResult> CreateKeyAsync(HttpRequest request, ClaimsPrincipal user, IAccountStore store, AccountOptions options,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var (fields, problem) = await RequestFields.ReadAsync(request, options.MaxRequestBodyLength, cancellationToken);
        if (fields is null)
        {
            return problem!;
        }

        var userId = AccountClaims.UserId(user)!.Value;
        var name = fields.Text("name", required: false, MaxKeyNameLength, allowBlank: true);
        if (fields.HasErrors)
        {
            return fields.ValidationProblem();
        }

        if (name is null)
        {
            var account = await store.FindUserAsync(userId, cancellationToken);
            name = $"{account!.FirstName}-developer-key";
        }

        var salt = ApiKeySecret.NewSalt();
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var (prefix, secret) = ApiKeySecret.Generate();
            var now = time.GetUtcNow();
            if (await store.CreateApiKeyAsync(userId, name, prefix, salt, ApiKeySecret.Hash(secret, salt), now, cancellationToken) is { } id)
            {
                return Results.Json(new CreatedApiKey(id, name, $"{prefix}.{secret}", prefix, DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds())),
                    statusCode: StatusCodes.Status201Created);
            }
        }

        throw new InvalidOperationException("Could not find a free API key prefix in 5 attempts.");
    }

    private static async Task<IResult> DeleteKeyAsync(string id, ClaimsPrincipal user, IAccountStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        return long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var keyId)
            && await store.RevokeApiKeyAsync(AccountClaims.UserId(user)!.Value, keyId, time.GetUtcNow(), cancellationToken)
            ? Results.NoContent()
            : RequestFields.Detail(StatusCodes.Status404NotFound, "Not found.");
    }

    private static ProfileResponse Response(DeveloperProfile profile, QuotaOptions quota) =>
        new(profile.Purpose, profile.Organization, profile.MonthlyQuota ?? quota.MonthlyQuota);

    private static int? IntegerParameter(HttpRequest request, Dictionary<string, string[]> errors, string name, string alias, int min, int max)
    {
        var key = request.Query.ContainsKey(name) ? name : request.Query.ContainsKey(alias) ? alias : null;
        if (key is null)
        {
            return null;
        }

        if (int.TryParse(request.Query[key].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        errors[key] = [$"Enter a whole number between {min} and {max}."];
        return null;
    }
}
