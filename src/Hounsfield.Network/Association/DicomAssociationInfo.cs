// The outcome of association negotiation (PS3.8 §7.1, PS3.7 D.3.3): accepted presentation contexts with their transfer
// syntax and the roles of the requestor (SCP/SCU role selection, PS3.7 D.3.3.4).
using System.Net;
using Hounsfield.Dicom;
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network.Association;

/// <summary>A negotiated presentation context.</summary>
/// <param name="RequestorIsScu">The association requestor may invoke operations (send requests) on this context.</param>
/// <param name="RequestorIsScp">The association requestor may perform operations (receive requests) on this context.</param>
public sealed record DicomNegotiatedContext(
    byte Id,
    string AbstractSyntax,
    IReadOnlyList<string> ProposedTransferSyntaxes,
    DicomPresentationContextOutcome Outcome,
    DicomTransferSyntax? TransferSyntax,
    bool RequestorIsScu,
    bool RequestorIsScp)
{
    public bool IsAccepted => Outcome == DicomPresentationContextOutcome.Acceptance && TransferSyntax is not null;
}

/// <summary>An established association as both sides agreed it.</summary>
public sealed class DicomAssociationInfo
{
    private readonly Dictionary<byte, DicomNegotiatedContext> byId;
    private readonly IReadOnlyList<DicomExtendedNegotiation> requestedExtendedNegotiations;
    private readonly IReadOnlyList<DicomExtendedNegotiation> acceptedExtendedNegotiations;

    internal DicomAssociationInfo(
        bool isRequestor,
        string callingAE,
        string calledAE,
        EndPoint? remoteEndPoint,
        DicomUserInformation requestorInformation,
        DicomUserInformation acceptorInformation,
        IReadOnlyList<DicomNegotiatedContext> presentationContexts)
    {
        IsRequestor = isRequestor;
        CallingAE = callingAE;
        CalledAE = calledAE;
        RemoteEndPoint = remoteEndPoint;
        var peer = isRequestor ? acceptorInformation : requestorInformation;
        PeerMaxPduLength = peer.MaxPduLength;
        PeerImplementationClassUid = peer.ImplementationClassUid;
        PeerImplementationVersionName = peer.ImplementationVersionName;
        UserIdentity = requestorInformation.UserIdentity;
        PresentationContexts = presentationContexts;
        byId = presentationContexts.ToDictionary(c => c.Id);
        requestedExtendedNegotiations = requestorInformation.ExtendedNegotiations;
        acceptedExtendedNegotiations = acceptorInformation.ExtendedNegotiations;
        RequestorOperationsWindow = NegotiatedWindow(requestorInformation.AsynchronousOperationsWindow?.Invoked, acceptorInformation.AsynchronousOperationsWindow?.Performed);
        AcceptorOperationsWindow = NegotiatedWindow(acceptorInformation.AsynchronousOperationsWindow?.Invoked, requestorInformation.AsynchronousOperationsWindow?.Performed);
    }

    /// <summary>
    /// How many operations the requestor may have invoked and not yet seen answered: the asynchronous operations window
    /// (PS3.7 D.3.3.3), the smaller of the requestor's invoked and the acceptor's performed values (0 = unlimited); 1 when
    /// either side left the sub-item out.
    /// </summary>
    public int RequestorOperationsWindow { get; }

    /// <summary>The same for operations the acceptor invokes (the C-STORE sub-operations of a C-GET): the smaller of the acceptor's invoked and the requestor's performed values.</summary>
    public int AcceptorOperationsWindow { get; }

    /// <summary>How many operations this side may have invoked and not yet seen answered.</summary>
    public int OwnOperationsWindow => IsRequestor ? RequestorOperationsWindow : AcceptorOperationsWindow;

    /// <summary>How many operations invoked by the peer this side performs at once.</summary>
    public int PeerOperationsWindow => IsRequestor ? AcceptorOperationsWindow : RequestorOperationsWindow;

