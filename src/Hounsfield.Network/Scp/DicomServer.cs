// The SCP side of association establishment (PS3.8 §9.2 state machine, acceptor path): ARTIM runs from the TCP
// connection until a valid A-ASSOCIATE-RQ (AE-5, AE-6); an invalid or unexpected PDU earns an A-ABORT (AA-1); an
// unacceptable request an A-ASSOCIATE-RJ (PS3.8 §9.3.4). Every failure ends that association only; the listener stays.
// With TLS (PS3.15 Annex B.1) the handshake comes first, bounded by its own timeout; ARTIM starts after it.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Hounsfield.Network.Association;
using Hounsfield.Network.Dimse;
using Hounsfield.Network.Pdu;
using Hounsfield.Network.Tls;

namespace Hounsfield.Network;

/// <summary>A DICOM SCP: listens on TCP, negotiates associations and dispatches DIMSE requests to the providers.</summary>
public sealed class DicomServer : IAsyncDisposable
{
    private readonly DicomServerOptions options;
    private readonly DicomTlsServer? tls;
    private readonly ConcurrentDictionary<int, (Task Task, PduChannel? Channel)> connections = new();
    private readonly CancellationTokenSource stopping = new();
    private TcpListener? listener;
    private Task? acceptLoop;
    private int nextConnection;
    private int associations;

