// What an SCP provider is given for each DIMSE-C request (PS3.7 §9.1: C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET) and what
// an SCU gets back. Query/Retrieve levels are those of PS3.4 C.3 (QueryRetrieveLevel (0008,0052)).
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Hounsfield.Network.Association;
using Hounsfield.Network.Dimse;

namespace Hounsfield.Network;

public enum DicomQueryRetrieveLevel
{
    Patient,
    Study,
    Series,
    Image,
}

public static class DicomQueryRetrieveLevels
{
    public static string ToCode(this DicomQueryRetrieveLevel level) => level switch
    {
        DicomQueryRetrieveLevel.Patient => "PATIENT",
        DicomQueryRetrieveLevel.Study => "STUDY",
        DicomQueryRetrieveLevel.Series => "SERIES",
        _ => "IMAGE",
    };

    public static DicomQueryRetrieveLevel? Parse(string? code) => code?.Trim().ToUpperInvariant() switch
    {
        "PATIENT" => DicomQueryRetrieveLevel.Patient,
        "STUDY" => DicomQueryRetrieveLevel.Study,
        "SERIES" => DicomQueryRetrieveLevel.Series,
        "IMAGE" => DicomQueryRetrieveLevel.Image,
        _ => null,
    };

    /// <summary>
    /// Why <paramref name="level"/> is not a level of the information model <paramref name="sopClassUid"/>, or null when it is
    /// (or the model has no fixed levels): Study Root has no PATIENT level (PS3.4 C.6.2), Patient/Study Only neither SERIES
    /// nor IMAGE (C.6.3).
    /// </summary>
    public static string? NotALevelOf(this DicomQueryRetrieveLevel level, string sopClassUid) => sopClassUid switch
    {
        DicomUids.StudyRootQueryRetrieveInformationModelFind or DicomUids.StudyRootQueryRetrieveInformationModelMove
            or DicomUids.StudyRootQueryRetrieveInformationModelGet when level == DicomQueryRetrieveLevel.Patient
            => "The Study Root model has no PATIENT level",
        DicomUids.PatientStudyOnlyQueryRetrieveInformationModelFind or DicomUids.PatientStudyOnlyQueryRetrieveInformationModelMove
            or DicomUids.PatientStudyOnlyQueryRetrieveInformationModelGet when level is DicomQueryRetrieveLevel.Series or DicomQueryRetrieveLevel.Image
            => $"The Patient/Study Only model has no {level.ToCode()} level",
        _ => null,
    };
}

/// <summary>Where a C-MOVE sends its sub-operations: a peer reachable over TCP, or over DICOM TLS when <paramref name="Tls"/> is set.</summary>
public sealed record DicomRemoteNode(string Host, int Port, string AETitle, DicomTlsClientOptions? Tls = null);

/// <summary>A C-ECHO request.</summary>
public sealed class DicomEchoRequest
{
    internal DicomEchoRequest(DicomAssociationInfo association, DicomDataset command)
    {
        Association = association;
        MessageId = DimseCommand.GetMessageId(command);
    }

    public DicomAssociationInfo Association { get; }

    public ushort MessageId { get; }
}

/// <summary>A DIMSE request as its provider sees it: the association it came on and its command set (PS3.7 §9.1, §9.3).</summary>
public abstract class DicomCommandRequest
{
    private protected DicomCommandRequest(DicomAssociationInfo association, DicomDataset command)
    {
        Association = association;
        Command = command;
    }

    public DicomAssociationInfo Association { get; }

    /// <summary>The request's command set.</summary>
    public DicomDataset Command { get; }

    public ushort MessageId => DimseCommand.GetMessageId(Command);

    /// <summary>Affected SOP Class UID (0000,0002): for C-FIND, C-MOVE and C-GET the information model.</summary>
    public string SopClassUid => Command.GetString(DicomTag.AffectedSOPClassUID) ?? string.Empty;

    public DicomPriority Priority => DimseCommand.GetPriority(Command);
}

/// <summary>A C-FIND, C-MOVE or C-GET request: a command and an identifier (PS3.4 C.4).</summary>
public abstract class DicomQueryRetrieveRequest : DicomCommandRequest
{
    private protected DicomQueryRetrieveRequest(DicomAssociationInfo association, DicomDataset command, DicomDataset identifier)
        : base(association, command)
    {
        Identifier = identifier;
    }

