using System.Security.Cryptography;
using System.Text;
using Hounsfield.Archive.Blobs;
using Hounsfield.Archive.Index;
using Hounsfield.Archive.Ingest;
using Hounsfield.Archive.Query;
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;

namespace Hounsfield.Archive;

/// <summary>
/// The archive: one ingest, one query engine, one retrieve, for every protocol. Writes are ordered blob first,
/// index second, so a crash leaves at worst an unindexed blob, which <see cref="InitializeAsync"/> removes.
/// </summary>
public sealed class ArchiveService(IArchiveIndex index, IBlobStore blobs, ArchiveOptions options)
{
    public ArchiveOptions Options => options;

    /// <summary>Creates the schema, drops temporary blobs of interrupted ingests and blobs the index does not know.</summary>
    public async Task<int> InitializeAsync(CancellationToken cancellationToken)
    {
        await index.InitializeAsync(cancellationToken);
        blobs.DeleteTemporaries();
        var known = await index.BlobKeysAsync(cancellationToken);
        var orphans = 0;
        foreach (var key in blobs.EnumerateKeys().ToList())
        {
            if (!known.Contains(key))
            {
                blobs.Delete(key);
                orphans++;
            }
        }

        return orphans;
    }

    /// <summary>Stores one instance streamed from <paramref name="content"/>, as received; the result says why when it is not stored.</summary>
    public Task<IngestResult> IngestAsync(Stream content, string? requiredStudyUid, CancellationToken cancellationToken) =>
        IngestAsync((destination, ct) => CopyLimitedAsync(content, destination, options.MaxInstanceLength, ct), requiredStudyUid, cancellationToken);

    /// <summary>
    /// Stores one instance that <paramref name="writeContent"/> writes as Part 10 bytes straight into the blob store
    /// (C-STORE: no intermediate copy); the length limit applies as the bytes arrive.
    /// </summary>
    public async Task<IngestResult> IngestAsync(Func<Stream, CancellationToken, Task> writeContent, string? requiredStudyUid, CancellationToken cancellationToken)
    {
        await using var temporary = blobs.CreateTemporary();
        await writeContent(new LengthLimitedStream(temporary.Content, options.MaxInstanceLength), cancellationToken);
        await temporary.Content.FlushAsync(cancellationToken);
        var length = temporary.Content.Length;

        DicomFile file;
        try
        {
            file = DicomFile.Open(temporary.Path);
        }
        catch (DicomFormatException ex)
        {
            return IngestResult.Failure(IngestResult.CannotUnderstand, $"Not a readable DICOM instance: {ex.Message}");
        }

        var dataset = file.Dataset;
        var sopClass = Uid(dataset, DicomTag.SOPClassUID) ?? Uid(file.Meta, DicomTag.MediaStorageSOPClassUID);
        var sopInstance = Uid(dataset, DicomTag.SOPInstanceUID) ?? Uid(file.Meta, DicomTag.MediaStorageSOPInstanceUID);
        var study = Uid(dataset, DicomTag.StudyInstanceUID);
        var series = Uid(dataset, DicomTag.SeriesInstanceUID);
        if (sopClass is null || sopInstance is null || study is null || series is null)
        {
            var missing = string.Join(", ", new[] { ("SOPClassUID", sopClass), ("SOPInstanceUID", sopInstance), ("StudyInstanceUID", study), ("SeriesInstanceUID", series) }
                .Where(p => p.Item2 is null).Select(p => p.Item1));
            return IngestResult.Failure(IngestResult.DataSetDoesNotMatch, $"The instance lacks a valid {missing}.", sopClass, sopInstance);
        }

        if (requiredStudyUid is not null && requiredStudyUid != study)
        {
            return IngestResult.Failure(IngestResult.DataSetDoesNotMatch, $"The instance belongs to study {study}, not to {requiredStudyUid} of the request.", sopClass, sopInstance);
        }

        var existing = await index.FindInstanceAsync(sopInstance, cancellationToken);
        if (existing is not null)
        {
            switch (options.DuplicatePolicy)
            {
                case DuplicatePolicy.Reject:
                    return IngestResult.Failure(IngestResult.DuplicateSopInstance, $"SOP instance {sopInstance} is already stored.", sopClass, sopInstance);
                case DuplicatePolicy.KeepFirst:
                    return new IngestResult(true, null, sopClass, sopInstance, existing.StudyInstanceUid, existing.SeriesInstanceUid, "Already stored; the stored copy was kept.");
            }
        }

        var key = BlobKey(sopInstance);
        var metadata = MetadataBuilder.Build(dataset, study, series, sopInstance, options.BulkDataThreshold);
        var record = InstanceRecord.FromDataset(dataset, file.TransferSyntax.Uid, key, length, metadata);
        await temporary.CommitAsync(key, cancellationToken);
        try
        {
            await index.AddInstanceAsync(record, CancellationToken.None);
        }
        catch
        {
            if (existing is null)
            {
                blobs.Delete(key);
            }

            throw;
        }

        return new IngestResult(true, null, sopClass, sopInstance, study, series, "Stored.");
    }

