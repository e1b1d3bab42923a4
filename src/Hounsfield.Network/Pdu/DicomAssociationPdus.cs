// The content of A-ASSOCIATE-RQ (PS3.8 §9.3.2), A-ASSOCIATE-AC (§9.3.3), A-ASSOCIATE-RJ (§9.3.4) and A-ABORT (§9.3.8),
// with the user information sub-items of PS3.7 Annex D.3.3 (maximum length, implementation identification,
// asynchronous operations window, SCP/SCU role selection, extended negotiation, user identity).
namespace Hounsfield.Network.Pdu;

/// <summary>The DICOM application context name (PS3.7 A.2.1).</summary>
public static class DicomApplicationContext
{
    public const string Name = "1.2.840.10008.3.1.1.1";
}

/// <summary>A presentation context proposed in an A-ASSOCIATE-RQ: an odd ID, one abstract syntax, one or more transfer syntaxes.</summary>
public sealed record DicomPresentationContextProposal(byte Id, string AbstractSyntax, IReadOnlyList<string> TransferSyntaxes);

/// <summary>The answer to one proposed presentation context in an A-ASSOCIATE-AC.</summary>
public sealed record DicomPresentationContextResult(byte Id, DicomPresentationContextOutcome Outcome, string? TransferSyntax);

/// <summary>SCP/SCU Role Selection sub-item (PS3.7 D.3.3.4): the roles of the association requestor for a SOP class.</summary>
public sealed record DicomRoleSelection(string SopClassUid, bool ScuRole, bool ScpRole);

/// <summary>SOP Class Extended Negotiation sub-item (PS3.7 D.3.3.5), kept as its raw service-class application information.</summary>
public sealed record DicomExtendedNegotiation(string SopClassUid, byte[] Information);

/// <summary>The bytes of a C-FIND information model's extended negotiation (PS3.4 C.5.1.1), by index; 1 asks or agrees, 0 not.</summary>
public static class QueryExtendedNegotiation
{
    public const int RelationalQueries = 0;
    public const int CombinedDateTimeMatching = 1;
    public const int FuzzySemanticMatching = 2;
    public const int TimezoneQueryAdjustment = 3;

    /// <summary>What a requestor proposes to ask for these options (no relational queries, no timezone adjustment).</summary>
    public static byte[] Ask(bool combinedDateTime, bool fuzzySemantic) => [0, combinedDateTime ? (byte)1 : (byte)0, fuzzySemantic ? (byte)1 : (byte)0, 0];
}

/// <summary>User Identity Negotiation sub-item of the request (PS3.7 D.3.3.7).</summary>
public sealed record DicomUserIdentity(byte Type, bool PositiveResponseRequested, byte[] PrimaryField, byte[] SecondaryField);

/// <summary>The User Information item of A-ASSOCIATE-RQ/AC.</summary>
public sealed class DicomUserInformation
{
    /// <summary>Maximum length of the variable field of the P-DATA-TF PDUs the sender can receive; 0 means no limit.</summary>
    public uint MaxPduLength { get; set; }

    public string? ImplementationClassUid { get; set; }

    public string? ImplementationVersionName { get; set; }

    /// <summary>Maximum number of operations invoked / performed asynchronously; null when the sub-item is absent (1, 1).</summary>
    public (ushort Invoked, ushort Performed)? AsynchronousOperationsWindow { get; set; }

    public List<DicomRoleSelection> RoleSelections { get; } = [];

    public List<DicomExtendedNegotiation> ExtendedNegotiations { get; } = [];

    public DicomUserIdentity? UserIdentity { get; set; }

    /// <summary>The server response of a User Identity Negotiation accept sub-item (0x59).</summary>
    public byte[]? UserIdentityResponse { get; set; }
}

/// <summary>An A-ASSOCIATE-RQ PDU.</summary>
public sealed class DicomAssociationRequest
{
    public ushort ProtocolVersion { get; set; } = 1;

    public string CalledAE { get; set; } = string.Empty;

    public string CallingAE { get; set; } = string.Empty;

    public string ApplicationContextName { get; set; } = DicomApplicationContext.Name;

    public List<DicomPresentationContextProposal> PresentationContexts { get; } = [];

    public DicomUserInformation UserInformation { get; set; } = new();
}

/// <summary>An A-ASSOCIATE-AC PDU.</summary>
public sealed class DicomAssociationAccept
{
    public ushort ProtocolVersion { get; set; } = 1;

    public string CalledAE { get; set; } = string.Empty;

    public string CallingAE { get; set; } = string.Empty;

    public string ApplicationContextName { get; set; } = DicomApplicationContext.Name;

    public List<DicomPresentationContextResult> PresentationContexts { get; } = [];

    public DicomUserInformation UserInformation { get; set; } = new();
}

/// <summary>An A-ASSOCIATE-RJ PDU.</summary>
public sealed record DicomAssociationReject(DicomRejectResult Result, DicomRejectSource Source, byte Reason)
{
    public override string ToString()
    {
        var reason = (Source, Reason) switch
        {
            (DicomRejectSource.ServiceUser, 1) => "no reason given",
            (DicomRejectSource.ServiceUser, 2) => "application context name not supported",
            (DicomRejectSource.ServiceUser, 3) => "calling AE title not recognized",
            (DicomRejectSource.ServiceUser, 7) => "called AE title not recognized",
            (DicomRejectSource.ServiceProviderAcse, 1) => "no reason given",
            (DicomRejectSource.ServiceProviderAcse, 2) => "protocol version not supported",
            (DicomRejectSource.ServiceProviderPresentation, 1) => "temporary congestion",
            (DicomRejectSource.ServiceProviderPresentation, 2) => "local limit exceeded",
            _ => $"reason {Reason}",
        };
        return $"{Result.ToString().ToLowerInvariant()}, source {Source}, {reason}";
    }
}

/// <summary>An A-ABORT PDU.</summary>
public sealed record DicomAbort(DicomAbortSource Source, DicomAbortReason Reason);
