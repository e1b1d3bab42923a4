namespace Hounsfield.Server.Nodes;

/// <summary>The DICOM nodes API (section "Nodes" of the configuration): timeouts towards peers, limits and jobs.</summary>
public sealed class DicomNodeOptions
{
    /// <summary>Time allowed for the TCP connection to a peer. Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Time allowed for the peer to accept the association (ARTIM). Default 10 s.</summary>
    public TimeSpan AssociationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Time allowed for each DIMSE response of the peer. Default 30 s.</summary>
    public TimeSpan DimseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Most C-FIND matches one request returns; the query is then cancelled (C-CANCEL) and a Warning header says so. Default 1000.</summary>
    public int MaxFindResults { get; set; } = 1000;

    /// <summary>Largest request body of the nodes API. Default 64 KiB.</summary>
    public int MaxRequestBodyLength { get; set; } = 64 * 1024;

    /// <summary>Most UIDs one store request names (studies, series and instances together). Default 1000.</summary>
    public int MaxStoreUids { get; set; } = 1000;

    /// <summary>Store, move and get jobs that run at once in this process; others wait, pending. Default 2.</summary>
    public int MaxConcurrentJobs { get; set; } = 2;

    /// <summary>How often a process marks its jobs alive in the database. Default 5 s.</summary>
    public TimeSpan JobHeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A pending or running job whose process has not marked it alive for this long is reported failed. Default 1 min.</summary>
    public TimeSpan JobStaleAfter { get; set; } = TimeSpan.FromMinutes(1);

    internal void Validate()
    {
        if (ConnectTimeout <= TimeSpan.Zero || AssociationTimeout <= TimeSpan.Zero || DimseTimeout <= TimeSpan.Zero)
        {
            throw new InvalidOperationException("Nodes:ConnectTimeout, Nodes:AssociationTimeout and Nodes:DimseTimeout must be positive.");
        }

        if (MaxFindResults < 1 || MaxRequestBodyLength < 1024 || MaxStoreUids < 1 || MaxConcurrentJobs < 1)
        {
            throw new InvalidOperationException("Nodes:MaxFindResults, Nodes:MaxStoreUids and Nodes:MaxConcurrentJobs must be at least 1, Nodes:MaxRequestBodyLength at least 1024.");
        }

        if (JobHeartbeatInterval <= TimeSpan.Zero || JobStaleAfter < JobHeartbeatInterval * 2)
        {
            throw new InvalidOperationException("Nodes:JobHeartbeatInterval must be positive and Nodes:JobStaleAfter at least twice as long.");
        }
    }
}