    public Task<QueryResult> QueryAsync(QidoQuery query, CancellationToken cancellationToken) => index.QueryAsync(query, cancellationToken);

    public Task<IReadOnlyList<StoredInstance>> ListInstancesAsync(string study, string? series, string? instance, CancellationToken cancellationToken) =>
        index.ListInstancesAsync(study, series, instance, cancellationToken);

    public IAsyncEnumerable<byte[]> ReadMetadataAsync(string study, string? series, string? instance, CancellationToken cancellationToken) =>
        index.ReadMetadataAsync(study, series, instance, cancellationToken);

    public Stream OpenInstance(StoredInstance instance) => blobs.OpenRead(instance.BlobKey);

    /// <summary>Reads a stored instance; large values stay in the blob and are read on demand.</summary>
    public DicomFile ReadInstance(StoredInstance instance) =>
        DicomReader.Read(blobs.OpenRead(instance.BlobKey), DicomReadOptions.Default, blobs.Reopener(instance.BlobKey));

    /// <summary>Deletes index rows first, then blobs: a crash in between leaves orphans, never rows without blobs.</summary>
    public async Task<int> DeleteAsync(string study, string? series, string? instance, CancellationToken cancellationToken)
    {
        var keys = await index.DeleteAsync(study, series, instance, cancellationToken);
        foreach (var key in keys)
        {
            blobs.Delete(key);
        }

        return keys.Count;
    }

    /// <summary>A key from the SHA-256 of the SOP Instance UID: hex only, so no UID can steer a path.</summary>
    internal static string BlobKey(string sopInstanceUid)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(sopInstanceUid)));
        return $"{hash[..2]}/{hash[2..4]}/{hash}.dcm";
    }

    /// <summary>A UID usable as a key and in a URL: lenient about the syntax of PS3.5 §9 (real files break it), strict about path characters.</summary>
    private static string? Uid(DicomDataset dataset, DicomTag tag)
    {
        var value = dataset.Find(tag) is DicomValueElement element ? dataset.DecodeString(element).Trim(' ', '\0') : null;
        return value is { Length: > 0 and <= 64 } && value.All(c => char.IsAsciiDigit(c) || c is '.' or ' ') ? value : null;
    }

    private static async Task CopyLimitedAsync(Stream source, Stream destination, long limit, CancellationToken cancellationToken)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        _ = limit; // enforced by the LengthLimitedStream the destination is
    }

    /// <summary>A write-only view that fails once more than <paramref name="limit"/> bytes were written.</summary>
    private sealed class LengthLimitedStream(Stream inner, long limit) : Stream
    {
        private long written;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => written;

        public override long Position { get => written; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Count(buffer.Length);
            inner.Write(buffer);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Count(buffer.Length);
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        private void Count(int count)
        {
            written += count;
            if (written > limit)
            {
                throw new InstanceTooLargeException(limit);
            }
        }
    }
}
