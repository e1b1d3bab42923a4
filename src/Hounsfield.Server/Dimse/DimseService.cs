using Hounsfield.Network.Association;
using Hounsfield.Network;
using Hounsfield.Server.Nodes;

namespace Hounsfield.Server.Dimse;

/// <summary>
/// The DIMSE SCP on the plain port, and on the TLS port when configured. `serve` starts it before the web host runs and
/// stops it after (not a hosted service: a port in use must fail the start with our one-line message).
/// </summary>
internal sealed class DimseService(
    ArchiveDimseProvider provider, SqliteDicomNodeStore nodes, DimseOptions options, DimseTlsSettings tls, ImagingTranscoder transcoder, ILogger<DimseService> logger) : IAsyncDisposable
{
    private readonly List<DicomServer> servers = [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Port == 0 && tls.Server is null)
        {
            return;
        }

        var access = options.Open ? "open to any AE" : "known DICOM nodes only";
        if (options.Port != 0)
        {
            var server = await StartServerAsync(options.Port, null, cancellationToken);
            logger.LogInformation("DICOM SCP {AETitle} listening on port {Port} ({Access})", options.AETitle, server.Port, access);
        }

        if (tls.Server is { } tlsOptions)
        {
            var server = await StartServerAsync(tls.Port, tlsOptions, cancellationToken);
            logger.LogInformation(
                "DICOM TLS SCP {AETitle} listening on port {Port} ({Access}), certificate {Subject} valid until {NotAfter:u}{ClientCertificates}",
                options.AETitle, server.Port, access, tlsOptions.Certificate.Subject, tlsOptions.Certificate.NotAfter,
                tlsOptions.RequireClientCertificate ? ", client certificate required" : string.Empty);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var server in servers)
        {
            await server.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in servers)
        {
            await server.DisposeAsync();
        }
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

    private async Task<DicomServer> StartServerAsync(int port, DicomTlsServerOptions? tlsOptions, CancellationToken cancellationToken)
    {
        var server = new DicomServer(new DicomServerOptions
        {
            Port = port,
            AETitle = options.AETitle,
            AcceptedCallingAETitles = options.Open ? null : options.Nodes.Select(n => n.AETitle.Trim()).ToArray(),
            IsCallingAETitleAccepted = IsKnownNode,
            MaxAssociations = options.MaxAssociations,
            Association = DicomAssociationOptions.Default with { MaxAsyncOperations = options.MaxAsyncOperations },
            Echo = provider,
            Store = provider,
            Find = provider,
            Move = provider,
            Get = provider,
            MoveCallingAETitle = options.AETitle,
            Transcoder = transcoder,
            Tls = tlsOptions,
            Log = message => logger.LogInformation("DIMSE {Message}", message),
        });
        try
        {
            await server.StartAsync(cancellationToken);
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            await server.DisposeAsync();
            var setting = tlsOptions is null ? "Dimse:Port (--dicom-port)" : "Dimse:Tls:Port";
            throw new DimseSettingsException($"The DICOM{(tlsOptions is null ? string.Empty : " TLS")} port {port} cannot be opened: {ex.Message}. Choose another with {setting}, or 0 to turn it off.");
        }

        servers.Add(server);
        return server;
    }
}
