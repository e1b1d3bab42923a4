namespace Hounsfield.Archive.Ingest;

/// <summary>
/// The outcome of storing one instance, with the failure reasons of PS3.4 B.2.3 / PS3.18 §10.5.3
/// (0x0111 duplicate, 0xA700 out of resources, 0xA900 does not match, 0xC000 cannot understand).
/// </summary>
public sealed record IngestResult(bool Stored, ushort? FailureReason, string? SopClassUid, string? SopInstanceUid, string? StudyInstanceUid, string? SeriesInstanceUid, string Message)
{
    public const ushort DuplicateSopInstance = 0x0111;
    public const ushort OutOfResources = 0xA700;
    public const ushort DataSetDoesNotMatch = 0xA900;
    public const ushort CannotUnderstand = 0xC000;

    public static IngestResult Failure(ushort reason, string message, string? sopClassUid = null, string? sopInstanceUid = null) =>
        new(false, reason, sopClassUid, sopInstanceUid, null, null, message);
}

/// <summary>An instance larger than <see cref="ArchiveOptions.MaxInstanceLength"/>.</summary>
public sealed class InstanceTooLargeException(long limit) : Exception($"The instance is larger than the limit of {limit} bytes (Archive:MaxInstanceLength).")
{
    public long Limit { get; } = limit;
}

/// <summary>When an ingest returns to its caller.</summary>
public enum IngestCompletion
{
    /// <summary>Once the instance is durable and indexed.</summary>
    Indexed,

    /// <summary>
    /// Once the instance is durable, so that the caller can answer before the index is written (C-STORE); the caller then
    /// calls <see cref="ArchiveService.AfterAcknowledgedAsync"/>. The row is written a moment later, with others; reads of
    /// the archive meanwhile write the pending rows first.
    /// </summary>
    Durable,
}
