using Hounsfield.Archive;
using Hounsfield.Archive.Blobs;
using Hounsfield.Archive.Index;
using Hounsfield.Archive.Ingest;
using Hounsfield.Dicom;

namespace Hounsfield.Server.Tests;

/// <summary>
/// A disk that fails while an instance is received is the archive's failure, not the sender's: that instance fails as
/// out of resources (0xA700), nothing of it is kept, and the next instance is stored. A sender whose bytes fail to read
/// still gets its error (STOW-RS answers it with a 400, C-STORE ends the association).
/// </summary>
public sealed class StorageFailureTests : IDisposable
{
    private const string Study = "1.2.826.0.1.3680043.10.71";
    private readonly DirectoryInfo data = Directory.CreateTempSubdirectory("hounsfield-storage-failure-");

    public void Dispose() => data.Delete(recursive: true);

    [Fact]
    public async Task A_part_the_disk_fails_to_take_fails_as_out_of_resources_and_the_batch_goes_on()
    {
        using var stores = new Stores(data, failures: 1);
        var (archive, folder) = (await stores.OpenAsync(), stores.Folder);

        IReadOnlyList<IngestResult> results;
        await using (var batch = archive.BeginBatch())
        {
            foreach (var number in new[] { 1, 2 })
            {
                using var part = new MemoryStream(Instance(number));
                await batch.AddAsync(part, null, CancellationToken.None);
            }

            results = await batch.CompleteAsync();
        }

        Assert.Equal(2, results.Count);
        Assert.False(results[0].Stored);
        Assert.Equal(IngestResult.OutOfResources, results[0].FailureReason);
        Assert.Contains("No space left on device", results[0].Message);
        Assert.True(results[1].Stored, results[1].Message);
        var stored = await archive.ListInstancesAsync(Study, null, null, CancellationToken.None);
        Assert.Equal(["1.2.826.0.1.3680043.10.73.2"], stored.Select(instance => instance.SopInstanceUid));
        Assert.Single(folder.EnumerateKeys());
    }

    [Fact]
    public async Task A_c_store_the_disk_fails_to_take_is_refused_as_out_of_resources_and_its_turn_is_free_for_a_retry()
    {
        using var stores = new Stores(data, failures: 1);
        var (archive, folder) = (await stores.OpenAsync(), stores.Folder);
        var bytes = Instance(1);

        var failed = await archive.IngestAnnouncedAsync("1.2.826.0.1.3680043.10.73.1", Write(bytes), CancellationToken.None);
        var retried = await archive.IngestAnnouncedAsync("1.2.826.0.1.3680043.10.73.1", Write(bytes), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.False(failed.Stored);
        Assert.Equal(IngestResult.OutOfResources, failed.FailureReason);
        Assert.True(retried.Stored, retried.Message);
        await archive.IndexPendingAsync();
        Assert.Single(await archive.ListInstancesAsync(Study, null, null, CancellationToken.None));
        Assert.Single(folder.EnumerateKeys());
    }

    [Fact]
    public async Task Bytes_that_fail_to_arrive_are_still_the_senders_error()
    {
        using var stores = new Stores(data, failures: 0);
        var (archive, folder) = (await stores.OpenAsync(), stores.Folder);

        await using var batch = archive.BeginBatch();
        var error = await Assert.ThrowsAsync<IOException>(() => batch.AddAsync(new CutStream(Instance(1), 20_000), null, CancellationToken.None));

        Assert.Equal(CutStream.Message, error.Message);
        Assert.Empty(folder.EnumerateKeys());
    }

    /// <summary>An index and a folder blob store under <paramref name="data"/>, the store's next <paramref name="failures"/> temporaries failing.</summary>
    private sealed class Stores(DirectoryInfo data, int failures) : IDisposable
    {
        private readonly SqliteArchiveIndex index = new(Path.Combine(data.FullName, "index.db"));

        public FolderBlobStore Folder { get; } = new(Path.Combine(data.FullName, "blobs"));

        public async Task<ArchiveService> OpenAsync()
        {
            var archive = new ArchiveService(index, new FailingWrites(Folder) { FailuresLeft = failures }, new ArchiveOptions());
            await archive.InitializeAsync(CancellationToken.None);
            return archive;
        }

        public void Dispose()
        {
            Folder.Dispose();
            index.Dispose();
        }
    }

    private static Func<Stream, CancellationToken, Task> Write(byte[] bytes) => (destination, ct) => destination.WriteAsync(bytes, ct).AsTask();

    private static byte[] Instance(int number) =>
        SecondaryCapture.Bytes(Study, "1.2.826.0.1.3680043.10.72", $"1.2.826.0.1.3680043.10.73.{number}", dataset => dataset
            .AddOrUpdate(DicomTag.PatientID, DicomVR.LO, "DISKFULL")
            .AddOrUpdate(new DicomTag(0x0009, 0x0010), DicomVR.LO, "HOUNSFIELD TEST")
            .AddOrUpdate(new DicomTag(0x0009, 0x1000), DicomVR.OB, new byte[50_000]));

    /// <summary>A blob store whose next <see cref="FailuresLeft"/> temporaries fail once 10,000 bytes were written to them, as a full disk does.</summary>
    private sealed class FailingWrites(IBlobStore inner) : ForwardingBlobStore(inner)
    {
        public int FailuresLeft { get; set; }

        public override ITemporaryBlob CreateTemporary()
        {
            var temporary = base.CreateTemporary();
            return FailuresLeft-- > 0 ? new Failing(temporary) : temporary;
        }

        private sealed class Failing(ITemporaryBlob inner) : ForwardingTemporaryBlob(inner)
        {
            private readonly FullDisk content = new(inner.Content);

            public override Stream Content => content;
        }

        private sealed class FullDisk(Stream inner) : Stream
        {
            private long written;

            public override bool CanRead => false;

            public override bool CanSeek => false;

            public override bool CanWrite => true;

            public override long Length => inner.Length;

            public override long Position { get => written; set => throw new NotSupportedException(); }

            public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

            public override void Write(ReadOnlySpan<byte> buffer)
            {
                written += buffer.Length;
                if (written > 10_000)
                {
                    throw new IOException("No space left on device");
                }

                inner.Write(buffer);
            }

            public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
            {
                Write(buffer.Span);
                return ValueTask.CompletedTask;
            }

            public override void Flush() => inner.Flush();

            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();
        }
    }

    /// <summary>A sender's body that breaks off after <paramref name="length"/> bytes.</summary>
    private sealed class CutStream(byte[] bytes, int length) : Stream
    {
        public const string Message = "The sender's connection was reset.";
        private int position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (position >= length)
            {
                throw new IOException(Message);
            }

            var n = Math.Min(buffer.Length, length - position);
            bytes.AsSpan(position, n).CopyTo(buffer);
            position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.FromResult(Read(buffer, offset, count));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
