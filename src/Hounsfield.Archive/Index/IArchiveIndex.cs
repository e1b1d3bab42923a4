using Hounsfield.Archive.Query;

namespace Hounsfield.Archive.Index;

/// <summary>The index: the truth for queries. SQL kept portable so a PostgreSQL implementation can follow.</summary>
public interface IArchiveIndex
{
    Task InitializeAsync(CancellationToken cancellationToken);

    Task<StoredInstance?> FindInstanceAsync(string sopInstanceUid, CancellationToken cancellationToken);

    /// <summary>Indexes the instance in one transaction, replacing the row of the same SOP Instance UID when there is one.</summary>
    Task AddInstanceAsync(InstanceRecord record, CancellationToken cancellationToken);

    Task<QueryResult> QueryAsync(QidoQuery query, CancellationToken cancellationToken);

    /// <summary>Instances of a study, series or single instance (null UIDs widen the scope), in series and instance order.</summary>
    Task<IReadOnlyList<StoredInstance>> ListInstancesAsync(string studyInstanceUid, string? seriesInstanceUid, string? sopInstanceUid, CancellationToken cancellationToken);

    /// <summary>Stored DICOM JSON of the instances in scope, in the same order as <see cref="ListInstancesAsync"/>.</summary>
    IAsyncEnumerable<byte[]> ReadMetadataAsync(string studyInstanceUid, string? seriesInstanceUid, string? sopInstanceUid, CancellationToken cancellationToken);

    /// <summary>Removes the rows in scope (and emptied series, studies, patients); returns the blob keys to delete.</summary>
    Task<IReadOnlyList<string>> DeleteAsync(string studyInstanceUid, string? seriesInstanceUid, string? sopInstanceUid, CancellationToken cancellationToken);

    /// <summary>Every blob key the index refers to, for the orphan sweep.</summary>
    Task<IReadOnlySet<string>> BlobKeysAsync(CancellationToken cancellationToken);
}
