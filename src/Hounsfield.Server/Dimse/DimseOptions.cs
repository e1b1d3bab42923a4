using System.ComponentModel.DataAnnotations;
using Hounsfield.Server.Cli;

namespace Hounsfield.Server.Dimse;

/// <summary>The DICOM (DIMSE) service of the server: section "Dimse" of the configuration.</summary>
public sealed class DimseOptions
{
    /// <summary>TCP port of the SCP; 0 turns it off. `--dicom-port P` on the command line. Default 11112.</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 11112;

    [AETitle]
    public string AETitle { get; set; } = "HOUNSFIELD";

    /// <summary>Accept associations from any calling AE title. Default false: only the AE titles of <see cref="Nodes"/>.</summary>
    public bool Open { get; set; }

    [Range(1, 100_000)]
    public int MaxAssociations { get; set; } = 32;

    /// <summary>
    /// The asynchronous operations window (PS3.7 D.3.3.3): C-STOREs performed at once for a peer that proposes a window,
    /// and sent before awaiting responses to a peer that accepts one. Default 16; 1 = one at a time.
    /// </summary>
    [Range(1, 65535)]
    public int MaxAsyncOperations { get; set; } = 16;

    /// <summary>Known peers: who may connect (unless <see cref="Open"/>) and where C-MOVE sends.</summary>
    public List<DimseNode> Nodes { get; set; } = [];

    /// <summary>
    /// Largest pixel data, in bytes once decoded, of an instance stored compressed that is decompressed (in memory) for a
    /// peer that accepts only uncompressed syntaxes; a larger one fails its C-STORE. Default 512 MiB.
    /// </summary>
    [Range(typeof(long), "1", "9223372036854775807")]
    public long MaxDecompressedLength { get; set; } = DefaultMaxDecompressedLength;

    internal const long DefaultMaxDecompressedLength = 512L * 1024 * 1024;

    /// <summary>A DICOM TLS listener beside the plain one (section "Dimse:Tls"); off unless a certificate is configured.</summary>
    public DimseTlsOptions Tls { get; set; } = new();
}

public sealed class DimseNode
{
    [AETitle]
    public string AETitle { get; set; } = string.Empty;

    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Where C-MOVE reaches the peer; 0 for a calling AE title only (allowed to connect, not a destination). Default 104.</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 104;

    /// <summary>Reached over DICOM TLS (see <see cref="DimseTlsOptions.PeerCaPath"/>). Default false.</summary>
    public bool Tls { get; set; }
}
