using Hounsfield.Archive;
using Hounsfield.Archive.Blobs;
using Hounsfield.Archive.Index;
using Hounsfield.Archive.Ingest;

namespace Hounsfield.Server.Tests;

/// <summary>
/// Ingest of an instance whose SOP Instance UID is named before its bytes (C-STORE): its bytes are made durable while it
/// is parsed and its stored copy looked for, and every outcome but "stored" removes that blob again.
/// </summary>
public sealed class AnnouncedIngestTests : IDisposable
{
    private const string Study = "1.2.826.0.1.3680043.10.11";
    private const string Series = Study + ".2";
    private const string Sop = Study + ".3";

    private readonly DirectoryInfo data = Directory.CreateTempSubdirectory("hounsfield-announced-");
    private readonly SqliteArchiveIndex index;
    private readonly CountedCommits store;

    public AnnouncedIngestTests()
    {
        index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        store = new CountedCommits(new FolderBlobStore(Blobs));
    }

    public void Dispose()
    {
        store.Dispose();
        index.Dispose();
        data.Delete(recursive: true);
    }

    [Fact]
    public async Task A_new_instance_is_durable_before_its_row_and_a_restart_without_the_row_recovers_it()
    {
        var bytes = SecondaryCapture.Bytes(Study, Series, Sop);
        var archive = await StartAsync(new ArchiveOptions { IndexWriteDelay = TimeSpan.FromHours(1) }); // the row stays pending

        var result = await archive.IngestAnnouncedAsync(Sop, Writing(bytes), CancellationToken.None);

        Assert.True(result.Stored, result.Message);
        Assert.Equal((Study, Series, Sop), (result.StudyInstanceUid, result.SeriesInstanceUid, result.SopInstanceUid));
        Assert.Equal(1, store.Commits);
        Assert.Null(await index.FindInstanceAsync(Sop, CancellationToken.None)); // answered before its row
        store.Dispose(); // the archive is not: as a crash before the pending row is written

        using var restartedStore = new FolderBlobStore(Blobs);
        var restarted = new ArchiveService(index, restartedStore, new ArchiveOptions());
        Assert.Equal(new ArchiveStartup(Recovered: 1, Removed: 0), await restarted.InitializeAsync(CancellationToken.None));
        var stored = Assert.Single(await restarted.ListInstancesAsync(Study, null, null, CancellationToken.None));
        using var read = restarted.OpenInstance(stored);
        using var copy = new MemoryStream();
        await read.CopyToAsync(copy);
        Assert.Equal(bytes, copy.ToArray());
    }

    [Fact]
    public async Task Bytes_that_are_not_an_instance_are_refused_and_the_blob_written_meanwhile_is_gone_for_good()
    {
        var archive = await StartAsync();
        var notDicom = "This is not a DICOM data set, only text."u8.ToArray();

        var result = await archive.IngestAnnouncedAsync(Sop, Writing(notDicom), CancellationToken.None);

        Assert.False(result.Stored);
        Assert.Equal(IngestResult.CannotUnderstand, result.FailureReason);
        Assert.Equal(1, store.Commits); // flushed while parsed
        Assert.Equal([store.LastCommittedKey!], store.DeletedDurably);
        Assert.Empty(store.EnumerateKeys());
    }

    [Fact]
    public async Task A_copy_of_a_stored_instance_is_refused_and_the_blob_written_while_it_was_looked_for_is_gone_for_good()
    {
        var archive = await StartAsync();
        Assert.True((await archive.IngestAnnouncedAsync(Sop, Writing(SecondaryCapture.Bytes(Study, Series, Sop)), CancellationToken.None)).Stored);
        var key = Assert.Single(store.EnumerateKeys());

        var copy = await archive.IngestAnnouncedAsync(Sop, Writing(SecondaryCapture.Bytes(Study, Series, Sop)), CancellationToken.None);

        Assert.Equal(IngestResult.DuplicateSopInstance, copy.FailureReason);
        Assert.Equal(2, store.Commits); // the copy was flushed while it was parsed and looked for
        Assert.Equal([store.LastCommittedKey!], store.DeletedDurably);
        Assert.Equal([key], store.EnumerateKeys());
    }

