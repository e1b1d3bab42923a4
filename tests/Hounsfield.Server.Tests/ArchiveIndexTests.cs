using Hounsfield.Archive.Index;

namespace Hounsfield.Server.Tests;

/// <summary>The SQLite index's commits: lazy for instances their blobs can rebuild, durable when a blob is freed.</summary>
public sealed class ArchiveIndexTests : IDisposable
{
    private readonly DirectoryInfo data = Directory.CreateTempSubdirectory("hounsfield-index-");

    public void Dispose() => data.Delete(recursive: true);

    [Fact]
    public async Task A_replaced_or_deleted_row_leaves_its_blob_key_freed_until_forgotten()
    {
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        await index.InitializeAsync(CancellationToken.None);
        await index.AddInstanceAsync(Record("s/00000001/0/10"), durable: false, CancellationToken.None);
        await index.AddInstanceAsync(Record("s/00000001/1000/10"), durable: false, CancellationToken.None);

        var stored = await index.FindInstanceAsync("1.2.3.4.1", CancellationToken.None);
        Assert.Equal("s/00000001/1000/10", stored?.BlobKey);
        Assert.Equal(["s/00000001/1000/10"], await index.BlobKeysAsync(CancellationToken.None));
        Assert.Equal(["s/00000001/0/10"], await index.FreedBlobKeysAsync(CancellationToken.None));

        var deleted = await index.DeleteAsync("1.2.3", null, null, CancellationToken.None);
        Assert.Equal(["s/00000001/1000/10"], deleted);
        Assert.Equal(["s/00000001/0/10", "s/00000001/1000/10"], (await index.FreedBlobKeysAsync(CancellationToken.None)).Order());
        await index.ForgetFreedBlobsAsync(CancellationToken.None);
        Assert.Empty(await index.FreedBlobKeysAsync(CancellationToken.None));
    }

    private static InstanceRecord Record(string blobKey) => new()
    {
        PatientId = "P",
        StudyInstanceUid = "1.2.3",
        SeriesInstanceUid = "1.2.3.4",
        SopInstanceUid = "1.2.3.4.1",
        SopClassUid = "1.2.840.10008.5.1.4.1.1.7",
        TransferSyntaxUid = "1.2.840.10008.1.2.1",
        BlobKey = blobKey,
        Length = 10,
        Metadata = "{}"u8.ToArray(),
    };
}
