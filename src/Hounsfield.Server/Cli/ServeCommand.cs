using Hounsfield.Archive;
using Hounsfield.Archive.Blobs;
using Hounsfield.Archive.Index;
using Hounsfield.Server.Accounts;
using Hounsfield.Server.DicomWeb;
using Hounsfield.Server.Developer;
using Hounsfield.Server.Dimse;
using Hounsfield.Server.Hosting;
using Hounsfield.Server.Nodes;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hounsfield.Server.Cli;

/// <summary>`hounsfield serve`: the HTTP server with embedded storage under ./data by default.</summary>
internal static class ServeCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = TranslateArguments(args) });
        builder.Configuration.AddEnvironmentVariables("HOUNSFIELD__");
        // ASP.NET Core logs every request at Information (routing, endpoint execution): lines nobody reads, written through
        // the console logger's lock on the request path. Its own warnings stay; Logging:LogLevel:Microsoft.AspNetCore overrides.
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource
        {
            InitialData = [new("Logging:LogLevel:Default", "Information"), new("Logging:LogLevel:Microsoft.AspNetCore", "Warning")],
        });
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls("http://localhost:8080");
        }

        var dataDirectory = Path.GetFullPath(builder.Configuration["Data"] ?? "data");
        Directory.CreateDirectory(dataDirectory);
        using var dataLock = LockDataFolder(dataDirectory);
        var archiveOptions = builder.Configuration.Read<ArchiveOptions>("Archive");
        archiveOptions.DataDirectory = dataDirectory;
        builder.Services.AddSingleton(archiveOptions);
        builder.Services.AddSingleton<IArchiveIndex>(services => new SqliteArchiveIndex(Path.Combine(dataDirectory, "index.db"), services.GetRequiredService<ILogger<SqliteArchiveIndex>>())
        {
            MaxStoredValueBytesPerQuery = archiveOptions.MaxStoredValueBytesPerQuery,
        });
        builder.Services.AddSingleton<IBlobStore>(_ => new FolderBlobStore(Path.Combine(dataDirectory, "blobs"), archiveOptions.MaxInMemoryInstanceLength, spareSegmentLength: archiveOptions.SpareSegmentLength));
        builder.Services.AddSingleton<ArchiveService>();
        var dimseOptions = builder.Configuration.Read<DimseOptions>("Dimse");
        builder.Services.AddSingleton(dimseOptions);
        builder.Services.AddSingleton(DimseTls.Load(dimseOptions.Tls));
        builder.Services.AddSingleton(new ImagingTranscoder(dimseOptions.MaxDecompressedLength));
        builder.Services.AddSingleton<DimseService>();
        builder.AddAccounts(dataDirectory);
        builder.AddCrossOrigin();
        builder.Services.AddDeveloperServices(builder.Configuration);
        builder.AddDicomNodes(dataDirectory);
        builder.Services.AddOpenApi();
        builder.Services.AddResponseCompression(compression =>
        {
            compression.EnableForHttps = true;
            compression.MimeTypes = ["application/dicom+json", "application/json", "application/dicom+xml"];
        });
        builder.Services.Replace(ServiceDescriptor.Singleton<Microsoft.AspNetCore.ResponseCompression.IResponseCompressionProvider, LengthAwareCompressionProvider>());
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = archiveOptions.MaxRequestLength);
        builder.Services.AddLargeBlockMemoryPool();

        var app = builder.Build();
        var startup = await app.Services.GetRequiredService<ArchiveService>().InitializeAsync(new LoggedRecovery(app.Logger), CancellationToken.None);
        if (startup.Recovered > 0)
        {
            app.Logger.LogWarning("Re-indexed {RecoveredCount} stored instances the index lacked (its last commits undone by a power loss or crash, or the index lost)", startup.Recovered);
        }

        if (startup.Removed > 0)
        {
            app.Logger.LogWarning("Removed {OrphanCount} blobs that no index row referred to (deleted or replaced instances, unreadable blobs)", startup.Removed);
        }

        await app.InitializeAccountsAsync(CancellationToken.None);
        await app.InitializeDicomNodesAsync(CancellationToken.None);

        app.UseResponseCompression();
        app.UseCrossOrigin();
        app.MapOpenApi("/api/openapi.json").AllowAnonymous();
        app.UseSwaggerUI(ui =>
        {
            ui.SwaggerEndpoint("/api/openapi.json", "Hounsfield");
            ui.RoutePrefix = "api/docs";
            ui.DocumentTitle = "Hounsfield API";
        });
        app.UseAccounts();
        app.MapAccounts();
        app.MapDicomWeb();
        app.MapDeveloperServices();
        app.MapDicomNodes();
        app.MapGet("/health/live", () => Results.Ok(new { status = "live" })).AllowAnonymous();
        app.MapGet("/health/ready", async (ArchiveService archive, CancellationToken ct) =>
        {
            try
            {
                await archive.QueryAsync(new Hounsfield.Archive.Query.QidoQuery { Level = Hounsfield.Archive.Query.QueryLevel.Study, Limit = 1 }, ct);
                return Directory.Exists(dataDirectory)
                    ? Results.Ok(new { status = "ready" })
                    : Results.Json(new { status = "data directory missing" }, statusCode: 503);
            }
            catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException)
            {
                return Results.Json(new { status = "index unavailable" }, statusCode: 503);
            }
        }).AllowAnonymous();
        app.Logger.LogInformation("Data directory {DataDirectory}", dataDirectory);
        // Started here rather than as a hosted service, so that a port in use is the one-line error of any bad setting, not
        // the host's "Hosting failed to start" with a stack trace.
        var dimse = app.Services.GetRequiredService<DimseService>();
        await dimse.StartAsync(CancellationToken.None);
        try
        {
            await app.RunAsync();
        }
        finally
        {
            await dimse.StopAsync(CancellationToken.None);
        }

        return 0;
    }

    /// <summary>Start-up's re-indexing, logged as it goes (synchronously, unlike <see cref="Progress{T}"/>, so the lines keep their order).</summary>
    private sealed class LoggedRecovery(ILogger logger) : IProgress<ArchiveRecovery>
    {
        public void Report(ArchiveRecovery value) =>
            logger.LogWarning("Reading stored blobs the index lacks: {ReadCount} read, {PartsSwept} of {PartCount} parts of the blob store swept",
                value.Read, value.PartsSwept, value.Parts);
    }

    /// <summary>
    /// Holds <c>.lock</c> in the data folder for the life of the process (an exclusive lock the system drops when the process
    /// ends, however it ends). A second server on the same folder would take the first one's instances between their blob
    /// and their index row for orphans at its start, and free them.
    /// </summary>
    private static FileStream LockDataFolder(string dataDirectory)
    {
        try
        {
            return new FileStream(Path.Combine(dataDirectory, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new IOException($"The data folder {dataDirectory} is in use by another hounsfield serve; each server needs its own.", ex);
        }
    }

    /// <summary>Accepts `--data DIR`, `--dicom-port P` and `--dicom-open true` as shorthands for configuration keys; the rest follows ASP.NET conventions.</summary>
    private static string[] TranslateArguments(string[] args)
    {
        // Settings are read once at start, so nothing watches the configuration files: a watcher of the content root
        // (the working folder) would also see every blob written when the data folder lies under it, as by default.
        var translated = new List<string>(args.Length + 1) { "--hostBuilder:reloadConfigOnChange=false" };
        for (var i = 0; i < args.Length; i++)
        {
            translated.Add(args[i] switch
            {
                "--data" => "--Data",
                "--dicom-port" => "--Dimse:Port",
                "--dicom-open" => "--Dimse:Open",
                _ => args[i],
            });
        }

        return [.. translated];
    }
}
