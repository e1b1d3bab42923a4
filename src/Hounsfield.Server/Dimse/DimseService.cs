using Hounsfield.Archive;
using Hounsfield.Network;

namespace Hounsfield.Server.Dimse;

/// <summary>Runs the DIMSE SCP for the lifetime of the web host.</summary>
internal sealed class DimseService(ArchiveService archive, DimseOptions options, ILogger<DimseService> logger) : IHostedService, IAsyncDisposable
{
    private DicomServer? server;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Port == 0)
        {
            return;
        }

        var provider = new ArchiveDimseProvider(archive, options);
        server = new DicomServer(new DicomServerOptions
        {
            Port = options.Port,
            AETitle = options.AETitle,
            AcceptedCallingAETitles = options.Open ? null : options.Nodes.Select(n => n.AETitle.Trim()).ToArray(),
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
        logger.LogInformation("DICOM SCP {AETitle} listening on port {Port} ({Access})", options.AETitle, server.Port, options.Open ? "open to any AE" : $"{options.Nodes.Count} known node(s)");
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
