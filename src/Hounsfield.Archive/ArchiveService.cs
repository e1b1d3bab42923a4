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
    public async Task<IngestResult> IngestAsync(Stream content, string? requiredStudyUid, CancellationToken cancellationToken)
    {
        await using var temporary = blobs.CreateTemporary();
        var length = await CopyLimitedAsync(content, temporary.Content, options.MaxInstanceLength, cancellationToken);
        await temporary.Content.FlushAsync(cancellationToken);

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

    private static async Task<long> CopyLimitedAsync(Stream source, Stream destination, long limit, CancellationToken cancellationToken)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            long total = 0;
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                total += read;
                if (total > limit)
                {
                    throw new InstanceTooLargeException(limit);
                }

                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }

            return total;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
