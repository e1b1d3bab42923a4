using System.Collections.Concurrent;
using System.Net;
using Hounsfield.Network.Association;

namespace Hounsfield.Network.Tests;

/// <summary>A <see cref="DicomServer"/> on a free loopback port, with a log kept for failing assertions.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private TestServer(DicomServer server, ConcurrentQueue<string> log)
    {
        Server = server;
        Log = log;
    }

    public DicomServer Server { get; }

    public ConcurrentQueue<string> Log { get; }

    public int Port => Server.Port;

    public string AETitle => Server.Options.AETitle;

    public static async Task<TestServer> StartAsync(Func<DicomServerOptions, DicomServerOptions>? configure = null)
    {
        var log = new ConcurrentQueue<string>();
        var options = new DicomServerOptions
        {
            Port = 0,
            BindAddress = IPAddress.Loopback,
            AETitle = "HOUNSFIELD",
            Log = log.Enqueue,
            Association = new DicomAssociationOptions { ArtimTimeout = TimeSpan.FromSeconds(10), DimseTimeout = TimeSpan.FromSeconds(30), IdleTimeout = TimeSpan.FromSeconds(30) },
        };
        if (configure is not null)
        {
            options = configure(options);
        }

        var server = new DicomServer(options);
        await server.StartAsync();
        return new TestServer(server, log);
    }

    public DicomClient Client(string callingAE = "TESTSCU", DicomAssociationOptions? options = null) =>
        new("127.0.0.1", Port, callingAE, AETitle, options ?? new DicomAssociationOptions { ArtimTimeout = TimeSpan.FromSeconds(10), DimseTimeout = TimeSpan.FromSeconds(30) });

    public string Dump() => string.Join('\n', Log);

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}

internal static class DicomServerOptionsExtensions
{
    public static DicomServerOptions With(this DicomServerOptions options, ICStoreProvider? store = null, ICFindProvider? find = null, ICMoveProvider? move = null, ICGetProvider? get = null,
        DicomAssociationOptions? association = null) =>
        new()
        {
            Port = options.Port,
            BindAddress = options.BindAddress,
            AETitle = options.AETitle,
            Log = options.Log,
            Association = association ?? options.Association,
            AcceptedCallingAETitles = options.AcceptedCallingAETitles,
            MaxAssociations = options.MaxAssociations,
            Echo = options.Echo,
            Store = store ?? options.Store,
            Find = find ?? options.Find,
            Move = move ?? options.Move,
            Get = get ?? options.Get,
            Tls = options.Tls,
        };
}
