using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Hounsfield.Archive.Index;

/// <summary>
/// The embedded database file that the index, the accounts and the DICOM nodes share: one connection string and one way
/// to open a connection (pooled; WAL is set once by whoever creates the schema), with the same settings for every store.
/// </summary>
public sealed class SqliteDatabase(string path)
{
    /// <summary>synchronous=NORMAL: with WAL, a commit survives a crash of the process; busy_timeout: writers of several stores or nodes wait rather than fail.</summary>
    private const string ConnectionSettings = "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA case_sensitive_like=ON; PRAGMA busy_timeout=10000;";

    /// <summary>The native connections already given <see cref="ConnectionSettings"/>: a pooled connection keeps them.</summary>
    private readonly ConditionalWeakTable<sqlite3, object> configured = [];

    public string Path { get; } = path;

    public string ConnectionString { get; } = new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Cache = SqliteCacheMode.Private,
        Pooling = true,
    }.ToString();

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            Configure(connection);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>A command of <paramref name="connection"/> (in <paramref name="transaction"/>, when given) with named parameters; null values are SQL NULL.</summary>
    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    /// <summary>A synchronous open, for the rare caller that cannot await (a DIMSE association's accept check).</summary>
    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            connection.Open();
            Configure(connection);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private void Configure(SqliteConnection connection)
    {
        if (connection.Handle is { } handle && configured.TryGetValue(handle, out _))
        {
            return;
        }

        using var settings = connection.CreateCommand();
        settings.CommandText = ConnectionSettings;
        settings.ExecuteNonQuery();
        if (connection.Handle is { } opened)
        {
            configured.AddOrUpdate(opened, configured);
        }
    }
}