    /// <summary>Whether this side requested the association (is the SCU side of the connection).</summary>
    public bool IsRequestor { get; }

    public string CallingAE { get; }

    public string CalledAE { get; }

    /// <summary>The AE title of the other side.</summary>
    public string PeerAE => IsRequestor ? CalledAE : CallingAE;

    public EndPoint? RemoteEndPoint { get; }

    /// <summary>Largest P-DATA-TF variable field the peer receives; 0 means no limit.</summary>
    public uint PeerMaxPduLength { get; }

    public string? PeerImplementationClassUid { get; }

    public string? PeerImplementationVersionName { get; }

    /// <summary>The user identity the requestor presented, if any (PS3.7 D.3.3.7); it is not verified by this library.</summary>
    public DicomUserIdentity? UserIdentity { get; }

    public IReadOnlyList<DicomNegotiatedContext> PresentationContexts { get; }

    public DicomNegotiatedContext? GetContext(byte id) => byId.GetValueOrDefault(id);

    /// <summary>
    /// Whether both sides agreed to fuzzy semantic matching of person names for the query information model
    /// <paramref name="sopClassUid"/>: byte 3 of its extended negotiation, proposed and accepted as 1 (PS3.4 C.5.1.1).
    /// </summary>
    public bool FuzzySemanticMatching(string sopClassUid) => QueryOptionAgreed(sopClassUid, QueryExtendedNegotiation.FuzzySemanticMatching);

    /// <summary>Whether both sides agreed to combined date-time matching for the query information model (byte 2).</summary>
    public bool CombinedDateTimeMatching(string sopClassUid) => QueryOptionAgreed(sopClassUid, QueryExtendedNegotiation.CombinedDateTimeMatching);

    private bool QueryOptionAgreed(string sopClassUid, int option)
    {
        return Agreed(requestedExtendedNegotiations) && Agreed(acceptedExtendedNegotiations);

        bool Agreed(IReadOnlyList<DicomExtendedNegotiation> negotiations) =>
            negotiations.Any(n => n.SopClassUid == sopClassUid && n.Information.Length > option && n.Information[option] == 1);
    }

    /// <summary>Whether this side may send requests on the context (it acts as SCU there).</summary>
    public bool CanSendRequests(DicomNegotiatedContext context) =>
        context.IsAccepted && (IsRequestor ? context.RequestorIsScu : context.RequestorIsScp);

    /// <summary>Whether this side may receive requests on the context (it acts as SCP there).</summary>
    public bool CanReceiveRequests(DicomNegotiatedContext context) =>
        context.IsAccepted && (IsRequestor ? context.RequestorIsScp : context.RequestorIsScu);

    /// <summary>An accepted context for <paramref name="abstractSyntax"/> on which this side may send requests, preferring <paramref name="transferSyntax"/>.</summary>
    public DicomNegotiatedContext? FindContextForSending(string abstractSyntax, DicomTransferSyntax? transferSyntax = null)
    {
        DicomNegotiatedContext? fallback = null;
        foreach (var context in PresentationContexts)
        {
            if (context.AbstractSyntax != abstractSyntax || !CanSendRequests(context))
            {
                continue;
            }

            if (transferSyntax is null || transferSyntax.Equals(context.TransferSyntax))
            {
                return context;
            }

            fallback ??= context;
        }

        return transferSyntax is null ? fallback : null;
    }

    private static int NegotiatedWindow(ushort? invoked, ushort? performed) => (invoked, performed) switch
    {
        (null, _) or (_, null) => 1,
        (0, 0) => ushort.MaxValue,
        (0, var p) => p.Value,
        (var i, 0) => i.Value,
        (var i, var p) => Math.Min(i.Value, p.Value),
    };

    public override string ToString() => $"{CallingAE} -> {CalledAE} ({RemoteEndPoint})";
}
