using System.Globalization;
using Hounsfield.Archive.Index;
using Microsoft.Data.Sqlite;

namespace Hounsfield.Server.Accounts;

/// <summary>
/// The account tables in the archive's SQLite file (WAL, pooled connections). Times are Unix seconds, days `yyyy-MM-dd`,
/// months `yyyy-MM`; every statement is plain SQL with upserts (`ON CONFLICT … DO UPDATE … RETURNING`) that PostgreSQL
/// runs unchanged. Read-modify-write steps run in `BEGIN IMMEDIATE` transactions, so they are serialised across processes.
/// </summary>
internal sealed class SqliteAccountStore : IAccountStore, IDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS users (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            first_name TEXT NOT NULL,
            last_name TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL,
            is_active INTEGER NOT NULL DEFAULT 1,
            created_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS refresh_tokens (
            id TEXT PRIMARY KEY,
            family_id TEXT NOT NULL,
            user_id INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            revoked_at INTEGER,
            replaced_by TEXT);
        CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens(family_id);
        CREATE TABLE IF NOT EXISTS developer_profiles (
            user_id INTEGER PRIMARY KEY,
            purpose TEXT,
            organization TEXT,
            monthly_quota INTEGER,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS api_keys (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            prefix TEXT NOT NULL UNIQUE,
            salt BLOB NOT NULL,
            hash BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            last_used_at INTEGER,
            revoked_at INTEGER);
        CREATE INDEX IF NOT EXISTS api_keys_user ON api_keys(user_id);
        CREATE TABLE IF NOT EXISTS api_usage_monthly (
            user_id INTEGER NOT NULL,
            path TEXT NOT NULL,
            month TEXT NOT NULL,
            used INTEGER NOT NULL,
            refused INTEGER NOT NULL,
            last_accepted INTEGER NOT NULL,
            PRIMARY KEY (user_id, path, month));
        CREATE TABLE IF NOT EXISTS api_usage_daily (
            user_id INTEGER NOT NULL,
            path TEXT NOT NULL,
            day TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (user_id, path, day));
        CREATE TABLE IF NOT EXISTS login_failures (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL,
            address TEXT NOT NULL,
            at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS login_failures_account ON login_failures(email, address, at);
        CREATE INDEX IF NOT EXISTS login_failures_at ON login_failures(at);
        """;

    private const string UserColumns = """
        u.id, u.email, u.first_name, u.last_name, u.role, u.is_active,
        EXISTS (SELECT 1 FROM developer_profiles p WHERE p.user_id = u.id)
        """;

    private readonly SqliteDatabase database;

    public SqliteAccountStore(string databasePath)
    {
        database = new SqliteDatabase(databasePath);
    }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "PRAGMA journal_mode=WAL;", cancellationToken);
        await ExecuteAsync(connection, null, Schema, cancellationToken);
    }

    public async Task<long> CountUsersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return (long)(await ScalarAsync(connection, null, "SELECT COUNT(*) FROM users", cancellationToken))!;
    }

    public async Task<long?> CreateUserAsync(NewAccount account, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return (long?)await ScalarAsync(connection, null, """
            INSERT INTO users (email, first_name, last_name, password_hash, role, is_active, created_at)
            VALUES ($email, $first, $last, $hash, $role, 1, $now)
            ON CONFLICT (email) DO NOTHING
            RETURNING id
            """, cancellationToken,
            ("$email", account.Email), ("$first", account.FirstName), ("$last", account.LastName),
            ("$hash", account.PasswordHash), ("$role", account.Role), ("$now", now.ToUnixTimeSeconds()));
    }

    public async Task<StoredCredentials?> FindCredentialsAsync(string email, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT id, password_hash, is_active FROM users WHERE email = $email", ("$email", email));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new StoredCredentials(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2) != 0)
            : null;
    }

    public Task<AccountUser?> FindUserAsync(long userId, CancellationToken cancellationToken) =>
        FindUserWhereAsync("u.id = $key", userId, cancellationToken);

    public Task<AccountUser?> FindUserByEmailAsync(string email, CancellationToken cancellationToken) =>
        FindUserWhereAsync("u.email = $key", email, cancellationToken);

    public async Task<bool> SetRoleAsync(long userId, string role, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(connection, null, "UPDATE users SET role = $role WHERE id = $id", cancellationToken, ("$role", role), ("$id", userId)) == 1;
    }

    public async Task AddRefreshTokenAsync(string tokenId, string familyId, long userId, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        // Expired tokens are of no further use, not even for reuse detection: clear them as new ones arrive.
        await ExecuteAsync(connection, transaction, "DELETE FROM refresh_tokens WHERE expires_at < $now", cancellationToken, ("$now", now.ToUnixTimeSeconds()));
        await InsertRefreshTokenAsync(connection, transaction, tokenId, familyId, userId, expiresAt, now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<RefreshOutcome> RotateRefreshTokenAsync(string tokenId, long userId, string successorId, DateTimeOffset successorExpiresAt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        var family = (string?)await ScalarAsync(connection, transaction, """
            UPDATE refresh_tokens SET revoked_at = $now, replaced_by = $successor
            WHERE id = $id AND user_id = $user AND revoked_at IS NULL AND expires_at > $now
            RETURNING family_id
            """, cancellationToken, ("$now", now.ToUnixTimeSeconds()), ("$successor", successorId), ("$id", tokenId), ("$user", userId));
        if (family is not null)
        {
            await InsertRefreshTokenAsync(connection, transaction, successorId, family, userId, successorExpiresAt, now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return RefreshOutcome.Rotated;
        }

        var outcome = await RevokeFamilyAsync(connection, transaction, tokenId, now, cancellationToken) ? RefreshOutcome.Reused : RefreshOutcome.Unknown;
        await transaction.CommitAsync(cancellationToken);
        return outcome;
    }

    public async Task RevokeRefreshFamilyAsync(string tokenId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        await RevokeFamilyAsync(connection, transaction, tokenId, now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<DeveloperProfile?> GetProfileAsync(long userId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadProfileAsync(connection, null, userId, cancellationToken);
    }

    public async Task<DeveloperProfile> SaveProfileAsync(long userId, string? purpose, string? organization, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        await ExecuteAsync(connection, transaction, """
            INSERT INTO developer_profiles (user_id, purpose, organization, monthly_quota, created_at, updated_at)
            VALUES ($user, $purpose, $organization, NULL, $now, $now)
            ON CONFLICT (user_id) DO UPDATE SET purpose = excluded.purpose, organization = excluded.organization, updated_at = excluded.updated_at
            """, cancellationToken, ("$user", userId), ("$purpose", purpose), ("$organization", organization), ("$now", now.ToUnixTimeSeconds()));
        var profile = await ReadProfileAsync(connection, transaction, userId, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return profile!;
    }

    public async Task SetProfileQuotaAsync(long userId, int? monthlyQuota, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "UPDATE developer_profiles SET monthly_quota = $quota WHERE user_id = $user", cancellationToken,
            ("$quota", monthlyQuota), ("$user", userId));
    }

    public async Task<long?> CreateApiKeyAsync(long userId, string name, string prefix, byte[] salt, byte[] hash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return (long?)await ScalarAsync(connection, null, """
            INSERT INTO api_keys (user_id, name, prefix, salt, hash, created_at)
            VALUES ($user, $name, $prefix, $salt, $hash, $now)
            ON CONFLICT (prefix) DO NOTHING
            RETURNING id
            """, cancellationToken,
            ("$user", userId), ("$name", name), ("$prefix", prefix), ("$salt", salt), ("$hash", hash), ("$now", now.ToUnixTimeSeconds()));
    }

    public async Task<IReadOnlyList<ApiKeyInfo>> ListApiKeysAsync(long userId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            "SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_keys WHERE user_id = $user ORDER BY id", ("$user", userId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<ApiKeyInfo>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(new ApiKeyInfo(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), Time(reader.GetInt64(3)),
                NullableTime(reader, 4), NullableTime(reader, 5)));
        }

        return keys;
    }

    public async Task<bool> RevokeApiKeyAsync(long userId, long keyId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return (long?)await ScalarAsync(connection, null, """
            UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $now) WHERE id = $id AND user_id = $user RETURNING id
            """, cancellationToken, ("$now", now.ToUnixTimeSeconds()), ("$id", keyId), ("$user", userId)) is not null;
    }

    public async Task<ApiKeyCredential?> FindApiKeyAsync(string prefix, CancellationToken cancellationToken)
    {
        return await database.LookupAsync("SELECT id, user_id, salt, hash, last_used_at, revoked_at FROM api_keys WHERE prefix = $prefix",
            reader => reader.Read()
                ? new ApiKeyCredential(reader.GetInt64(0), reader.GetInt64(1), (byte[])reader[2], (byte[])reader[3], NullableTime(reader, 4), !reader.IsDBNull(5))
                : null,
            cancellationToken, ("$prefix", prefix));
    }

    public async Task TouchApiKeyAsync(long keyId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "UPDATE api_keys SET last_used_at = $now WHERE id = $id", cancellationToken,
            ("$now", now.ToUnixTimeSeconds()), ("$id", keyId));
    }

    public async Task<QuotaDecision> TryConsumeAsync(long userId, string path, int defaultQuota, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var utc = now.UtcDateTime;
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        var quota = (int)((long?)await ScalarAsync(connection, transaction,
            "SELECT monthly_quota FROM developer_profiles WHERE user_id = $user AND monthly_quota IS NOT NULL", cancellationToken, ("$user", userId))
            ?? defaultQuota);

        // One upsert decides and counts: the row's current count is compared with the quota in the same statement that moves it.
        long used, refused;
        bool accepted;
        await using (var command = Command(connection, transaction, """
            INSERT INTO api_usage_monthly (user_id, path, month, used, refused, last_accepted)
            VALUES ($user, $path, $month, CASE WHEN $quota > 0 THEN 1 ELSE 0 END, CASE WHEN $quota > 0 THEN 0 ELSE 1 END, CASE WHEN $quota > 0 THEN 1 ELSE 0 END)
            ON CONFLICT (user_id, path, month) DO UPDATE SET
                used = api_usage_monthly.used + CASE WHEN api_usage_monthly.used < $quota THEN 1 ELSE 0 END,
                refused = api_usage_monthly.refused + CASE WHEN api_usage_monthly.used < $quota THEN 0 ELSE 1 END,
                last_accepted = CASE WHEN api_usage_monthly.used < $quota THEN 1 ELSE 0 END
            RETURNING used, refused, last_accepted
            """, ("$user", userId), ("$path", path), ("$month", utc.ToString("yyyy-MM", CultureInfo.InvariantCulture)), ("$quota", quota)))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            (used, refused, accepted) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2) != 0);
        }

        if (accepted)
        {
            await ExecuteAsync(connection, transaction, """
                INSERT INTO api_usage_daily (user_id, path, day, count) VALUES ($user, $path, $day, 1)
                ON CONFLICT (user_id, path, day) DO UPDATE SET count = api_usage_daily.count + 1
                """, cancellationToken, ("$user", userId), ("$path", path), ("$day", utc.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)));
        }

        await transaction.CommitAsync(cancellationToken);
        return new QuotaDecision(accepted, quota, used + refused);
    }

    public async Task<IReadOnlyList<DailyActivity>> GetDailyActivityAsync(long userId, int year, int month, CancellationToken cancellationToken)
    {
        var first = new DateOnly(year, month, 1);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, """
            SELECT day, SUM(count) FROM api_usage_daily
            WHERE user_id = $user AND day >= $from AND day < $to
            GROUP BY day ORDER BY day
            """, ("$user", userId), ("$from", first.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
            ("$to", first.AddMonths(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var days = new List<DailyActivity>();
        while (await reader.ReadAsync(cancellationToken))
        {
            days.Add(new DailyActivity(reader.GetString(0), reader.GetInt64(1)));
        }

        return days;
    }

    public async Task<LoginThrottle> BeginLoginAttemptAsync(string email, string address, int maxFailures, TimeSpan window, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var cutoff = (now - window).ToUnixTimeSeconds();
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        await ExecuteAsync(connection, transaction, "DELETE FROM login_failures WHERE at < $cutoff", cancellationToken, ("$cutoff", cutoff));
        long failures;
        long? oldest;
        await using (var command = Command(connection, transaction,
            "SELECT COUNT(*), MIN(at) FROM login_failures WHERE email = $email AND address = $address AND at >= $cutoff",
            ("$email", email), ("$address", address), ("$cutoff", cutoff)))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            failures = reader.GetInt64(0);
            oldest = reader.IsDBNull(1) ? null : reader.GetInt64(1);
        }

        if (failures >= maxFailures)
        {
            await transaction.RollbackAsync(cancellationToken);
            var retryAfter = TimeSpan.FromSeconds(Math.Max(1, oldest!.Value + (long)window.TotalSeconds - now.ToUnixTimeSeconds()));
            return new LoginThrottle(false, retryAfter);
        }

        await ExecuteAsync(connection, transaction, "INSERT INTO login_failures (email, address, at) VALUES ($email, $address, $now)", cancellationToken,
            ("$email", email), ("$address", address), ("$now", now.ToUnixTimeSeconds()));
        await transaction.CommitAsync(cancellationToken);
        return new LoginThrottle(true, TimeSpan.Zero);
    }

    public async Task ClearLoginFailuresAsync(string email, string address, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "DELETE FROM login_failures WHERE email = $email AND address = $address", cancellationToken,
            ("$email", email), ("$address", address));
    }

    /// <summary>Closes the connections kept open for lookups.</summary>
    public void Dispose() => database.Dispose();

    private async Task<AccountUser?> FindUserWhereAsync(string condition, object key, CancellationToken cancellationToken)
    {
        return await database.LookupAsync($"SELECT {UserColumns} FROM users u WHERE {condition}",
            reader => reader.Read()
                ? new AccountUser(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                    reader.GetInt64(5) != 0, reader.GetInt64(6) != 0)
                : null,
            cancellationToken, ("$key", key));
    }

    private static async Task InsertRefreshTokenAsync(SqliteConnection connection, SqliteTransaction transaction, string tokenId, string familyId, long userId,
        DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken cancellationToken) =>
        await ExecuteAsync(connection, transaction, """
            INSERT INTO refresh_tokens (id, family_id, user_id, created_at, expires_at) VALUES ($id, $family, $user, $now, $expires)
            """, cancellationToken, ("$id", tokenId), ("$family", familyId), ("$user", userId), ("$now", now.ToUnixTimeSeconds()),
            ("$expires", expiresAt.ToUnixTimeSeconds()));

    /// <summary>True when the token was known (its family is now revoked).</summary>
    private static async Task<bool> RevokeFamilyAsync(SqliteConnection connection, SqliteTransaction transaction, string tokenId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var family = (string?)await ScalarAsync(connection, transaction, "SELECT family_id FROM refresh_tokens WHERE id = $id", cancellationToken, ("$id", tokenId));
        if (family is null)
        {
            return false;
        }

        await ExecuteAsync(connection, transaction, "UPDATE refresh_tokens SET revoked_at = $now WHERE family_id = $family AND revoked_at IS NULL", cancellationToken,
            ("$now", now.ToUnixTimeSeconds()), ("$family", family));
        return true;
    }

    private static async Task<DeveloperProfile?> ReadProfileAsync(SqliteConnection connection, SqliteTransaction? transaction, long userId, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction,
            "SELECT purpose, organization, monthly_quota, created_at, updated_at FROM developer_profiles WHERE user_id = $user", ("$user", userId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new DeveloperProfile(userId, reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetInt32(2), Time(reader.GetInt64(3)), Time(reader.GetInt64(4)))
            : null;
    }

    private static DateTimeOffset Time(long seconds) => DateTimeOffset.FromUnixTimeSeconds(seconds);

    private static DateTimeOffset? NullableTime(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : Time(reader.GetInt64(ordinal));

    private Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenAsync(cancellationToken);

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters) =>
        SqliteDatabase.Command(connection, transaction, sql, parameters);

    private static async Task<int> ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is DBNull ? null : value;
    }
}
