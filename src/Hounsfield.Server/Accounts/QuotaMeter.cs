using Hounsfield.Server.Developer;

namespace Hounsfield.Server.Accounts;

/// <summary>The monthly quota of the metered developer services: per developer, per metered path, per calendar month (UTC).</summary>
internal sealed class QuotaMeter(IAccountStore store, QuotaOptions options, TimeProvider time)
{
    /// <summary>Counts the call if the quota allows it; the decision and the count are one atomic step in the database.</summary>
    public Task<QuotaDecision> TryConsumeAsync(long userId, string path, CancellationToken cancellationToken) =>
        store.TryConsumeAsync(userId, path, options.MonthlyQuota, time.GetUtcNow(), cancellationToken);
}

/// <summary>
/// Meters every endpoint that carries <see cref="MeteredEndpoint"/>: after authorization, before the endpoint runs, so a
/// refused call does no work. Runs for any such endpoint, however it was mapped; a metered endpoint reached without a
/// developer account (a missing policy) is refused rather than served unmetered.
/// </summary>
internal sealed class QuotaMiddleware(RequestDelegate next, QuotaMeter meter)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var metered = context.GetEndpoint()?.Metadata.GetMetadata<MeteredEndpoint>();
        if (metered is null)
        {
            await next(context);
            return;
        }

        if (AccountClaims.UserId(context.User) is not { } userId || !context.User.HasClaim(AccountClaims.Developer, "true"))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsJsonAsync(new { detail = "A developer profile is required: create one with POST /api/developer/profiles/." }, context.RequestAborted);
            return;
        }

        var decision = await meter.TryConsumeAsync(userId, metered.Path, context.RequestAborted);
        if (!decision.Allowed)
        {
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            await context.Response.WriteAsJsonAsync(new QuotaExceeded($"Monthly API request for '{metered.Path}' limit exceeded.", decision.Quota, decision.RequestsUsed),
                context.RequestAborted);
            return;
        }

        await next(context);
    }
}

internal sealed record QuotaExceeded(
    [property: System.Text.Json.Serialization.JsonPropertyName("error")] string Error,
    [property: System.Text.Json.Serialization.JsonPropertyName("quota")] int Quota,
    [property: System.Text.Json.Serialization.JsonPropertyName("requests_used")] long RequestsUsed);
