using System.Net;
using Hounsfield.Dicom;
using Hounsfield.Network.Association;

namespace Hounsfield.Network;

/// <summary>Configuration of a <see cref="DicomServer"/>: where it listens, whom it accepts, what it offers.</summary>
public sealed class DicomServerOptions
{
    /// <summary>TCP port; 0 picks a free one (read it back from <see cref="DicomServer.Port"/>). Default 11112.</summary>
    public int Port { get; init; } = 11112;

    /// <summary>Address to listen on. Default any IPv4 address; <see cref="IPAddress.IPv6Any"/> listens dual-mode (IPv6 and IPv4).</summary>
    public IPAddress BindAddress { get; init; } = IPAddress.Any;

    /// <summary>This server's AE title. Default HOUNSFIELD.</summary>
    public string AETitle { get; init; } = "HOUNSFIELD";

    /// <summary>When true, an A-ASSOCIATE-RQ must be addressed to <see cref="AETitle"/> (else rejected, called AE not recognized). Default false.</summary>
    public bool RequireCalledAETitle { get; init; }

    /// <summary>Calling AE titles accepted; null accepts any (open). Default null.</summary>
    public IReadOnlyCollection<string>? AcceptedCallingAETitles { get; init; }

    /// <summary>Accepts further calling AE titles beyond <see cref="AcceptedCallingAETitles"/> (peers configured at run time). Default none.</summary>
    public Func<string, bool>? IsCallingAETitleAccepted { get; init; }

    /// <summary>Most associations served at once; more are rejected (transient, local limit exceeded). Default 64.</summary>
    public int MaxAssociations { get; init; } = 64;

    public DicomAssociationOptions Association { get; init; } = DicomAssociationOptions.Default;

    /// <summary>Answers C-ECHO; when null every C-ECHO succeeds.</summary>
    public ICEchoProvider? Echo { get; init; }

    public ICStoreProvider? Store { get; init; }

    public ICFindProvider? Find { get; init; }

    public ICMoveProvider? Move { get; init; }

    public ICGetProvider? Get { get; init; }

    /// <summary>Transfer syntaxes accepted for storage, as the requestor orders them. Default every syntax the toolkit knows.</summary>
    public IReadOnlyCollection<DicomTransferSyntax> StorageTransferSyntaxes { get; init; } = DicomTransferSyntax.All.ToArray();

    /// <summary>Transfer syntaxes accepted for everything else (commands with identifiers). Default explicit and implicit VR little endian.</summary>
    public IReadOnlyCollection<DicomTransferSyntax> TransferSyntaxes { get; init; } =
        [DicomTransferSyntax.ExplicitVRLittleEndian, DicomTransferSyntax.ImplicitVRLittleEndian, DicomTransferSyntax.DeflatedExplicitVRLittleEndian, DicomTransferSyntax.ExplicitVRBigEndian];

    /// <summary>Which abstract syntaxes are storage SOP classes. Default <see cref="DicomSopClasses.IsStorage"/>.</summary>
    public Func<string, bool> IsStorageSopClass { get; init; } = DicomSopClasses.IsStorage;

    /// <summary>The AE title this server calls itself when it opens associations for C-MOVE sub-operations. Default <see cref="AETitle"/>.</summary>
    public string? MoveCallingAETitle { get; init; }

    /// <summary>
    /// Decompresses instances of C-MOVE and C-GET sub-operations for peers that accept only uncompressed syntaxes for
    /// their SOP class (see <see cref="DicomClient.Transcoder"/>). Default null: such sub-operations fail.
    /// </summary>
    public IDicomTranscoder? Transcoder { get; init; }

    /// <summary>When set, every connection is DICOM TLS (PS3.15 Annex B.1): a TLS handshake before the association. Default null (plain TCP).</summary>
    public DicomTlsServerOptions? Tls { get; init; }

    /// <summary>Receives one line per notable event (rejections, failures); no patient data is logged.</summary>
    public Action<string>? Log { get; init; }
}
