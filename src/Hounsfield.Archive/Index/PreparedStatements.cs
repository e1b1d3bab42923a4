using Microsoft.Data.Sqlite;

namespace Hounsfield.Archive.Index;

/// <summary>
/// A connection and the statements prepared on it, by SQL text, each run again with new values: Microsoft.Data.Sqlite
/// keeps no prepared statement past its command, so a statement run often would otherwise be parsed and planned each time.
/// For a fixed set of statements; past <see cref="MaxPrepared"/> (a caller with generated SQL) it starts over.
/// </summary>
internal sealed class PreparedStatements(SqliteConnection connection) : IDisposable
{
    private const int MaxPrepared = 32;

    private readonly Dictionary<string, SqliteCommand> prepared = new(StringComparer.Ordinal);

    public SqliteConnection Connection => connection;

    /// <summary>The prepared statement of <paramref name="sql"/>, in <paramref name="transaction"/>, with these parameter values (null: SQL NULL).</summary>
    public SqliteCommand Prepare(string sql, SqliteTransaction? transaction, (string Name, object? Value)[] parameters)
    {
        if (!prepared.TryGetValue(sql, out var command))
        {
            if (prepared.Count >= MaxPrepared)
            {
                DisposeCommands();
            }

            command = connection.CreateCommand();
            command.CommandText = sql;
            prepared.Add(sql, command);
        }

        command.Transaction = transaction;
        command.Parameters.Clear();
        SqliteDatabase.Bind(command, parameters);
        return command;
    }

    public void Dispose()
    {
        DisposeCommands();
        connection.Dispose();
    }

    private void DisposeCommands()
    {
        foreach (var command in prepared.Values)
        {
            command.Dispose();
        }

        prepared.Clear();
    }
}