    [Fact]
    public async Task A_data_set_naming_another_instance_is_stored_as_that_one_and_refused_as_its_copy()
    {
        var archive = await StartAsync();
        var bytes = SecondaryCapture.Bytes(Study, Series, Sop);

        var stored = await archive.IngestAnnouncedAsync(Study + ".98", Writing(bytes), CancellationToken.None);
        Assert.True(stored.Stored, stored.Message);
        Assert.Equal(Sop, stored.SopInstanceUid);
        var key = Assert.Single(store.EnumerateKeys());

        var copy = await archive.IngestAnnouncedAsync(Study + ".99", Writing(bytes), CancellationToken.None);
        Assert.Equal(IngestResult.DuplicateSopInstance, copy.FailureReason);
        Assert.Equal(2, store.Commits); // the copy too was flushed while parsed, then removed for good
        Assert.Equal([store.LastCommittedKey!], store.DeletedDurably);
        Assert.Equal([key], store.EnumerateKeys());
        Assert.Equal(Sop, Assert.Single(await archive.ListInstancesAsync(Study, null, null, CancellationToken.None)).SopInstanceUid);
    }

    [Fact]
    public async Task An_instance_over_the_length_limit_is_refused_before_any_write_and_gives_its_turn_back()
    {
        var archive = await StartAsync(new ArchiveOptions { MaxInstanceLength = 64 });
        var bytes = SecondaryCapture.Bytes(Study, Series, Sop);
        Assert.True(bytes.Length > 64);

        for (var attempt = 0; attempt < 2; attempt++)
        {
            // The second attempt would wait for ever for a turn the first kept.
            var ingest = archive.IngestAnnouncedAsync(Sop, Writing(bytes), CancellationToken.None);
            var refused = await Assert.ThrowsAsync<InstanceTooLargeException>(() => ingest.WaitAsync(TimeSpan.FromSeconds(20)));
            Assert.Contains("64", refused.Message, StringComparison.Ordinal);
        }

        Assert.Equal(0, store.Commits);
        Assert.Empty(store.EnumerateKeys());
        Assert.Empty(await archive.ListInstancesAsync(Study, null, null, CancellationToken.None));
    }

    private string Blobs => Path.Combine(data.FullName, "blobs");

    private async Task<ArchiveService> StartAsync(ArchiveOptions? options = null)
    {
        var archive = new ArchiveService(index, store, options ?? new ArchiveOptions());
        await archive.InitializeAsync(CancellationToken.None);
        return archive;
    }

    private static Func<Stream, CancellationToken, Task> Writing(byte[] bytes) =>
        (destination, cancellationToken) => destination.WriteAsync(bytes, cancellationToken).AsTask();

    /// <summary>Counts the commits of temporary blobs, and notes the durable deletes.</summary>
    private sealed class CountedCommits(FolderBlobStore inner) : ForwardingBlobStore(inner), IDisposable
    {
        private int commits;

        public int Commits => commits;

        public string? LastCommittedKey { get; private set; }

        public List<string> DeletedDurably { get; } = [];

        public override ITemporaryBlob CreateTemporary() => new Temporary(this, base.CreateTemporary());

        public override IReadOnlyList<string> DeleteDurably(params IReadOnlyCollection<string> keys)
        {
            lock (DeletedDurably)
            {
                DeletedDurably.AddRange(keys);
            }

            return base.DeleteDurably(keys);
        }

        public void Dispose() => inner.Dispose();

        private sealed class Temporary(CountedCommits store, ITemporaryBlob temporary) : ForwardingTemporaryBlob(temporary)
        {
            public override async Task<string> CommitAsync(string fileKey, CancellationToken cancellationToken)
            {
                var key = await base.CommitAsync(fileKey, cancellationToken);
                Interlocked.Increment(ref store.commits);
                store.LastCommittedKey = key;
                return key;
            }
        }
    }
}
