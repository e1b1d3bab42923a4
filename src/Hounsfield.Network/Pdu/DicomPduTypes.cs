// PDU types and the enumerated fields of PS3.8 §9.3: PDU types (Table 9-11 ... 9-26), A-ASSOCIATE-RJ result/source/
// reason (Table 9-21), A-ABORT source/reason (Table 9-26), presentation context results (Table 9-18).
namespace Hounsfield.Network.Pdu;

public enum DicomPduType : byte
{
    AssociateRequest = 0x01,
    AssociateAccept = 0x02,
    AssociateReject = 0x03,
    PData = 0x04,
    ReleaseRequest = 0x05,
    ReleaseResponse = 0x06,
    Abort = 0x07,
}

/// <summary>Item types of the variable fields of A-ASSOCIATE-RQ/AC (PS3.8 §9.3.2, §9.3.3 and Annex D.3.3).</summary>
internal static class DicomItemType
{
    public const byte ApplicationContext = 0x10;
    public const byte PresentationContextRequest = 0x20;
    public const byte PresentationContextAccept = 0x21;
    public const byte AbstractSyntax = 0x30;
    public const byte TransferSyntax = 0x40;
    public const byte UserInformation = 0x50;
    public const byte MaximumLength = 0x51;
    public const byte ImplementationClassUid = 0x52;
    public const byte AsynchronousOperationsWindow = 0x53;
    public const byte RoleSelection = 0x54;
    public const byte ImplementationVersionName = 0x55;
    public const byte SopClassExtendedNegotiation = 0x56;
    public const byte SopClassCommonExtendedNegotiation = 0x57;
    public const byte UserIdentityRequest = 0x58;
    public const byte UserIdentityAccept = 0x59;
}

public enum DicomAbortSource : byte
{
    ServiceUser = 0,
    Reserved = 1,
    ServiceProvider = 2,
}

public enum DicomAbortReason : byte
{
    NotSpecified = 0,
    UnrecognizedPdu = 1,
    UnexpectedPdu = 2,
    Reserved = 3,
    UnrecognizedPduParameter = 4,
    UnexpectedPduParameter = 5,
    InvalidPduParameterValue = 6,
}

public enum DicomRejectResult : byte
{
    Permanent = 1,
    Transient = 2,
}

public enum DicomRejectSource : byte
{
    ServiceUser = 1,
    ServiceProviderAcse = 2,
    ServiceProviderPresentation = 3,
}

/// <summary>Reason/diagnostic values of A-ASSOCIATE-RJ; their meaning depends on the source.</summary>
public static class DicomRejectReason
{
    /// <summary>Service user: no reason given. ACSE provider: no reason given.</summary>
    public const byte NoReasonGiven = 1;

    /// <summary>Service user: application context name not supported. ACSE provider: protocol version not supported.</summary>
    public const byte ApplicationContextNotSupported = 2;

    public const byte ProtocolVersionNotSupported = 2;

    /// <summary>Service user: calling AE title not recognized.</summary>
    public const byte CallingAENotRecognized = 3;

    /// <summary>Service user: called AE title not recognized.</summary>
    public const byte CalledAENotRecognized = 7;

    /// <summary>Presentation provider: temporary congestion.</summary>
    public const byte TemporaryCongestion = 1;

    /// <summary>Presentation provider: local limit exceeded.</summary>
    public const byte LocalLimitExceeded = 2;
}

public enum DicomPresentationContextOutcome : byte
{
    Acceptance = 0,
    UserRejection = 1,
    NoReason = 2,
    AbstractSyntaxNotSupported = 3,
    TransferSyntaxesNotSupported = 4,
}
