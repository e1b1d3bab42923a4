using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Hounsfield.Archive.Blobs;
using Hounsfield.Archive.Index;
using Hounsfield.Archive.Ingest;
using Hounsfield.Archive.Query;
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Hounsfield.Dicom.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hounsfield.Archive;

/// <summary>
/// The archive: one ingest, one query engine, one retrieve, for every protocol. Writes are ordered blob first, index
/// second, so a crash leaves at worst an unindexed blob. An instance is acknowledged once its blob is on disk and its
/// index row committed; that commit reaches the disk at once only when the blob's key could be reused (a file's). A power
/// loss can thus undo the last index commits of the other blobs (<see cref="IBlobStore.IsRecoverable"/>): one flush per
/// instance instead of two. <see cref="InitializeAsync"/> re-indexes every blob the index lacks but did not free.
/// For the same reason such a blob can be acknowledged before its row is written at all (<see cref="IngestCompletion.Durable"/>):
/// every read of the archive first writes the rows still pending, so it sees every instance acknowledged before it began.
/// </summary>
public sealed class ArchiveService(IArchiveIndex index, IBlobStore blobs, ArchiveOptions options, ILogger<ArchiveService>? logger = null) : IAsyncDisposable
{
    private const int RecoveryProgressInterval = 10_000;
    private const int RecoveryBatchSize = 64;
    private const long RecoveryBatchMetadataLength = 8 * 1024 * 1024;

    private readonly InstanceCommitGate commitGate = new();
    private readonly PendingIndexing pendingIndexing = new(index, options.IndexWriteDelay, logger ?? NullLogger<ArchiveService>.Instance);

    public ArchiveOptions Options => options;

    /// <summary>
    /// Creates the schema, drops temporary blobs of interrupted ingests, and re-indexes the stored blobs the index lacks:
    /// those whose index commit a power loss undid, those of an ingest interrupted between its blob and its row, all of them
    /// when the index was lost. Records go oldest first (of two copies of one instance the first acknowledged wins). Blobs
    /// the index freed (deleted or replaced) whose removal did not reach the disk, and unreadable ones, are removed.
    /// </summary>
    public Task<ArchiveStartup> InitializeAsync(CancellationToken cancellationToken) => InitializeAsync(null, cancellationToken);

    /// <inheritdoc cref="InitializeAsync(CancellationToken)"/>
    /// <param name="recovering">Told before the first blob read, then every 10 000 and at the end, how many were read and how
    /// far the sweep is: a lost index of millions of instances takes a while to rebuild.</param>
    public async Task<ArchiveStartup> InitializeAsync(IProgress<ArchiveRecovery>? recovering, CancellationToken cancellationToken)
    {
        await index.InitializeAsync(cancellationToken);
        blobs.DeleteTemporaries();
        var freed = await index.FreedBlobKeysAsync(cancellationToken);
        var parts = blobs.KeyPrefixes();
        int read = 0, recovered = 0, removed = 0;
        for (var part = 0; part < parts.Count; part++)
        {
            var known = new HashSet<string>(await index.BlobKeysAsync(parts[part], cancellationToken), StringComparer.Ordinal);
            var batch = new RecoveryBatch();
            foreach (var key in blobs.EnumerateUnreferenced(parts[part], known).Where(key => !freed.Contains(key)).ToList())
            {
                if (read % RecoveryProgressInterval == 0)
                {
                    recovering?.Report(new ArchiveRecovery(read, part, parts.Count));
                }

                read++;
                // Of two copies of one instance the first wins: the one in the index, else the one met first.
                if (ReadRecoverable(key) is { } record && !batch.Holds(record.SopInstanceUid) &&
                    await index.FindInstanceAsync(record.SopInstanceUid, cancellationToken) is null)
                {
                    batch.Add(record);
                    if (batch.Count == RecoveryBatchSize || batch.MetadataLength >= RecoveryBatchMetadataLength)
                    {
                        recovered += await IndexRecoveredAsync(batch, known, cancellationToken);
                    }
                }
            }

            recovered += await IndexRecoveredAsync(batch, known, cancellationToken);
            removed += blobs.RemoveUnreferenced(parts[part], known);
        }

        if (read > 0)
        {
            recovering?.Report(new ArchiveRecovery(read, parts.Count, parts.Count));
        }

        await index.ForgetFreedBlobsAsync([.. freed], cancellationToken);
        blobs.PrepareSpace();
        return new ArchiveStartup(recovered, removed);
    }

