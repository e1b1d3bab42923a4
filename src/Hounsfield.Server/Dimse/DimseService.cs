using Hounsfield.Network;
using Hounsfield.Server.Nodes;

namespace Hounsfield.Server.Dimse;

/// <summary>Runs the DIMSE SCP for the lifetime of the web host.</summary>
internal sealed class DimseService(ArchiveDimseProvider provider, SqliteDicomNodeStore nodes, DimseOptions options, ILogger<DimseService> logger) : IHostedService, IAsyncDisposable
{
    private DicomServer? server;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Port == 0)
        {
            return;
        }

        server = new DicomServer(new DicomServerOptions
        {
            Port = options.Port,
            AETitle = options.AETitle,
            AcceptedCallingAETitles = options.Open ? null : options.Nodes.Select(n => n.AETitle.Trim()).ToArray(),
            IsCallingAETitleAccepted = IsKnownNode,
            MaxAssociations = options.MaxAssociations,
            Echo = provider,
            Store = provider,
            Find = provider,
            Move = provider,
            Get = provider,
            MoveCallingAETitle = options.AETitle,
            Log = message => logger.LogInformation("DIMSE {Message}", message),
        });
        await server.StartAsync(cancellationToken);
        logger.LogInformation("DICOM SCP {AETitle} listening on port {Port} ({Access})", options.AETitle, server.Port, options.Open ? "open to any AE" : "known DICOM nodes only");
    }

    /// <summary>A calling AE title is also known when it is the peer AE title of a DICOM node of the database.</summary>
    private bool IsKnownNode(string callingAE)
    {
        try
        {
            return nodes.HasPeerAETitle(callingAE);
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex)
        {
            logger.LogWarning(ex, "Could not look up calling AE title {CallingAETitle} among the DICOM nodes", callingAE);
            return false;
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (server is not null)
        {
            await server.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }
    }
}
