using Hounsfield.Archive;
using Hounsfield.Archive.Blobs;
using Hounsfield.Archive.Index;
using Hounsfield.Dicom;

namespace Hounsfield.Server.Tests;

/// <summary>The commits of one STOW-RS request's parts overlap the reception of the next parts, within a count and a memory budget.</summary>
public sealed class IngestBatchTests : IDisposable
{
    private const int InstanceLength = 100_000;
    private readonly DirectoryInfo data = Directory.CreateTempSubdirectory("hounsfield-batch-");

    public void Dispose() => data.Delete(recursive: true);

    [Theory]
    [InlineData(4, 64L * 1024 * 1024, 4)] // the count binds
    [InlineData(32, 250_000, 3)] // the memory binds: three held instances reach the budget
    [InlineData(1, 64L * 1024 * 1024, 1)]
    public async Task Commits_in_flight_never_exceed_the_count_or_the_memory_budget_and_every_instance_is_stored(int maxCommits, long maxMemory, int expectedOverlap)
    {
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        using var folder = new FolderBlobStore(Path.Combine(data.FullName, "blobs"));
        var blobs = new SlowCommits(folder);
        var archive = new ArchiveService(index, blobs, new ArchiveOptions { MaxConcurrentCommits = maxCommits, MaxConcurrentCommitMemory = maxMemory });
        await archive.InitializeAsync(CancellationToken.None);

        IReadOnlyList<Hounsfield.Archive.Ingest.IngestResult> results;
        await using (var batch = archive.BeginBatch())
        {
            for (var i = 0; i < 12; i++)
            {
                using var part = new MemoryStream(Instance(i));
                await batch.AddAsync(part, null, CancellationToken.None);
            }

            results = await batch.CompleteAsync();
        }

        Assert.All(results, result => Assert.True(result.Stored, result.Message));
        Assert.Equal(expectedOverlap, blobs.MostAtOnce);
        Assert.Equal(12, (await archive.ListInstancesAsync("1.2.826.0.1.3680043.10.1", null, null, CancellationToken.None)).Count);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task A_batch_disposed_without_completing_still_stores_every_instance_it_received(int count)
    {
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        using var folder = new FolderBlobStore(Path.Combine(data.FullName, "blobs"));
        var blobs = new SlowCommits(folder);
        var archive = new ArchiveService(index, blobs, new ArchiveOptions());
        await archive.InitializeAsync(CancellationToken.None);

        await using (var batch = archive.BeginBatch())
        {
            for (var i = 0; i < count; i++)
            {
                using var part = new MemoryStream(Instance(i));
                await batch.AddAsync(part, null, CancellationToken.None);
            }

            // A request that fails here (its client gone) never asks for the results.
        }

        Assert.Equal(count, blobs.Committed);
        var stored = await archive.ListInstancesAsync("1.2.826.0.1.3680043.10.1", null, null, CancellationToken.None);
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"1.2.826.0.1.3680043.10.3.{i}").Order(), stored.Select(instance => instance.SopInstanceUid).Order());
    }

    private static byte[] Instance(int number) =>
        SecondaryCapture.Bytes("1.2.826.0.1.3680043.10.1", "1.2.826.0.1.3680043.10.2", $"1.2.826.0.1.3680043.10.3.{number}", dataset => dataset
            .AddOrUpdate(DicomTag.PatientID, DicomVR.LO, "BATCH")
            .AddOrUpdate(new DicomTag(0x0009, 0x0010), DicomVR.LO, "HOUNSFIELD TEST")
            .AddOrUpdate(new DicomTag(0x0009, 0x1000), DicomVR.OB, new byte[InstanceLength]));

    /// <summary>A blob store whose commits take a while, counting how many run at once.</summary>
    private sealed class SlowCommits(IBlobStore inner) : ForwardingBlobStore(inner)
    {
        private int running;
        private int mostAtOnce;
        private int committed;

        public int MostAtOnce => mostAtOnce;

        public int Committed => committed;

        public override ITemporaryBlob CreateTemporary() => new Temporary(this, base.CreateTemporary());

        private sealed class Temporary(SlowCommits store, ITemporaryBlob inner) : ForwardingTemporaryBlob(inner)
        {
            public override async Task<string> CommitAsync(string fileKey, CancellationToken cancellationToken)
            {
                var now = Interlocked.Increment(ref store.running);
                InterlockedMax(ref store.mostAtOnce, now);
                try
                {
                    await Task.Delay(50, cancellationToken);
                    var key = await base.CommitAsync(fileKey, cancellationToken);
                    Interlocked.Increment(ref store.committed);
                    return key;
                }
                finally
                {
                    Interlocked.Decrement(ref store.running);
                }
            }

            private static void InterlockedMax(ref int target, int value)
            {
                int seen;
                while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
                {
                }
            }
        }
    }
}