    /// <summary>The index record of the blob of <paramref name="key"/> as received; null when it is unreadable or lacks its UIDs.</summary>
    private InstanceRecord? ReadRecoverable(string key)
    {
        using var stream = blobs.OpenRead(key);
        try
        {
            // Large values stay in the blob, read on demand: a multi-GB instance is parsed in bounded memory.
            return Describe(DicomReader.Read(stream, DicomReadOptions.Default, blobs.Reopener(key)), key, stream.Length, requiredStudyUid: null).Record;
        }
        catch (Exception ex) when (ex is DicomFormatException or EndOfStreamException)
        {
            return null;
        }
    }

    /// <summary>
    /// Indexes the batch's instances in one commit, notes their keys as known, and empties the batch; returns how many. A
    /// record rebuilds its row again should a power loss undo a lazy commit, as at ingest; a file's key is reused, so a batch
    /// holding a file is committed durably.
    /// </summary>
    private async Task<int> IndexRecoveredAsync(RecoveryBatch batch, HashSet<string> known, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return 0;
        }

        await index.AddInstancesAsync(batch.Records, durable: batch.Records.Exists(record => !blobs.IsRecoverable(record.BlobKey)), cancellationToken);
        known.UnionWith(batch.Records.Select(record => record.BlobKey));
        var count = batch.Count;
        batch.Clear();
        return count;
    }

    /// <summary>Blobs read at start-up whose instances are not indexed yet (each record names its blob), indexed together.</summary>
    private sealed class RecoveryBatch
    {
        private readonly HashSet<string> sopInstanceUids = new(StringComparer.Ordinal);

        public List<InstanceRecord> Records { get; } = [];

        public int Count => Records.Count;

        /// <summary>The bytes of metadata JSON the batch holds.</summary>
        public long MetadataLength { get; private set; }

        public bool Holds(string sopInstanceUid) => sopInstanceUids.Contains(sopInstanceUid);

        public void Add(InstanceRecord record)
        {
            Records.Add(record);
            sopInstanceUids.Add(record.SopInstanceUid);
            MetadataLength += record.Metadata.Length;
        }

        public void Clear()
        {
            Records.Clear();
            sopInstanceUids.Clear();
            MetadataLength = 0;
        }
    }

    /// <summary>Stores one instance streamed from <paramref name="content"/>, as received; the result says why when it is not stored.</summary>
    public Task<IngestResult> IngestAsync(Stream content, string? requiredStudyUid, CancellationToken cancellationToken) =>
        IngestAsync(CopyFrom(content), requiredStudyUid, cancellationToken);

    /// <summary>
    /// Stores one instance that <paramref name="writeContent"/> writes as Part 10 bytes straight into the blob store
    /// (C-STORE: no intermediate copy); the length limit applies as the bytes arrive.
    /// </summary>
    public Task<IngestResult> IngestAsync(Func<Stream, CancellationToken, Task> writeContent, string? requiredStudyUid, CancellationToken cancellationToken) =>
        IngestAsync(writeContent, requiredStudyUid, IngestCompletion.Indexed, cancellationToken);

    /// <inheritdoc cref="IngestAsync(Func{Stream, CancellationToken, Task}, string?, CancellationToken)"/>
    /// <param name="completion">Whether to return once the instance is indexed, or as soon as it is durable (then the caller
    /// answers, and calls <see cref="IndexPendingAsync"/>).</param>
    public async Task<IngestResult> IngestAsync(Func<Stream, CancellationToken, Task> writeContent, string? requiredStudyUid, IngestCompletion completion, CancellationToken cancellationToken)
    {
        var received = await ReceiveAsync(writeContent, requiredStudyUid, cancellationToken);
        return received.Instance is { } instance ? await CommitAsync(instance, completion, cancellationToken) : received.Failure!;
    }

    /// <summary>
    /// Writes the index rows of the instances acknowledged before them (<see cref="IngestCompletion.Durable"/>) now, rather
    /// than when their scheduled write comes. Failures are logged; those instances are indexed at the next start.
    /// </summary>
    public ValueTask IndexPendingAsync() => pendingIndexing.WriteAsync();

    /// <summary>
    /// What an ingest's caller does once it has answered (<see cref="IngestCompletion.Durable"/>): the pending rows are
    /// written together a moment later, unless so many wait that this caller writes them (and its sender waits).
    /// </summary>
    public ValueTask AfterAcknowledgedAsync() => pendingIndexing.WriteIfBackloggedAsync();

    /// <summary>
    /// Writes the rows still pending, so that a clean stop leaves the next start nothing to re-index. The host disposes the
    /// archive after the servers that ingest into it, and before the index and blob store it was given.
    /// </summary>
    public ValueTask DisposeAsync() => IndexPendingAsync();

    /// <summary>
    /// A batch of instances received one after the other (the parts of one STOW-RS request) whose durable commits overlap:
    /// see <see cref="IngestBatch"/>.
    /// </summary>
    public IngestBatch BeginBatch(IngestCompletion completion = IngestCompletion.Indexed) =>
        new(this, options.MaxConcurrentCommits, options.MaxConcurrentCommitMemory, completion);

    /// <summary>
    /// Whether an identifying UID of this value can be stored: 1 to 64 characters, digits and dots (and spaces, which
    /// some senders leave inside). Laxer than PS3.5 §9.1, as received data often is; no stored instance has another.
    /// </summary>
    public static bool IsStorableUid([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? uid) =>
        uid is { Length: > 0 and <= 64 } && uid.All(c => char.IsAsciiDigit(c) || c is '.' or ' ');

    internal static Func<Stream, CancellationToken, Task> CopyFrom(Stream content) =>
        (destination, ct) => content.CopyToAsync(destination, 81920, ct);

    /// <summary>
    /// First half of an ingest: streams the bytes to a temporary blob, parses them and checks the identifying UIDs;
    /// nothing is visible or durable yet. The caller owns the returned instance's temporary blob. The parsed data set may
    /// point into the temporary blob's memory: everything kept of it (record, metadata) is copied out here.
    /// </summary>
    internal async Task<(ReceivedInstance? Instance, IngestResult? Failure)> ReceiveAsync(Func<Stream, CancellationToken, Task> writeContent, string? requiredStudyUid, CancellationToken cancellationToken)
    {
        var temporary = blobs.CreateTemporary();
        try
        {
            var (record, failure) = await WriteAsync(temporary, writeContent, cancellationToken) is { } unwritten
                ? (null, unwritten)
                : Parse(temporary, requiredStudyUid);
            if (record is null)
            {
                await temporary.DisposeAsync();
                return (null, failure);
            }

            return (new ReceivedInstance(temporary, record), null);
        }
        catch
        {
            await temporary.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Receives the instance's bytes into <paramref name="temporary"/>. A failure to write them (a full or failing disk) is
    /// the archive's, not the sender's: it comes back as an out-of-resources result, while errors reading the bytes (a
    /// malformed or cut request, a failed association) propagate to the caller as they are.
    /// </summary>
    private async Task<IngestResult?> WriteAsync(ITemporaryBlob temporary, Func<Stream, CancellationToken, Task> writeContent, CancellationToken cancellationToken)
    {
        var destination = new LengthLimitedStream(temporary.Content, options.MaxInstanceLength);
        try
        {
            await writeContent(destination, cancellationToken);
            await destination.FlushAsync(cancellationToken);
            return null;
        }
        catch (StorageWriteException ex)
        {
            logger?.LogError(ex.InnerException, "An incoming instance could not be written to storage.");
            return IngestResult.Failure(IngestResult.OutOfResources, $"The instance could not be stored: {ex.InnerException!.Message}");
        }
    }

    /// <summary>The index record of the bytes written to <paramref name="temporary"/>, or why they cannot be stored.</summary>
    private (InstanceRecord? Record, IngestResult? Failure) Parse(ITemporaryBlob temporary, string? requiredStudyUid)
    {
        DicomFile file;
        try
        {
            file = temporary.Memory is { } bytes ? DicomFile.Read(bytes) : DicomFile.Open(temporary.Path!);
        }
        catch (DicomFormatException ex)
        {
            return (null, IngestResult.Failure(IngestResult.CannotUnderstand, $"Not a readable DICOM instance: {ex.Message}"));
        }

        return Describe(file, blobKey: null, temporary.Content.Length, requiredStudyUid);
    }

    /// <summary>
    /// The index record of a parsed instance, after checking its identifying UIDs; its blob key is <paramref name="blobKey"/>,
    /// or when null the key of a file of its own (the blob store may choose another at the commit).
    /// </summary>
    private (InstanceRecord? Record, IngestResult? Failure) Describe(DicomFile file, string? blobKey, long length, string? requiredStudyUid)
    {
        var dataset = file.Dataset;
        var sopClass = Uid(dataset, DicomTag.SOPClassUID) ?? Uid(file.Meta, DicomTag.MediaStorageSOPClassUID);
        var sopInstance = Uid(dataset, DicomTag.SOPInstanceUID) ?? Uid(file.Meta, DicomTag.MediaStorageSOPInstanceUID);
        var study = Uid(dataset, DicomTag.StudyInstanceUID);
        var series = Uid(dataset, DicomTag.SeriesInstanceUID);
        if (sopClass is null || sopInstance is null || study is null || series is null)
        {
            var missing = string.Join(", ", new[] { ("SOPClassUID", sopClass), ("SOPInstanceUID", sopInstance), ("StudyInstanceUID", study), ("SeriesInstanceUID", series) }
                .Where(p => p.Item2 is null).Select(p => p.Item1));
            return (null, IngestResult.Failure(IngestResult.DataSetDoesNotMatch, $"The instance lacks a valid {missing}.", sopClass, sopInstance));
        }

        if (requiredStudyUid is not null && requiredStudyUid != study)
        {
            return (null, IngestResult.Failure(IngestResult.DataSetDoesNotMatch, $"The instance belongs to study {study}, not to {requiredStudyUid} of the request.", sopClass, sopInstance));
        }

        var metadata = MetadataBuilder.Build(dataset, study, series, sopInstance, options.BulkDataThreshold);
        // The UIDs as checked above (the file meta's when the data set lacks them), not as the data set spells them.
        var record = InstanceRecord.FromDataset(dataset, file.TransferSyntax.Uid, blobKey ?? BlobKey(series, sopInstance), length, metadata) with
        {
            SopClassUid = sopClass,
            SopInstanceUid = sopInstance,
            StudyInstanceUid = study,
            SeriesInstanceUid = series,
        };
        return (record, null);
    }

    /// <summary>
    /// Second half of an ingest: applies the duplicate policy, makes the blob durable under its key, then indexes it (or,
    /// for <see cref="IngestCompletion.Durable"/>, leaves that to <see cref="IndexPendingAsync"/> when a lost row would come
    /// back from the blob). Disposes the instance's temporary blob in every case. Copies of one instance commit one after
    /// the other.
    /// </summary>
    /// <param name="durableKey">The key of the blob when it was made durable before (<see cref="IngestAnnouncedAsync"/>);
    /// that blob is removed when the instance is not stored.</param>
    internal async Task<IngestResult> CommitAsync(ReceivedInstance instance, IngestCompletion completion, CancellationToken cancellationToken, string? durableKey = null)
    {
        await using var temporary = instance.Temporary;
        var record = instance.Record;
        var turn = await EnterTurnAsync(record.SopInstanceUid);
        InstanceRecord? unindexed = null;
        try
        {
            (var result, unindexed) = await CommitInTurnAsync(temporary, record, durableKey, completion, cancellationToken);
            return result;
        }
        finally
        {
            Release(turn, unindexed);
        }
    }

    /// <summary>
    /// Stores one instance whose SOP Instance UID its sender names before its bytes (a C-STORE request's Affected SOP Instance
    /// UID), and returns once it is durable (<see cref="IngestCompletion.Durable"/>). The instance's commit turn comes
    /// first, so that the bytes of an instance held in memory are written and flushed while a pool thread parses them and
    /// looks for a stored copy: the flush, the longest step of an ingest, no longer waits for the parse, the metadata and
    /// the checks, and they no longer wait in the sender's path. A blob so made durable before its instance is accepted is
    /// removed, durably, when the instance is not stored: a copy the duplicate policy refuses costs a write and its removal
    /// (a sender's repeat is the rare case, a new instance the common one). A data set that names another instance than
    /// its sender did is committed in that instance's turn.
    /// </summary>
    public async Task<IngestResult> IngestAnnouncedAsync(string sopInstanceUid, Func<Stream, CancellationToken, Task> writeContent, CancellationToken cancellationToken)
    {
        InstanceCommitGate.Turn? turn = await EnterTurnAsync(sopInstanceUid);
        ITemporaryBlob? temporary = blobs.CreateTemporary();
        InstanceRecord? unindexed = null;
        try
        {
            if (await WriteAsync(temporary, writeContent, cancellationToken) is { } unwritten)
            {
                return unwritten;
            }

            var (record, failure, durableKey, copy) = temporary.ChoosesKey
                ? await ParseWhileCommittingAsync(temporary, sopInstanceUid, cancellationToken)
                : await ParseAndFindCopyAsync(temporary, sopInstanceUid, cancellationToken);
            if (record is null)
            {
                Discard(durableKey);
                return failure!;
            }

            if (record.SopInstanceUid != sopInstanceUid)
            {
                Release(turn.Value, null);
                turn = null;
                var received = new ReceivedInstance(temporary, record);
                temporary = null;
                return await CommitAsync(received, IngestCompletion.Durable, cancellationToken, durableKey);
            }

            (var result, unindexed) = await CommitInTurnAsync(temporary, record, durableKey, IngestCompletion.Durable, cancellationToken, knownNew: !copy);
            return result;
        }
        finally
        {
            if (temporary is not null)
            {
                await temporary.DisposeAsync();
            }

            if (turn is { } held)
            {
                Release(held, unindexed);
            }
        }

    }

    /// <summary>Parses the bytes in <paramref name="temporary"/> and looks for a stored copy of <paramref name="sopInstanceUid"/>.</summary>
    private async Task<(InstanceRecord? Record, IngestResult? Failure, string? DurableKey, bool Copy)> ParseAndFindCopyAsync(ITemporaryBlob temporary, string sopInstanceUid, CancellationToken cancellationToken)
    {
        var (record, failure) = Parse(temporary, requiredStudyUid: null);
        var copy = record is not null && await index.FindInstanceAsync(sopInstanceUid, cancellationToken) is not null;
        return (record, failure, null, copy);
    }

    /// <summary>
    /// Makes the bytes in <paramref name="temporary"/> durable under a key the store chooses, while a pool thread parses
    /// them and looks for a stored copy; the flush outlasts both, so this thread finds them done and does not switch
    /// threads to go on.
    /// </summary>
    private async Task<(InstanceRecord? Record, IngestResult? Failure, string? DurableKey, bool Copy)> ParseWhileCommittingAsync(ITemporaryBlob temporary, string sopInstanceUid, CancellationToken cancellationToken)
    {
        var parsing = Task.Run(() => ParseAndFindCopyAsync(temporary, sopInstanceUid, cancellationToken), CancellationToken.None);
        string key;
        try
        {
            key = await temporary.CommitAsync(fileKey: string.Empty, cancellationToken);
        }
        catch
        {
            // The parse reads the temporary blob's buffer, which the caller gives back once this returns.
            await ((Task)parsing).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }

        try
        {
            var (record, failure, _, copy) = await parsing;
            return (record, failure, key, copy);
        }
        catch
        {
            Discard(key);
            throw;
        }
    }

    /// <summary>
    /// Takes the instance's commit turn. A pending copy holds its turn until its row is written, so that row is written
    /// first; one acknowledged meanwhile is written by the write scheduled when it was added
    /// (<see cref="ArchiveOptions.IndexWriteDelay"/>), whoever acknowledged it.
    /// </summary>
    private async ValueTask<InstanceCommitGate.Turn> EnterTurnAsync(string sopInstanceUid)
    {
        if (pendingIndexing.Holds(sopInstanceUid))
        {
            await pendingIndexing.WriteAsync();
        }

        return await commitGate.EnterAsync(sopInstanceUid);
    }

    /// <summary>Gives the instance's commit turn back, or hands it to the pending row of <paramref name="unindexed"/>, which gives it back once written.</summary>
    private void Release(InstanceCommitGate.Turn turn, InstanceRecord? unindexed)
    {
        if (unindexed is not null)
        {
            pendingIndexing.Add(unindexed, turn);
        }
        else
        {
            turn.Dispose();
        }
    }

    /// <summary>Removes a blob made durable before its instance was accepted, which is not stored: start-up would recover it.</summary>
    private void Discard(string? durableKey)
    {
        if (durableKey is not null)
        {
            blobs.DeleteDurably(durableKey);
        }
    }

    /// <param name="knownNew">Whether the caller, in this turn, found no stored copy of the instance.</param>
    /// <returns>The outcome, and the record when its index row is left pending.</returns>
    private async Task<(IngestResult Result, InstanceRecord? Unindexed)> CommitInTurnAsync(ITemporaryBlob temporary, InstanceRecord record, string? durableKey, IngestCompletion completion, CancellationToken cancellationToken, bool knownNew = false)
    {
        StoredInstance? existing = null;
        try
        {
            existing = knownNew ? null : await index.FindInstanceAsync(record.SopInstanceUid, cancellationToken);
        }
        catch
        {
            Discard(durableKey);
            throw;
        }

        if (existing is not null)
        {
            switch (options.DuplicatePolicy)
            {
                case DuplicatePolicy.Reject:
                    Discard(durableKey);
                    return (IngestResult.Failure(IngestResult.DuplicateSopInstance, $"SOP instance {record.SopInstanceUid} is already stored.", record.SopClassUid, record.SopInstanceUid), null);
                case DuplicatePolicy.KeepFirst:
                    Discard(durableKey);
                    return (new IngestResult(true, null, record.SopClassUid, record.SopInstanceUid, existing.StudyInstanceUid, existing.SeriesInstanceUid, "Already stored; the stored copy was kept."), null);
            }
        }

        record = record with { BlobKey = durableKey ?? await temporary.CommitAsync(record.BlobKey, cancellationToken) };
        if (completion == IngestCompletion.Durable && existing is null && blobs.IsRecoverable(record.BlobKey))
        {
            return (Stored(record), record);
        }

        // A copy stored under another key (another series, or a segment record) leaves the stored one in place until the
        // index points at the new one.
        var replacedKey = existing?.BlobKey == record.BlobKey ? null : existing?.BlobKey;
        try
        {
            // Durable when a copy is replaced (its blob is freed next) or when the blob could not rebuild the row.
            await index.AddInstanceAsync(record, durable: existing is not null || !blobs.IsRecoverable(record.BlobKey), CancellationToken.None);
        }
        catch
        {
            if (existing is null || replacedKey is not null)
            {
                // Durably: the failure is reported, so the blob must not come back after a power loss and be recovered.
                blobs.DeleteDurably(record.BlobKey);
            }

            throw;
        }

        // The replaced row noted its key as freed: forgotten once that blob is gone for good, or at once when the new copy
        // took the same file key.
        if (replacedKey is not null)
        {
            await FreeAsync([replacedKey]);
        }
        else if (existing is not null)
        {
            await index.ForgetFreedBlobsAsync([existing.BlobKey], CancellationToken.None);
        }

        return (Stored(record), null);
    }

    private static IngestResult Stored(InstanceRecord record) =>
        new(true, null, record.SopClassUid, record.SopInstanceUid, record.StudyInstanceUid, record.SeriesInstanceUid, "Stored.");

    public async Task<QueryResult> QueryAsync(QidoQuery query, CancellationToken cancellationToken)
    {
        await pendingIndexing.WriteAsync();
        return await index.QueryAsync(query, cancellationToken);
    }

    public async Task<IReadOnlyList<StoredInstance>> ListInstancesAsync(string study, string? series, string? instance, CancellationToken cancellationToken)
    {
        await pendingIndexing.WriteAsync();
        return await index.ListInstancesAsync(study, series, instance, cancellationToken);
    }

    public async IAsyncEnumerable<byte[]> ReadMetadataAsync(string study, string? series, string? instance, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await pendingIndexing.WriteAsync();
        await foreach (var metadata in index.ReadMetadataAsync(study, series, instance, cancellationToken))
        {
            yield return metadata;
        }
    }

    public Stream OpenInstance(StoredInstance instance) => blobs.OpenRead(instance.BlobKey);

    /// <summary>Reads a stored instance; large values stay in the blob and are read on demand.</summary>
    public DicomFile ReadInstance(StoredInstance instance) =>
        DicomReader.Read(blobs.OpenRead(instance.BlobKey), DicomReadOptions.Default, blobs.Reopener(instance.BlobKey));

    /// <summary>
    /// Deletes index rows first, then blobs: a crash in between leaves orphans, never rows without blobs. The rows note their
    /// blobs' keys as freed, so that start-up removes rather than recovers a blob whose removal did not reach the disk; the
    /// notes are dropped once the removal is on disk, so they do not pile up between restarts.
    /// </summary>
    /// <remarks>
    /// Each instance's commit turn is held until its blob is gone: a copy of it stored again meanwhile would otherwise lose
    /// its blob to this delete (a large instance's file key is the same for every copy). Turns are taken in UID order, so
    /// two deletes never wait for each other's.
    /// </remarks>
    public async Task<int> DeleteAsync(string study, string? series, string? instance, CancellationToken cancellationToken)
    {
        await pendingIndexing.WriteAsync();
        var listed = await index.ListInstancesAsync(study, series, instance, cancellationToken);
        var sopInstanceUids = listed.Select(i => i.SopInstanceUid).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var turns = new List<InstanceCommitGate.Turn>(sopInstanceUids.Count);
        try
        {
            foreach (var sopInstanceUid in sopInstanceUids)
            {
                turns.Add(await commitGate.EnterAsync(sopInstanceUid));
            }

            var keys = await index.DeleteInstancesAsync(sopInstanceUids, cancellationToken);
            await FreeAsync(keys);
            return keys.Count;
        }
        finally
        {
            turns.ForEach(turn => turn.Dispose());
        }
    }

    /// <summary>
    /// Removes the blobs of rows already removed, and forgets their freed-key notes once the removal is on disk. The rows are
    /// gone either way: a blob left by a failure here keeps its note, and start-up removes it.
    /// </summary>
    private async Task FreeAsync(IReadOnlyCollection<string> keys)
    {
        try
        {
            await index.ForgetFreedBlobsAsync(blobs.DeleteDurably(keys), CancellationToken.None);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Reported by nobody: the instance is deleted (or replaced) as asked, and its old blob goes at the next start.
        }
    }

    /// <summary>
    /// The key of an instance stored as a file of its own (a large one; the blob store keeps small ones in segments), from
    /// the SHA-256 of the series and of the SOP Instance UID: hex only, so no UID can steer a path. One folder per series:
    /// ingest creates (and flushes) a folder per series, not per instance, and a series is read from one folder.
    /// </summary>
    internal static string BlobKey(string seriesInstanceUid, string sopInstanceUid)
    {
        var series = HexHash(seriesInstanceUid);
        return $"{series[..2]}/{series}/{HexHash(sopInstanceUid)}.dcm";
    }

    private static string HexHash(string uid) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(uid)));

    /// <summary>A UID usable as a key and in a URL: lenient about the syntax of PS3.5 §9 (real files break it), strict about path characters.</summary>
    private static string? Uid(DicomDataset dataset, DicomTag tag)
    {
        var value = dataset.Find(tag) is DicomValueElement element ? dataset.DecodeString(element).TrimPadding() : null;
        return IsStorableUid(value) ? value : null;
    }

    /// <summary>Writing an incoming instance to the blob store failed (not reading it from its sender).</summary>
    private sealed class StorageWriteException(Exception inner) : Exception(inner.Message, inner);

    /// <summary>
    /// A write-only view that fails once more than <paramref name="limit"/> bytes were written, and tells the blob store's
    /// write failures (<see cref="StorageWriteException"/>) from the sender's, which pass through it as they are.
    /// </summary>
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
            try
            {
                inner.Write(buffer);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new StorageWriteException(ex);
            }
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Count(buffer.Length);
            try
            {
                await inner.WriteAsync(buffer, cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new StorageWriteException(ex);
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
            try
            {
                inner.Flush();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new StorageWriteException(ex);
            }
        }

        public override async Task FlushAsync(CancellationToken cancellationToken)
        {
            try
            {
                await inner.FlushAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new StorageWriteException(ex);
            }
        }

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

/// <summary>What start-up did to the blobs: instances re-indexed from their blobs, and blobs removed that no index row refers to.</summary>
public readonly record struct ArchiveStartup(int Recovered, int Removed);

/// <summary>Start-up's progress through blobs the index lacks: <paramref name="Read"/> read so far, and the parts of the blob store swept (of <see cref="IBlobStore.KeyPrefixes"/>).</summary>
public readonly record struct ArchiveRecovery(int Read, int PartsSwept, int Parts);
