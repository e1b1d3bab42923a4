// Limits and timers of an association (PS3.8 §9.1.5 ARTIM, §9.3.5 maximum PDU length; PS3.7 D.3.3.1).
using Hounsfield.Dicom.IO;
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network.Association;

/// <summary>
/// Limits, timeouts and identification for one association, requestor or acceptor. Every limit has a safe default;
/// input beyond one ends the association with an A-ABORT and a <see cref="DicomNetworkLimitException"/> naming it.
/// </summary>
public sealed record DicomAssociationOptions
{
    public static readonly DicomAssociationOptions Default = new();

    /// <summary>Largest P-DATA-TF variable field this side receives, advertised in the Maximum Length sub-item. Default 256 KiB.</summary>
    public uint MaxPduLength { get; init; } = 256 * 1024;

    /// <summary>Largest P-DATA-TF this side sends, even when the peer advertises more (or 0, no limit). Default 256 KiB.</summary>
    public uint MaxSendPduLength { get; init; } = 256 * 1024;

    /// <summary>Largest A-ASSOCIATE-RQ/AC PDU accepted. Default 256 KiB (128 contexts with many syntaxes need about 40 KiB).</summary>
    public int MaxAssociatePduLength { get; init; } = 256 * 1024;

    /// <summary>Most presentation contexts in one A-ASSOCIATE-RQ/AC. Default 128, the most odd IDs allow (PS3.8 §9.3.2.2).</summary>
    public int MaxPresentationContexts { get; init; } = 128;

    /// <summary>Most items and sub-items in one A-ASSOCIATE-RQ/AC. Default 2048.</summary>
    public int MaxItems { get; init; } = 2048;

    /// <summary>Largest command set (group 0000) accepted. Default 64 KiB.</summary>
    public int MaxCommandLength { get; init; } = 64 * 1024;

    /// <summary>Largest data set held in memory: C-FIND identifiers and responses, C-MOVE/C-GET identifiers. Default 64 MiB.
    /// C-STORE data sets are streamed and not subject to it.</summary>
    public long MaxDataSetLength { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// The asynchronous operations window (PS3.7 D.3.3.3): as acceptor, how many C-STORE requests of a peer that proposes a
    /// window this side performs at once (their commits overlap, and their responses may come out of order); as requestor,
    /// how many C-STORE requests it sends before awaiting their responses, when the peer accepts that many. Default 16;
    /// 1 performs and invokes one operation at a time.
    /// </summary>
    public int MaxAsyncOperations { get; init; } = 16;

    /// <summary>Time allowed for the TCP connection of a requestor. Default 15 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The ARTIM timer (PS3.8 §9.1.5): time allowed for association establishment and for release. Default 30 s.</summary>
    public TimeSpan ArtimTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Time allowed for the next PDU while a message is partly received or a response is awaited. Default 60 s.</summary>
    public TimeSpan DimseTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Time an established association may stay silent between messages before it is aborted. Default 5 min.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public string ImplementationClassUid { get; init; } = DicomImplementation.ClassUid;

    public string ImplementationVersionName { get; init; } = DicomImplementation.VersionName;

    /// <summary>Limits for decoding received data sets (identifiers, responses, and C-STORE data sets read by a provider).</summary>
    public DicomReadOptions ReadOptions { get; init; } = DicomReadOptions.Default;

    internal PduLimits PduLimits => new(MaxPresentationContexts, MaxItems);

    internal void Validate()
    {
        if (MaxPduLength < 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPduLength), MaxPduLength, "MaxPduLength must be at least 1024.");
        }

        if (MaxSendPduLength < 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxSendPduLength), MaxSendPduLength, "MaxSendPduLength must be at least 1024.");
        }

        if (MaxAsyncOperations is < 1 or > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAsyncOperations), MaxAsyncOperations, "MaxAsyncOperations must be 1 to 65535.");
        }

        if (MaxPduLength > Array.MaxLength - 64 || MaxSendPduLength > Array.MaxLength - 64)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPduLength), "PDU lengths must fit an array.");
        }
    }

    /// <summary>Checks an AE title (PS3.5 Table 6.2-1: 1-16 characters of the default repertoire, no backslash or control characters).</summary>
    public static string ValidateAETitle(string? title, string parameterName)
    {
        var trimmed = title?.Trim() ?? string.Empty;
        if (trimmed.Length is 0 or > 16)
        {
            throw new ArgumentException($"An AE title has 1 to 16 significant characters; '{title}' has {trimmed.Length}.", parameterName);
        }

        foreach (var c in trimmed)
        {
            if (c < 0x20 || c > 0x7E || c == '\\')
            {
                throw new ArgumentException($"AE title '{title}' contains a character outside the default repertoire or a backslash.", parameterName);
            }
        }

        return trimmed;
    }
}
