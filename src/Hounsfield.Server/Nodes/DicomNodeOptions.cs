using System.ComponentModel.DataAnnotations;
using Hounsfield.Server.Cli;

namespace Hounsfield.Server.Nodes;

/// <summary>The DICOM nodes API (section "Nodes" of the configuration): timeouts towards peers, limits and jobs.</summary>
public sealed class DicomNodeOptions
{
    /// <summary>Time allowed for the TCP connection to a peer. Default 5 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Time allowed for the peer to accept the association (ARTIM). Default 10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan AssociationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Time allowed for each DIMSE response of the peer. Default 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan DimseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Most C-FIND matches one request returns; the query is then cancelled (C-CANCEL) and a Warning header says so. Default 1000.</summary>
    [Range(1, int.MaxValue)]
    public int MaxFindResults { get; set; } = 1000;

    /// <summary>Largest request body of the nodes API. Default 64 KiB.</summary>
    [Range(1024, int.MaxValue)]
    public int MaxRequestBodyLength { get; set; } = 64 * 1024;

    /// <summary>Most UIDs one store request names (studies, series and instances together). Default 1000.</summary>
    [Range(1, int.MaxValue)]
    public int MaxStoreUids { get; set; } = 1000;

    /// <summary>Store, move and get jobs that run at once in this process; others wait, pending. Default 2.</summary>
    [Range(1, 1024)]
    public int MaxConcurrentJobs { get; set; } = 2;

    /// <summary>How often a process marks its jobs alive in the database. Default 5 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan JobHeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A pending or running job whose process has not marked it alive for this long is reported failed. Default 1 min.</summary>
    public TimeSpan JobStaleAfter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>What the ranges of the properties cannot say: a job is reported failed only after missing two heartbeats.</summary>
    internal void Validate()
    {
        if (JobStaleAfter < JobHeartbeatInterval * 2)
        {
            throw new SettingsException($"Nodes:JobStaleAfter is {JobStaleAfter}; it must be at least twice Nodes:JobHeartbeatInterval ({JobHeartbeatInterval}).");
        }
    }
}
