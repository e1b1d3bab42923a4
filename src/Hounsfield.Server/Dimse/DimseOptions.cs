namespace Hounsfield.Server.Dimse;

/// <summary>The DICOM (DIMSE) service of the server: section "Dimse" of the configuration.</summary>
public sealed class DimseOptions
{
    /// <summary>TCP port of the SCP; 0 turns it off. `--dicom-port P` on the command line. Default 11112.</summary>
    public int Port { get; set; } = 11112;

    public string AETitle { get; set; } = "HOUNSFIELD";

    /// <summary>Accept associations from any calling AE title. Default false: only the AE titles of <see cref="Nodes"/>.</summary>
    public bool Open { get; set; }

    public int MaxAssociations { get; set; } = 32;

    /// <summary>Known peers: who may connect (unless <see cref="Open"/>) and where C-MOVE sends.</summary>
    public List<DimseNode> Nodes { get; set; } = [];

    /// <summary>A DICOM TLS listener beside the plain one (section "Dimse:Tls"); off unless a certificate is configured.</summary>
    public DimseTlsOptions Tls { get; set; } = new();
}

public sealed class DimseNode
{
    public string AETitle { get; set; } = string.Empty;

    public string Host { get; set; } = "127.0.0.1";

    public int Port { get; set; } = 104;

    /// <summary>Reached over DICOM TLS (see <see cref="DimseTlsOptions.PeerCaPath"/>). Default false.</summary>
    public bool Tls { get; set; }
}
