using Hounsfield.Archive.Index;
using Microsoft.Data.Sqlite;

namespace Hounsfield.Server.Tests;

/// <summary>Lookups on connections kept open with their statements prepared: they must read like fresh connections.</summary>
public sealed class SqliteDatabaseTests : IDisposable
{
    private const string ValueById = "SELECT value FROM items WHERE id = $id";

    private readonly DirectoryInfo data = Directory.CreateTempSubdirectory("hounsfield-sqlite-");
    private readonly SqliteDatabase database;

    public SqliteDatabaseTests()
    {
        database = new SqliteDatabase(Path.Combine(data.FullName, "test.db"));
        Execute("PRAGMA journal_mode=WAL; CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT NOT NULL);");
    }

    public void Dispose()
    {
        database.Dispose();
        SqliteConnection.ClearAllPools();
        data.Delete(recursive: true);
    }

    [Fact]
    public async Task A_lookup_sees_every_commit_made_before_it_on_other_connections()
    {
        // A kept connection that held a read snapshot would go on answering the first value.
        for (var round = 0; round < 5; round++)
        {
            Execute($"INSERT OR REPLACE INTO items (id, value) VALUES (1, 'round {round}');");

            Assert.Equal($"round {round}", await LookupValueAsync(1));
        }

        Execute("DELETE FROM items;");
        Assert.Null(await LookupValueAsync(1));
    }

    [Fact]
    public async Task Concurrent_lookups_each_get_their_own_row()
    {
        Execute(string.Join(' ', Enumerable.Range(1, 200).Select(id => $"INSERT INTO items (id, value) VALUES ({id}, 'item {id}');")));

        var results = await Task.WhenAll(Enumerable.Range(1, 200).Select(id => Task.Run(() => LookupValueAsync(id))));

        Assert.Equal(Enumerable.Range(1, 200).Select(id => $"item {id}"), results);
    }

    [Fact]
    public async Task A_failed_lookup_is_reported_and_later_lookups_still_work()
    {
        Execute("INSERT INTO items (id, value) VALUES (1, 'one');");

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            database.LookupAsync<string>(ValueById, _ => throw new InvalidOperationException("reader failed"), CancellationToken.None, ("$id", 1)));
        await Assert.ThrowsAsync<SqliteException>(() =>
            database.LookupAsync("SELECT missing FROM items", reader => reader.Read(), CancellationToken.None));

        Assert.Equal("reader failed", failure.Message);
        Assert.Equal("one", await LookupValueAsync(1));
    }

    [Fact]
    public async Task A_disposed_database_refuses_lookups()
    {
        database.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => LookupValueAsync(1));
    }

    private Task<string?> LookupValueAsync(long id) =>
        database.LookupAsync(ValueById, reader => reader.Read() ? reader.GetString(0) : null, CancellationToken.None, ("$id", id));

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={database.Path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
