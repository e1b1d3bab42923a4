using Hounsfield.Archive.Index;
using Microsoft.Data.Sqlite;

namespace Hounsfield.Server.Nodes;

/// <summary>A DICOM peer: our calling AE title towards it, where it listens, and whether it is reached over DICOM TLS.</summary>
internal sealed record DicomNode(long Id, string Name, string AETitle, string PeerAETitle, string PeerHost, int PeerPort, bool Tls);

/// <summary>The fields of a node as a request sets them.</summary>
internal sealed record DicomNodeFields(string Name, string AETitle, string PeerAETitle, string PeerHost, int PeerPort, bool Tls);

internal static class DicomNodeJobStates
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
}

/// <summary>A store, move or get job as the database records it; <paramref name="CreatedBy"/> is the account that asked for it (null for jobs older than the column).</summary>
internal sealed record DicomNodeJob(
    string Id, long NodeId, string Kind, string State, int Completed, int Failed, int Remaining, string? Error,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset HeartbeatAt, long? CreatedBy);

/// <summary>
/// DICOM nodes and their jobs, in tables of the archive's SQLite file (as the accounts are), so that every process
/// sharing the database sees the same nodes and can report any job. Times are Unix milliseconds.
/// </summary>
internal sealed class SqliteDicomNodeStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS dicom_nodes (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            aet_title TEXT NOT NULL,
            peer_aet_title TEXT NOT NULL UNIQUE,
            peer_host TEXT NOT NULL,
            peer_port INTEGER NOT NULL,
            tls INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS dicom_node_jobs (
            id TEXT PRIMARY KEY,
            node_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            completed INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            remaining INTEGER NOT NULL,
            error TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            heartbeat_at INTEGER NOT NULL,
            runner TEXT NOT NULL,
            created_by INTEGER);
        CREATE INDEX IF NOT EXISTS dicom_node_jobs_state ON dicom_node_jobs(state);
        """;

    private const string NodeColumns = "id, name, aet_title, peer_aet_title, peer_host, peer_port, tls";
    private const string JobColumns = "id, node_id, kind, state, completed, failed, remaining, error, created_at, updated_at, heartbeat_at, created_by";

    private readonly SqliteDatabase database;

    public SqliteDicomNodeStore(string databasePath)
    {
        database = new SqliteDatabase(databasePath);
    }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, "PRAGMA journal_mode=WAL;", cancellationToken);
        await ExecuteAsync(connection, Schema, cancellationToken);
        await AddMissingColumnAsync(connection, "dicom_nodes", "tls", "INTEGER NOT NULL DEFAULT 0", cancellationToken);
        await AddMissingColumnAsync(connection, "dicom_node_jobs", "created_by", "INTEGER", cancellationToken);
    }

    /// <summary>Adds a column that an index.db made by an earlier version lacks (CREATE TABLE IF NOT EXISTS keeps the old table).</summary>
    private static async Task AddMissingColumnAsync(SqliteConnection connection, string table, string column, string definition, CancellationToken cancellationToken)
    {
        await using var columns = Command(connection, $"SELECT 1 FROM pragma_table_info('{table}') WHERE name = $column", ("$column", column));
        if (await columns.ExecuteScalarAsync(cancellationToken) is null)
        {
            await ExecuteAsync(connection, $"ALTER TABLE {table} ADD COLUMN {column} {definition};", cancellationToken);
        }
    }

    public async Task<IReadOnlyList<DicomNode>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, $"SELECT {NodeColumns} FROM dicom_nodes ORDER BY id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var nodes = new List<DicomNode>();
        while (await reader.ReadAsync(cancellationToken))
        {
            nodes.Add(ReadNode(reader));
        }

        return nodes;
    }

    public Task<DicomNode?> FindAsync(long id, CancellationToken cancellationToken) => FindWhereAsync("id = $key", id, cancellationToken);

    public Task<DicomNode?> FindByPeerAETitleAsync(string peerAETitle, CancellationToken cancellationToken) =>
        FindWhereAsync("peer_aet_title = $key", peerAETitle.Trim(), cancellationToken);

    /// <summary>Whether a node has this peer AE title; synchronous, for association negotiation.</summary>
    public bool HasPeerAETitle(string peerAETitle)
    {
        using var connection = database.Open();
        using var command = Command(connection, "SELECT 1 FROM dicom_nodes WHERE peer_aet_title = $key", ("$key", peerAETitle.Trim()));
        return command.ExecuteScalar() is not null;
    }

    /// <summary>Creates a node; null when another node already has its peer AE title.</summary>
    public async Task<DicomNode?> CreateAsync(DicomNodeFields fields, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, $"""
            INSERT INTO dicom_nodes (name, aet_title, peer_aet_title, peer_host, peer_port, tls, created_at, updated_at)
            VALUES ($name, $aet, $peer_aet, $host, $port, $tls, $now, $now)
            ON CONFLICT (peer_aet_title) DO NOTHING
            RETURNING {NodeColumns}
            """, Parameters(fields, now));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadNode(reader) : null;
    }

    /// <summary>Replaces a node's fields; <see cref="UpdateOutcome.Conflict"/> when another node has the peer AE title.</summary>
    public async Task<(UpdateOutcome Outcome, DicomNode? Node)> UpdateAsync(long id, DicomNodeFields fields, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        try
        {
            await using var command = Command(connection, $"""
                UPDATE dicom_nodes SET name = $name, aet_title = $aet, peer_aet_title = $peer_aet, peer_host = $host, peer_port = $port, tls = $tls, updated_at = $now
                WHERE id = $id
                RETURNING {NodeColumns}
                """, [.. Parameters(fields, now), ("$id", id)]);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken) ? (UpdateOutcome.Updated, ReadNode(reader)) : (UpdateOutcome.NotFound, null);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 19) // SQLITE_CONSTRAINT: the peer AE title is another node's
        {
            return (UpdateOutcome.Conflict, null);
        }
    }

    public async Task<bool> DeleteAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(connection, "DELETE FROM dicom_nodes WHERE id = $id", cancellationToken, ("$id", id)) == 1;
    }

    /// <summary>
    /// Records a pending job of <paramref name="runner"/>, the process that will run it (machine/pid/start time), asked for by
    /// the account <paramref name="createdBy"/>.
    /// </summary>
    public async Task<DicomNodeJob> CreateJobAsync(long nodeId, string kind, int remaining, string runner, long? createdBy, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid().ToString("N");
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, $"""
            INSERT INTO dicom_node_jobs (id, node_id, kind, state, completed, failed, remaining, error, created_at, updated_at, heartbeat_at, runner, created_by)
            VALUES ($id, $node, $kind, $state, 0, 0, $remaining, NULL, $now, $now, $now, $runner, $created_by)
            RETURNING {JobColumns}
            """, ("$id", id), ("$node", nodeId), ("$kind", kind), ("$state", DicomNodeJobStates.Pending), ("$remaining", remaining),
            ("$runner", runner), ("$created_by", createdBy), ("$now", now.ToUnixTimeMilliseconds()));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return ReadJob(reader);
    }

    /// <summary>Records a job's state and counts; a job already finished (or failed as stale) stays as it is.</summary>
    public async Task UpdateJobAsync(string id, string state, int completed, int failed, int remaining, string? error, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, """
            UPDATE dicom_node_jobs SET state = $state, completed = $completed, failed = $failed, remaining = $remaining, error = $error,
                updated_at = $now, heartbeat_at = $now
            WHERE id = $id AND state IN ('pending', 'running')
            """, cancellationToken,
            ("$id", id), ("$state", state), ("$completed", completed), ("$failed", failed), ("$remaining", remaining), ("$error", error),
            ("$now", now.ToUnixTimeMilliseconds()));
    }

    /// <summary>Marks the jobs a process runs as alive.</summary>
    public async Task HeartbeatAsync(IReadOnlyCollection<string> ids, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        var names = ids.Select((_, i) => $"$id{i}").ToArray();
        await ExecuteAsync(connection, $"UPDATE dicom_node_jobs SET heartbeat_at = $now WHERE id IN ({string.Join(", ", names)}) AND state IN ('pending', 'running')",
            cancellationToken, [("$now", now.ToUnixTimeMilliseconds()), .. ids.Select((id, i) => (names[i], (object?)id))]);
    }

    /// <summary>Fails the pending and running jobs no process has marked alive since <paramref name="staleBefore"/>.</summary>
    public async Task<int> FailStaleJobsAsync(DateTimeOffset staleBefore, string error, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(connection, """
            UPDATE dicom_node_jobs SET state = 'failed', error = $error, updated_at = $now
            WHERE state IN ('pending', 'running') AND heartbeat_at < $stale
            """, cancellationToken, ("$error", error), ("$now", now.ToUnixTimeMilliseconds()), ("$stale", staleBefore.ToUnixTimeMilliseconds()));
    }

    /// <summary>The runners of the pending and running jobs, by job id.</summary>
    public async Task<IReadOnlyList<(string Id, string Runner)>> ListUnfinishedJobsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, "SELECT id, runner FROM dicom_node_jobs WHERE state IN ('pending', 'running')");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var jobs = new List<(string, string)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            jobs.Add((reader.GetString(0), reader.GetString(1)));
        }

        return jobs;
    }

    /// <summary>Fails one job if it is still pending or running.</summary>
    public async Task FailJobAsync(string id, string error, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, "UPDATE dicom_node_jobs SET state = 'failed', error = $error, updated_at = $now WHERE id = $id AND state IN ('pending', 'running')",
            cancellationToken, ("$id", id), ("$error", error), ("$now", now.ToUnixTimeMilliseconds()));
    }

    public async Task<DicomNodeJob?> FindJobAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, $"SELECT {JobColumns} FROM dicom_node_jobs WHERE id = $id", ("$id", id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadJob(reader) : null;
    }

    private async Task<DicomNode?> FindWhereAsync(string condition, object key, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, $"SELECT {NodeColumns} FROM dicom_nodes WHERE {condition}", ("$key", key));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadNode(reader) : null;
    }

    private static (string, object?)[] Parameters(DicomNodeFields fields, DateTimeOffset now) =>
    [
        ("$name", fields.Name), ("$aet", fields.AETitle), ("$peer_aet", fields.PeerAETitle), ("$host", fields.PeerHost), ("$port", fields.PeerPort),
        ("$tls", fields.Tls ? 1 : 0), ("$now", now.ToUnixTimeMilliseconds()),
    ];

    private static DicomNode ReadNode(SqliteDataReader reader) =>
        new(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt32(5), reader.GetInt64(6) != 0);

    private static DicomNodeJob ReadJob(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4), reader.GetInt32(5), reader.GetInt32(6),
            reader.IsDBNull(7) ? null : reader.GetString(7), Time(reader.GetInt64(8)), Time(reader.GetInt64(9)), Time(reader.GetInt64(10)),
            reader.IsDBNull(11) ? null : reader.GetInt64(11));

    private static DateTimeOffset Time(long milliseconds) => DateTimeOffset.FromUnixTimeMilliseconds(milliseconds);

    private Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenAsync(cancellationToken);

    private static SqliteCommand Command(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters) =>
        SqliteDatabase.Command(connection, null, sql, parameters);

    private static async Task<int> ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

internal enum UpdateOutcome
{
    Updated,
    NotFound,
    Conflict,
}