    public DicomServer(DicomServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        DicomAssociationOptions.ValidateAETitle(options.AETitle, nameof(options.AETitle));
        options.Association.Validate();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxAssociations);
        this.options = options;
        tls = options.Tls is null ? null : new DicomTlsServer(options.Tls);
    }

    /// <summary>The port listened on (the one chosen when <see cref="DicomServerOptions.Port"/> is 0).</summary>
    public int Port { get; private set; }

    /// <summary>Associations established and not yet ended.</summary>
    public int ActiveAssociations => Volatile.Read(ref associations);

    public DicomServerOptions Options => options;

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (listener is not null)
        {
            throw new InvalidOperationException("The server is already started.");
        }

        listener = new TcpListener(options.BindAddress, options.Port);
        if (options.BindAddress.Equals(IPAddress.IPv6Any))
        {
            // One socket for IPv6 and IPv4 peers.
            listener.Server.DualMode = true;
        }

        listener.Start(backlog: 128);
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        acceptLoop = Task.Run(AcceptLoopAsync);
        return Task.CompletedTask;
    }

    /// <summary>Stops listening and aborts the associations in progress.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (stopping.IsCancellationRequested)
        {
            return;
        }

        stopping.Cancel();
        listener?.Stop();
        foreach (var (_, connection) in connections)
        {
            connection.Channel?.Close();
        }

        var tasks = connections.Values.Select(c => c.Task).ToList();
        if (acceptLoop is not null)
        {
            tasks.Add(acceptLoop);
        }

        try
        {
            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            options.Log?.Invoke("Some DICOM associations did not end within 10 s of the server stopping");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener!.AcceptSocketAsync(stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (stopping.IsCancellationRequested && ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Out of descriptors or a reset before accept: keep listening.
                options.Log?.Invoke($"DICOM accept failed: {ex.Message}");
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }

            // Connections beyond what ARTIM can bound (a flood) are closed at once.
            if (connections.Count >= options.MaxAssociations + 64)
            {
                socket.Dispose();
                continue;
            }

            var id = Interlocked.Increment(ref nextConnection);
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var task = Task.Run(async () =>
            {
                await ready.Task.ConfigureAwait(false);
                try
                {
                    await ServeAsync(id, socket).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    options.Log?.Invoke($"DICOM connection {id} failed: {ex.Message}");
                }
                finally
                {
                    connections.TryRemove(id, out _);
                }
            });
            connections[id] = (task, null);
            ready.SetResult();
        }
    }

    private async Task ServeAsync(int id, Socket socket)
    {
        var association = options.Association;
        Stream? transport = null;
        if (tls is not null)
        {
            transport = await tls.AuthenticateAsync(socket, $"{id} from {socket.RemoteEndPoint}", options.Log, stopping.Token).ConfigureAwait(false);
            if (transport is null)
            {
                return;
            }
        }

        var channel = new PduChannel(socket, transport, association);
        connections[id] = (connections.TryGetValue(id, out var entry) ? entry.Task : Task.CompletedTask, channel);
        var counted = false;
        try
        {
            var pdu = await channel.ReadPduAsync(association.ArtimTimeout, nameof(association.ArtimTimeout), "an A-ASSOCIATE-RQ").ConfigureAwait(false);
            if (pdu.Type != DicomPduType.AssociateRequest)
            {
                throw new DicomNetworkException($"Expected an A-ASSOCIATE-RQ but received an {PduChannel.Name((byte)pdu.Type)} PDU", DicomAbortReason.UnexpectedPdu);
            }

            var request = PduCodec.ReadAssociateRequest(pdu.Body.Span, association.PduLimits);
            counted = Interlocked.Increment(ref associations) <= options.MaxAssociations;
            if (!counted)
            {
                Interlocked.Decrement(ref associations);
            }

            if (Reject(request, counted) is { } reject)
            {
                options.Log?.Invoke($"Rejected association {request.CallingAE} -> {request.CalledAE} from {channel.RemoteEndPoint}: {reject}");
                using (var buffer = new PooledBufferStream(16))
                {
                    PduCodec.WriteAssociateReject(buffer, reject);
                    await channel.TryWriteAsync(buffer.WrittenMemory, association.ArtimTimeout).ConfigureAwait(false);
                }

                // ARTIM bounds the wait for the requestor to close (PS3.8 §9.2, AA-8 / Sta13).
                await channel.CloseGracefullyAsync(association.ArtimTimeout < TimeSpan.FromSeconds(5) ? association.ArtimTimeout : TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                channel.Dispose();
                return;
            }

            var handler = new DicomServiceHandler(options, request);
            var (accept, info) = DicomNegotiation.Accept(request, handler, association, channel.RemoteEndPoint);
            using (var buffer = new PooledBufferStream(1024))
            {
                PduCodec.WriteAssociateAccept(buffer, accept);
                await channel.WriteAsync(buffer.WrittenMemory, association.ArtimTimeout).ConfigureAwait(false);
            }

            var engine = new DimseEngine(channel, info, handler, options.Log);
            engine.Start();
            await engine.Completion.ConfigureAwait(false);
        }
        catch (DicomNetworkException ex)
        {
            options.Log?.Invoke($"DICOM connection from {channel.RemoteEndPoint} ended before association: {ex.Message}");
            if (ex is not DicomAssociationAbortedException && !channel.IsClosed)
            {
                var abort = new byte[10];
                abort[0] = (byte)DicomPduType.Abort;
                abort[5] = 4;
                abort[8] = (byte)DicomAbortSource.ServiceProvider;
                abort[9] = (byte)ex.AbortReason;
                await channel.TryWriteAsync(abort, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                await channel.CloseGracefullyAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            }

            channel.Dispose();
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            channel.Dispose();
        }
        finally
        {
            if (counted)
            {
                Interlocked.Decrement(ref associations);
            }
        }
    }

    private DicomAssociationReject? Reject(DicomAssociationRequest request, bool withinLimit)
    {
        if ((request.ProtocolVersion & 0x0001) == 0)
        {
            return new DicomAssociationReject(DicomRejectResult.Permanent, DicomRejectSource.ServiceProviderAcse, DicomRejectReason.ProtocolVersionNotSupported);
        }

        if (request.ApplicationContextName != DicomApplicationContext.Name)
        {
            return new DicomAssociationReject(DicomRejectResult.Permanent, DicomRejectSource.ServiceUser, DicomRejectReason.ApplicationContextNotSupported);
        }

        if (options.RequireCalledAETitle && !string.Equals(request.CalledAE, options.AETitle, StringComparison.Ordinal))
        {
            return new DicomAssociationReject(DicomRejectResult.Permanent, DicomRejectSource.ServiceUser, DicomRejectReason.CalledAENotRecognized);
        }

        if (options.AcceptedCallingAETitles is { } accepted && !accepted.Contains(request.CallingAE) && options.IsCallingAETitleAccepted?.Invoke(request.CallingAE) != true)
        {
            return new DicomAssociationReject(DicomRejectResult.Permanent, DicomRejectSource.ServiceUser, DicomRejectReason.CallingAENotRecognized);
        }

        if (!withinLimit)
        {
            return new DicomAssociationReject(DicomRejectResult.Transient, DicomRejectSource.ServiceProviderPresentation, DicomRejectReason.LocalLimitExceeded);
        }

        return null;
    }
}
