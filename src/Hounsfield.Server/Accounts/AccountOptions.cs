using System.ComponentModel.DataAnnotations;

namespace Hounsfield.Server.Accounts;

/// <summary>Accounts and authentication: section "Auth" of the configuration (e.g. `HOUNSFIELD__Auth__AccessTokenLifetime=00:30:00`).</summary>
internal sealed class AccountOptions
{
    /// <summary>
    /// HMAC-SHA256 key that signs the JWTs, at least 32 bytes of UTF-8. Nodes sharing one database must share it.
    /// Default: none, and then a random key is generated on first start and kept in `&lt;data&gt;/auth-signing.key` (mode 600).
    /// </summary>
    public string? SigningKey { get; set; }

    /// <summary>The `iss` and `aud` claims written and required. Default "hounsfield".</summary>
    public string Issuer { get; set; } = "hounsfield";

    public string Audience { get; set; } = "hounsfield";

    /// <summary>Lifetime of access tokens. Default 15 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "3650.00:00:00")]
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Lifetime of refresh tokens (and of their cookie). Default 30 days.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "3650.00:00:00")]
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Tolerated clock difference between nodes when checking `exp` and `nbf`. Default 30 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>PBKDF2-HMAC-SHA256 iterations for new password hashes (stored hashes keep their own count). Default 600 000 (OWASP 2023).</summary>
    [Range(1000, int.MaxValue)]
    public int PasswordIterations { get; set; } = 600_000;

    /// <summary>Failed logins allowed per account and client address within <see cref="LoginThrottleWindow"/> before 429. Default 5.</summary>
    [Range(1, int.MaxValue)]
    public int MaxFailedLogins { get; set; } = 5;

    /// <summary>Window of the login throttle. Default 15 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "3650.00:00:00")]
    public TimeSpan LoginThrottleWindow { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Whether `POST /api/auth/register/` is open. Default true.</summary>
    public bool AllowRegistration { get; set; } = true;

    /// <summary>
    /// Role given to self-registered accounts: `none` (no archive access; developer profile and API keys only),
    /// `readonly` or `user`. Default `none`, so that signing up never opens patient data; an admin grants more.
    /// </summary>
    public string RegistrationRole { get; set; } = Roles.None;

    /// <summary>Largest JSON or form body the account endpoints read. Default 64 KiB.</summary>
    [Range(1024, int.MaxValue)]
    public int MaxRequestBodyLength { get; set; } = 64 * 1024;
}

/// <summary>Developer quota: the "Developer" section (shared with the developer services' own settings).</summary>
internal sealed class QuotaOptions
{
    /// <summary>Calls per developer, per metered endpoint, per calendar month (UTC); a profile may override it. Default 1000.</summary>
    [Range(0, int.MaxValue)]
    public int MonthlyQuota { get; set; } = 1000;
}

/// <summary>The roles of an account. admin ⊃ user (read/write) ⊃ readonly; `none` may only use its developer profile and keys.</summary>
internal static class Roles
{
    public const string Admin = "admin";
    public const string User = "user";
    public const string ReadOnly = "readonly";
    public const string None = "none";

    public static readonly string[] All = [Admin, User, ReadOnly, None];
}
