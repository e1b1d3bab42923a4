namespace Hounsfield.Server.Accounts;

/// <summary>An account as the authorization layer sees it: its role, and whether it has a developer profile.</summary>
internal sealed record AccountUser(long Id, string Email, string FirstName, string LastName, string Role, bool IsActive, bool IsDeveloper);

internal sealed record NewAccount(string Email, string FirstName, string LastName, string PasswordHash, string Role);

internal sealed record StoredCredentials(long UserId, string PasswordHash, bool IsActive);

internal sealed record DeveloperProfile(long UserId, string? Purpose, string? Organization, int? MonthlyQuota, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>What the owner may see of a key: never its secret nor its hash.</summary>
internal sealed record ApiKeyInfo(long Id, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt);

/// <summary>What authentication needs of a key: its salted hash, and the owner.</summary>
internal sealed record ApiKeyCredential(long Id, long UserId, byte[] Salt, byte[] Hash, DateTimeOffset? LastUsedAt, bool Revoked);

/// <summary>The outcome of counting one metered call: <see cref="RequestsUsed"/> includes this call, refused or not.</summary>
internal sealed record QuotaDecision(bool Allowed, int Quota, long RequestsUsed);

internal sealed record DailyActivity(string Day, long Count);

internal sealed record LoginThrottle(bool Allowed, TimeSpan RetryAfter);

internal enum RefreshOutcome
{
    /// <summary>The presented token was live; it is now revoked and its successor stored.</summary>
    Rotated,

    /// <summary>The presented token had already been rotated or revoked: its whole family is now revoked.</summary>
    Reused,

    /// <summary>No such token is known (or it has expired).</summary>
    Unknown,
}

/// <summary>
/// Accounts, refresh tokens, developer profiles, API keys, usage counters and login failures, all in the database
/// so that several nodes sharing it behave as one. Emails are compared as given (callers normalise them).
/// </summary>
internal interface IAccountStore
{
    Task InitializeAsync(CancellationToken cancellationToken);

    Task<long> CountUsersAsync(CancellationToken cancellationToken);

    /// <summary>The new account's id, or null when the email is taken.</summary>
    Task<long?> CreateUserAsync(NewAccount account, DateTimeOffset now, CancellationToken cancellationToken);

    Task<StoredCredentials?> FindCredentialsAsync(string email, CancellationToken cancellationToken);

    Task<AccountUser?> FindUserAsync(long userId, CancellationToken cancellationToken);

    Task<AccountUser?> FindUserByEmailAsync(string email, CancellationToken cancellationToken);

    Task<bool> SetRoleAsync(long userId, string role, CancellationToken cancellationToken);

    Task AddRefreshTokenAsync(string tokenId, string familyId, long userId, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Atomically revokes <paramref name="tokenId"/> and stores its successor, or detects reuse.</summary>
    Task<RefreshOutcome> RotateRefreshTokenAsync(string tokenId, long userId, string successorId, DateTimeOffset successorExpiresAt, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Revokes the token and every token of its family (the whole sign-in).</summary>
    Task RevokeRefreshFamilyAsync(string tokenId, DateTimeOffset now, CancellationToken cancellationToken);

    Task<DeveloperProfile?> GetProfileAsync(long userId, CancellationToken cancellationToken);

    Task<DeveloperProfile> SaveProfileAsync(long userId, string? purpose, string? organization, DateTimeOffset now, CancellationToken cancellationToken);

    Task SetProfileQuotaAsync(long userId, int? monthlyQuota, CancellationToken cancellationToken);

    /// <summary>The new key's id, or null when the prefix is taken.</summary>
    Task<long?> CreateApiKeyAsync(long userId, string name, string prefix, byte[] salt, byte[] hash, DateTimeOffset now, CancellationToken cancellationToken);

    Task<IReadOnlyList<ApiKeyInfo>> ListApiKeysAsync(long userId, CancellationToken cancellationToken);

    /// <summary>False when the owner has no such key.</summary>
    Task<bool> RevokeApiKeyAsync(long userId, long keyId, DateTimeOffset now, CancellationToken cancellationToken);

    Task<ApiKeyCredential?> FindApiKeyAsync(string prefix, CancellationToken cancellationToken);

    Task TouchApiKeyAsync(long keyId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Counts one call of <paramref name="path"/> by <paramref name="userId"/> in the month of <paramref name="now"/> if the quota
    /// (the profile's, else <paramref name="defaultQuota"/>) allows it, in one atomic step: concurrent callers, in this process
    /// or another, never push the count past the quota. Accepted calls are also added to the day's activity.
    /// </summary>
    Task<QuotaDecision> TryConsumeAsync(long userId, string path, int defaultQuota, DateTimeOffset now, CancellationToken cancellationToken);

    Task<IReadOnlyList<DailyActivity>> GetDailyActivityAsync(long userId, int year, int month, CancellationToken cancellationToken);

    /// <summary>
    /// Refuses when <paramref name="maxFailures"/> failures of this account from this address fall within the window; otherwise
    /// records this attempt as a failure until <see cref="ClearLoginFailuresAsync"/> says it succeeded.
    /// </summary>
    Task<LoginThrottle> BeginLoginAttemptAsync(string email, string address, int maxFailures, TimeSpan window, DateTimeOffset now, CancellationToken cancellationToken);

    Task ClearLoginFailuresAsync(string email, string address, CancellationToken cancellationToken);
}
