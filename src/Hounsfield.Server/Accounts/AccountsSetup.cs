using System.Security.Cryptography;
using Hounsfield.Server.Cli;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.OpenApi;

namespace Hounsfield.Server.Accounts;

/// <summary>Wires accounts into the server: services, the first admin, the middleware and the endpoints.</summary>
internal static class AccountsSetup
{
    public const string AdminEmailVariable = "HOUNSFIELD_ADMIN_EMAIL";
    public const string AdminPasswordVariable = "HOUNSFIELD_ADMIN_PASSWORD";
    public const string DefaultAdminEmail = "admin@localhost";

    public static void AddAccounts(this WebApplicationBuilder builder, string dataDirectory)
    {
        var options = builder.Configuration.Read<AccountOptions>("Auth");
        if (!Roles.All.Contains(options.RegistrationRole, StringComparer.Ordinal) || options.RegistrationRole == Roles.Admin)
        {
            throw new AccountSettingsException($"Auth:RegistrationRole must be one of none, readonly, user (not '{options.RegistrationRole}').");
        }

        var quota = builder.Configuration.Read<QuotaOptions>("Developer");
        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(quota);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IAccountStore>(_ => new SqliteAccountStore(Path.Combine(dataDirectory, "index.db")));
        services.AddSingleton(new PasswordHasher(options.PasswordIterations));
        services.AddSingleton(provider => new TokenService(options, SigningKey.Load(options, dataDirectory), provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton<QuotaMeter>();
        services.AddSingleton<IAuthorizationHandler, SignedInRequirement>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, AccountAuthorizationResultHandler>();

        services.Configure<OpenApiOptions>("v1", openApi =>
        {
            openApi.AddDocumentTransformer<AccountsOpenApi>();
            openApi.AddOperationTransformer<AccountsOpenApi>();
        });

        // The authentication core without AddAuthentication's data protection, which we would never use (no cookies or
        // antiforgery tokens) and which would create and keep a key ring at every start.
        services.AddAuthenticationCore(authentication => authentication.DefaultScheme = AccountAuthenticationHandler.SchemeName);
        services.AddWebEncoders();
        new AuthenticationBuilder(services)
            .AddScheme<AuthenticationSchemeOptions, AccountAuthenticationHandler>(AccountAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(AuthorizationPolicies.Read, policy => policy.RequireAuthenticatedUser().RequireRole(Roles.Admin, Roles.User, Roles.ReadOnly))
            .AddPolicy(AuthorizationPolicies.Write, policy => policy.RequireAuthenticatedUser().RequireRole(Roles.Admin, Roles.User))
            .AddPolicy(AuthorizationPolicies.Admin, policy => policy.RequireAuthenticatedUser().RequireRole(Roles.Admin))
            .AddPolicy(AuthorizationPolicies.Developer, policy => policy.RequireAuthenticatedUser().RequireClaim(AccountClaims.Developer, "true"))
            .AddPolicy(SignedInRequirement.Policy, policy => policy.RequireAuthenticatedUser().AddRequirements(new SignedInRequirement()))
            // Closed by default: an endpoint that names no policy (and is not explicitly anonymous) needs the Read policy.
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().RequireRole(Roles.Admin, Roles.User, Roles.ReadOnly).Build());
    }

    /// <summary>Creates the account tables and, when there is no account yet, the first admin.</summary>
    public static async Task InitializeAccountsAsync(this WebApplication app, CancellationToken cancellationToken)
    {
        var store = app.Services.GetRequiredService<IAccountStore>();
        await store.InitializeAsync(cancellationToken);
        _ = app.Services.GetRequiredService<TokenService>();
        if (await store.CountUsersAsync(cancellationToken) > 0)
        {
            return;
        }

        var email = AccountEndpoints.NormalizeEmail(Environment.GetEnvironmentVariable(AdminEmailVariable) is { Length: > 0 } configured ? configured : DefaultAdminEmail);
        if (!AccountEndpoints.IsValidEmail(email))
        {
            throw new AccountSettingsException($"{AdminEmailVariable} is not a valid email address.");
        }

        var password = Environment.GetEnvironmentVariable(AdminPasswordVariable);
        var generated = string.IsNullOrEmpty(password);
        if (generated)
        {
            password = RandomNumberGenerator.GetString("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", 20);
        }
        else if (password!.Length < 8)
        {
            throw new AccountSettingsException($"{AdminPasswordVariable} must be at least 8 characters long.");
        }

        var hash = app.Services.GetRequiredService<PasswordHasher>().Hash(password!);
        var id = await store.CreateUserAsync(new NewAccount(email, "Admin", string.Empty, hash, Roles.Admin),
            app.Services.GetRequiredService<TimeProvider>().GetUtcNow(), cancellationToken);
        if (id is null)
        {
            return; // another node sharing the database created it first
        }

        app.Logger.LogInformation("Created the first admin account {Email}", email);
        if (generated)
        {
            // Printed once, to stdout only: never through the logger, which may ship elsewhere.
            Console.Out.WriteLine($"Hounsfield first admin account: {email} password: {password}  (shown once; set {AdminPasswordVariable} to choose it)");
            Console.Out.Flush();
        }
    }

    /// <summary>Authentication, authorization, then the quota of metered endpoints; after this, endpoints run.</summary>
    public static void UseAccounts(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseMiddleware<QuotaMiddleware>();
    }

    public static void MapAccounts(this WebApplication app)
    {
        app.MapAccountEndpoints();
        app.MapDeveloperAccountEndpoints();
    }
}
