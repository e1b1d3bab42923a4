using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;

namespace Hounsfield.Server.Accounts;

/// <summary>Met only by a Bearer token from a sign-in, never by an API key: a leaked key must not mint keys or change the profile.</summary>
internal sealed class SignedInRequirement : AuthorizationHandler<SignedInRequirement>, IAuthorizationRequirement
{
    /// <summary>Policy name for the account's own settings: profile changes and API key management.</summary>
    public const string Policy = "signed-in";

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, SignedInRequirement requirement)
    {
        if (context.User.HasClaim(AccountClaims.Credential, "token"))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>Answers a forbidden request with 403 and a `detail` that says what is missing.</summary>
internal sealed class AccountAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    public const string NoPermission = "You do not have permission to perform this action.";

    private readonly AuthorizationMiddlewareResultHandler standard = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (!authorizeResult.Forbidden)
        {
            await standard.HandleAsync(next, context, policy, authorizeResult);
            return;
        }

        var failed = authorizeResult.AuthorizationFailure?.FailedRequirements.ToList() ?? [];
        var detail = failed.Any(r => r is SignedInRequirement)
            ? "API keys cannot manage the account, its developer profile or its keys; use a Bearer token from /api/token/."
            : failed.Any(r => r is ClaimsAuthorizationRequirement { ClaimType: AccountClaims.Developer })
                ? "A developer profile is required: create one with POST /api/developer/profiles/."
                : NoPermission;
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        await context.Response.WriteAsJsonAsync(new { detail }, context.RequestAborted);
    }
}
