// Failures of the DICOM upper layer (PS3.8 §9) and of DIMSE (PS3.7 §9): protocol violations, limits, timeouts,
// rejected and aborted associations. Each names what went wrong in terms of the standard.
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network;

/// <summary>A protocol violation, an exceeded limit, a timeout or a lost connection on a DICOM association.</summary>
public class DicomNetworkException : Exception
{
    public DicomNetworkException(string message)
        : base(message)
    {
    }

    public DicomNetworkException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal DicomNetworkException(string message, DicomAbortReason abortReason, Exception? innerException = null)
        : base(message, innerException)
    {
        AbortReason = abortReason;
    }

    /// <summary>The A-ABORT reason a service provider sends the peer for this failure (PS3.8 Table 9-26).</summary>
    public DicomAbortReason AbortReason { get; } = DicomAbortReason.NotSpecified;
}

/// <summary>Input beyond a limit of <see cref="Association.DicomAssociationOptions"/>; the message names the limit.</summary>
public sealed class DicomNetworkLimitException : DicomNetworkException
{
    public DicomNetworkLimitException(string limitName, long limit, long actual, string what)
        : base($"{what}: {actual} exceeds {limitName} ({limit})", DicomAbortReason.InvalidPduParameterValue)
    {
        LimitName = limitName;
        Limit = limit;
        Actual = actual;
    }

    public string LimitName { get; }

    public long Limit { get; }

    public long Actual { get; }
}

/// <summary>No PDU, or no DIMSE message, arrived within the configured time (ARTIM, DIMSE or idle timeout).</summary>
public sealed class DicomNetworkTimeoutException : DicomNetworkException
{
    public DicomNetworkTimeoutException(string timerName, TimeSpan timeout, string waitingFor)
        : base($"{timerName} of {timeout.TotalSeconds:0.###} s expired waiting for {waitingFor}")
    {
        TimerName = timerName;
        Timeout = timeout;
    }

    public string TimerName { get; }

    public TimeSpan Timeout { get; }
}

/// <summary>The peer rejected the association (A-ASSOCIATE-RJ, PS3.8 §9.3.4).</summary>
public sealed class DicomAssociationRejectedException : DicomNetworkException
{
    public DicomAssociationRejectedException(DicomAssociationReject reject)
        : base($"Association rejected: {reject}")
    {
        Reject = reject;
    }

    public DicomAssociationReject Reject { get; }
}

/// <summary>The association was aborted (A-ABORT received, PS3.8 §9.3.8).</summary>
public sealed class DicomAssociationAbortedException : DicomNetworkException
{
    public DicomAssociationAbortedException(DicomAbortSource source, DicomAbortReason reason)
        : base($"Association aborted by the peer ({source}, {reason})")
    {
        Source = source;
        Reason = reason;
    }

    public new DicomAbortSource Source { get; }

    public DicomAbortReason Reason { get; }
}

/// <summary>
/// A DIMSE operation ended with a status that is neither success nor pending. Providers throw it to answer a request
/// with a specific status; the SCU throws it when the peer answers with a failure.
/// </summary>
public sealed class DicomStatusException : Exception
{
    public DicomStatusException(DicomStatus status, string? comment = null)
        : base(comment is null ? $"DIMSE status {status}" : $"DIMSE status {status}: {comment}")
    {
        Status = status;
        Comment = comment;
    }

    public DicomStatus Status { get; }

    public string? Comment { get; }
}
