using Hounsfield.Server.Cli;
using Hounsfield.Server.Dimse;

namespace Hounsfield.Server.Nodes;

/// <summary>Wires the DICOM nodes into the server: the store, the job runner, the configured nodes, the endpoints.</summary>
internal static class DicomNodesSetup
{
    public static void AddDicomNodes(this WebApplicationBuilder builder, string dataDirectory)
    {
        var options = builder.Configuration.Read<DicomNodeOptions>("Nodes");
        options.Validate();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(_ => new SqliteDicomNodeStore(Path.Combine(dataDirectory, "index.db")));
        builder.Services.AddSingleton<ArchiveDimseProvider>();
        builder.Services.AddSingleton<DicomNodeTransfers>();
        builder.Services.AddSingleton<DicomNodeJobRunner>();
        builder.Services.AddHostedService(provider => provider.GetRequiredService<DicomNodeJobRunner>());
    }

    /// <summary>
    /// Creates the tables and adds each node of the configuration (Dimse:Nodes) that no node of the database has the
    /// peer AE title of, so that configured peers can be used through the API too.
    /// </summary>
    public static async Task InitializeDicomNodesAsync(this WebApplication app, CancellationToken cancellationToken)
    {
        var store = app.Services.GetRequiredService<SqliteDicomNodeStore>();
        await store.InitializeAsync(cancellationToken);
        var dimse = app.Services.GetRequiredService<DimseOptions>();
        var now = app.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        foreach (var configured in dimse.Nodes)
        {
            // Its AE title and port were checked with the settings (SettingsSections).
            var peer = configured.AETitle.Trim();
            if (configured.Port == 0 || string.IsNullOrWhiteSpace(configured.Host))
            {
                continue; // a calling AE title only: known for association, but not reachable
            }

            var created = await store.CreateAsync(new DicomNodeFields(peer, dimse.AETitle, peer, configured.Host.Trim(), configured.Port, configured.Tls), now, cancellationToken);
            if (created is not null)
            {
                app.Logger.LogInformation("Added configured DICOM node {PeerAETitle} as node {NodeId}", peer, created.Id);
            }
        }
    }
}