    public DicomDataset Identifier { get; }

    /// <summary>QueryRetrieveLevel (0008,0052) of the identifier, when it is one of the four levels.</summary>
    public DicomQueryRetrieveLevel? Level => DicomQueryRetrieveLevels.Parse(Identifier.GetString(DicomTag.QueryRetrieveLevel));
}

/// <summary>
/// A C-STORE request. <see cref="DataSet"/> is the data set exactly as the peer encoded it, in <see cref="TransferSyntax"/>,
/// streamed from the association as it arrives: it can be read once, while the provider runs. If the association fails
/// while it is read, the read throws and nothing should be kept.
/// </summary>
public sealed class DicomStoreRequest : DicomCommandRequest
{
    private readonly DicomReadOptions readOptions;

    internal DicomStoreRequest(DicomAssociationInfo association, DicomDataset command, DicomTransferSyntax transferSyntax, Stream dataSet, DicomReadOptions readOptions)
        : base(association, command)
    {
        TransferSyntax = transferSyntax;
        DataSet = dataSet;
        this.readOptions = readOptions;
    }

    public string SopInstanceUid => Command.GetString(DicomTag.AffectedSOPInstanceUID) ?? string.Empty;

    public DicomTransferSyntax TransferSyntax { get; }

    /// <summary>The AE title that asked for this store in a C-MOVE, when it is a C-MOVE sub-operation.</summary>
    public string? MoveOriginatorAE => Command.GetString(DicomTag.MoveOriginatorApplicationEntityTitle);

    public ushort? MoveOriginatorMessageId => Command.GetValueOrDefault<ushort>(DicomTag.MoveOriginatorMessageID);

    public Stream DataSet { get; }

    /// <summary>File meta information for storing the instance as received (PS3.10 §7.1).</summary>
    public DicomDataset CreateFileMetaInformation()
    {
        var meta = new DicomDataset();
        meta.AddOrUpdate(DicomTag.FileMetaInformationVersion, DicomVR.OB, new byte[] { 0x00, 0x01 });
        meta.AddOrUpdate(DicomTag.MediaStorageSOPClassUID, DicomVR.UI, SopClassUid);
        meta.AddOrUpdate(DicomTag.MediaStorageSOPInstanceUID, DicomVR.UI, SopInstanceUid);
        meta.AddOrUpdate(DicomTag.TransferSyntaxUID, DicomVR.UI, TransferSyntax.Uid);
        meta.AddOrUpdate(DicomTag.ImplementationClassUID, DicomVR.UI, DicomImplementation.ClassUid);
        meta.AddOrUpdate(DicomTag.ImplementationVersionName, DicomVR.SH, DicomImplementation.VersionName);
        meta.AddOrUpdate(DicomTag.SourceApplicationEntityTitle, DicomVR.AE, Association.CallingAE);
        var length = DicomWriter.EncodedLength(meta, DicomTransferSyntax.ExplicitVRLittleEndian);
        meta.AddOrUpdate<uint>(DicomTag.FileMetaInformationGroupLength, DicomVR.UL, (uint)length);
        return meta;
    }

