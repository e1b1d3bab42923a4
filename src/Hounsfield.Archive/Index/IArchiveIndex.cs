using Hounsfield.Archive.Query;

namespace Hounsfield.Archive.Index;

/// <summary>The index: the truth for queries. SQL kept portable so a PostgreSQL implementation can follow.</summary>
public interface IArchiveIndex
{
    Task InitializeAsync(CancellationToken cancellationToken);

    Task<StoredInstance?> FindInstanceAsync(string sopInstanceUid, CancellationToken cancellationToken);

    /// <summary>
    /// Indexes the instance in one transaction, replacing the row of the same SOP Instance UID when there is one. The commit
    /// is on disk when this returns if <paramref name="durable"/>, or if it replaces a row; otherwise a power loss may undo
    /// it, and the instance's blob must be able to rebuild it (<see cref="Blobs.IBlobStore.IsRecoverable"/>).
    /// </summary>
    Task AddInstanceAsync(InstanceRecord record, bool durable, CancellationToken cancellationToken);

    /// <summary>
    /// Indexes several instances, as <see cref="AddInstanceAsync"/> each, in one commit where they can share it (one
    /// failing instance fails alone, and the call reports it). Start-up's rebuild adds the blobs it recovers this way.
    /// </summary>
    Task AddInstancesAsync(IReadOnlyCollection<InstanceRecord> records, bool durable, CancellationToken cancellationToken);

    Task<QueryResult> QueryAsync(QidoQuery query, CancellationToken cancellationToken);

    /// <summary>Instances of a study, series or single instance (null UIDs widen the scope), in series and instance order.</summary>
    Task<IReadOnlyList<StoredInstance>> ListInstancesAsync(string studyInstanceUid, string? seriesInstanceUid, string? sopInstanceUid, CancellationToken cancellationToken);

    /// <summary>Stored DICOM JSON of the instances in scope, in the same order as <see cref="ListInstancesAsync"/>.</summary>
    IAsyncEnumerable<byte[]> ReadMetadataAsync(string studyInstanceUid, string? seriesInstanceUid, string? sopInstanceUid, CancellationToken cancellationToken);

    /// <summary>
    /// Removes the rows of these instances (and emptied series, studies, patients) in one durable commit, noting their blob
    /// keys as freed; returns those keys (none for an instance not indexed).
    /// </summary>
    Task<IReadOnlyList<string>> DeleteInstancesAsync(IReadOnlyCollection<string> sopInstanceUids, CancellationToken cancellationToken);

    /// <summary>
    /// The blob keys the index refers to that start with <paramref name="prefix"/> (every key for an empty one), for the orphan
    /// sweep, which asks for one part of the blob store at a time; answered from an index on the key, not a scan of the rows.
    /// </summary>
    Task<IReadOnlySet<string>> BlobKeysAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>
    /// The blob keys of rows deleted or replaced (durably) since <see cref="ForgetFreedBlobsAsync"/>: their blobs may be back
    /// after a power loss, and must not be recovered.
    /// </summary>
    Task<IReadOnlySet<string>> FreedBlobKeysAsync(CancellationToken cancellationToken);

    /// <summary>Forgets freed keys, once their blobs' removal is on disk (or a row refers to the key again).</summary>
    Task ForgetFreedBlobsAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken);
}