    /// <summary>Writes a Part 10 file: preamble, meta information, then the data set bytes as received (not re-encoded).</summary>
    public async Task WritePart10Async(Stream destination, CancellationToken cancellationToken = default)
    {
        using (var head = new Pdu.PooledBufferStream(512))
        {
            head.Write(new byte[128]);
            head.Write("DICM"u8);
            DicomWriter.WriteDataSet(head, CreateFileMetaInformation(), DicomTransferSyntax.ExplicitVRLittleEndian);
            await destination.WriteAsync(head.WrittenMemory, cancellationToken).ConfigureAwait(false);
        }

        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int n;
            while ((n = await DataSet.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await destination.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads the whole data set into memory and decodes it (for small instances or tests; large ones should stream).</summary>
    public async Task<DicomDataset> ReadDataSetAsync(CancellationToken cancellationToken = default)
    {
        using var memory = new MemoryStream();
        await DataSet.CopyToAsync(memory, cancellationToken).ConfigureAwait(false);
        return DicomReader.ReadDataSet(memory.GetBuffer().AsMemory(0, (int)memory.Length), TransferSyntax, readOptions);
    }
}

/// <summary>A C-FIND request: the identifier holds the matching keys and the keys to return (PS3.4 C.4.1).</summary>
public sealed class DicomFindRequest : DicomQueryRetrieveRequest
{
    internal DicomFindRequest(DicomAssociationInfo association, DicomDataset command, DicomDataset identifier)
        : base(association, command, identifier)
    {
    }

    /// <summary>
    /// Set by the provider, before its first match, when it matched on none of some key's value (an optional key it does
    /// not support for matching): the pending responses then carry 0xFF01 instead of 0xFF00 (PS3.4 C.4.1.1.4).
    /// </summary>
    public bool OptionalKeysNotSupported { get; set; }
}

/// <summary>A C-MOVE or C-GET request: the identifier selects the instances to send (PS3.4 C.4.2, C.4.3).</summary>
public sealed class DicomRetrieveRequest : DicomQueryRetrieveRequest
{
    internal DicomRetrieveRequest(DicomAssociationInfo association, DicomDataset command, DicomDataset identifier)
        : base(association, command, identifier)
    {
    }

    /// <summary>Move Destination (0000,0600) of a C-MOVE; null for a C-GET.</summary>
    public string? MoveDestination => Command.GetString(DicomTag.MoveDestination)?.Trim();
}

/// <summary>The outcome of one C-STORE sent by an SCU.</summary>
public sealed record DicomStoreResult(DicomInstanceSource Source, string? SopInstanceUid, DicomStatus Status, string? Error)
{
    public bool Succeeded => Status.IsSuccessOrWarning;
}

/// <summary>The outcome (or progress) of a C-MOVE or C-GET: the final status and the sub-operation counts.</summary>
public sealed record DicomRetrieveResult(DicomStatus Status, int Remaining, int Completed, int Failed, int Warning, IReadOnlyList<string> FailedSopInstanceUids);

/// <summary>Answers C-ECHO (Verification SOP Class, PS3.4 Annex A).</summary>
public interface ICEchoProvider
{
    ValueTask<DicomStatus> EchoAsync(DicomEchoRequest request, CancellationToken cancellationToken);
}

/// <summary>Receives instances (Storage Service Class, PS3.4 Annex B). Read <see cref="DicomStoreRequest.DataSet"/> to its end and return a status.</summary>
public interface ICStoreProvider
{
    ValueTask<DicomStatus> StoreAsync(DicomStoreRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Runs once the response to a request has been sent, or could not be: work the peer need not wait for. Without an
    /// asynchronous operations window the association reads its next request only after it. The default does nothing.
    /// </summary>
    ValueTask AfterResponseAsync() => ValueTask.CompletedTask;
}

/// <summary>Answers C-FIND (PS3.4 C.4.1): each data set yielded is one pending response. Cancellation means C-CANCEL.</summary>
public interface ICFindProvider
{
    IAsyncEnumerable<DicomDataset> FindAsync(DicomFindRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Whether the provider matches person names fuzzily when the association agreed to it (see
    /// <see cref="DicomAssociationInfo.FuzzySemanticMatching"/>): the SCP accepts it in extended negotiation only then.
    /// </summary>
    bool SupportsFuzzySemanticMatching => false;

    /// <summary>Whether the provider matches keys of levels below the query's (relational queries, PS3.4 C.4.1.2); the SCP then agrees to them in extended negotiation.</summary>
    bool SupportsRelationalQueries => false;

    /// <summary>Whether the provider matches a date range and its time as one date-time range when the association agreed to it (<see cref="DicomAssociationInfo.CombinedDateTimeMatching"/>).</summary>
    bool SupportsCombinedDateTimeMatching => false;
}

/// <summary>Answers C-MOVE (PS3.4 C.4.2): resolves the destination and lists the instances; the library performs the sub-operations.</summary>
public interface ICMoveProvider
{
    /// <summary>The node an AE title names, or null when unknown (status A801).</summary>
    ValueTask<DicomRemoteNode?> ResolveDestinationAsync(string destinationAE, DicomAssociationInfo association, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<DicomInstanceSource>> GetInstancesAsync(DicomRetrieveRequest request, CancellationToken cancellationToken);
}

/// <summary>Answers C-GET (PS3.4 C.4.3): lists the instances; the library sends them on the same association.</summary>
public interface ICGetProvider
{
    ValueTask<IReadOnlyList<DicomInstanceSource>> GetInstancesAsync(DicomRetrieveRequest request, CancellationToken cancellationToken);
}
