// The transport of PDUs over TCP (PS3.8 §9.1, §9.3.1): a 6-byte header (type, reserved, 32-bit big-endian length)
// then the body. The length is checked against a limit per PDU type before any buffer is sized from it.
using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network.Association;

/// <summary>A PDU as read: its type and body (valid until the next read).</summary>
internal readonly record struct RawPdu(DicomPduType Type, ReadOnlyMemory<byte> Body);

/// <summary>Reads and writes whole PDUs on one connection, with per-read and per-write timeouts.</summary>
internal sealed class PduChannel : IDisposable
{
    private readonly Socket socket;
    private readonly Stream stream;
    private readonly DicomAssociationOptions options;
    private readonly CancellationTokenSource lifetime = new();
    private readonly byte[] header = new byte[PduCodec.HeaderLength];
    private CancellationTokenSource readTimer;
    private CancellationTokenSource writeTimer;
    private byte[] receiveBuffer = [];
    private int closed;

    public PduChannel(Socket socket, DicomAssociationOptions options)
        : this(socket, null, options)
    {
    }

    /// <summary>A channel over <paramref name="transport"/>, a stream that owns <paramref name="socket"/> (TLS), or over the socket itself when null.</summary>
    public PduChannel(Socket socket, Stream? transport, DicomAssociationOptions options)
    {
        this.socket = socket;
        this.options = options;
        socket.NoDelay = true;
        if (IsFinite(options.DimseTimeout))
        {
            // Synchronous writes (data sets encoded by DicomWriter) cannot take a token; the socket bounds them.
            socket.SendTimeout = (int)Math.Min(int.MaxValue, options.DimseTimeout.TotalMilliseconds);
        }

        stream = transport ?? new NetworkStream(socket, ownsSocket: true);
        RemoteEndPoint = socket.RemoteEndPoint;
        readTimer = CancellationTokenSource.CreateLinkedTokenSource(lifetime.Token);
        writeTimer = CancellationTokenSource.CreateLinkedTokenSource(lifetime.Token);
    }

    public EndPoint? RemoteEndPoint { get; }

    /// <summary>Cancelled when the channel closes.</summary>
    public CancellationToken Lifetime => lifetime.Token;

    public bool IsClosed => Volatile.Read(ref closed) != 0;

    public DicomAssociationOptions Options => options;

    /// <summary>
    /// Reads one PDU. Its length must fit the limit for its type: <see cref="DicomAssociationOptions.MaxAssociatePduLength"/>
    /// for A-ASSOCIATE-RQ/AC, <see cref="DicomAssociationOptions.MaxPduLength"/> for P-DATA-TF, exactly 4 for the others.
    /// </summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<RawPdu> ReadPduAsync(TimeSpan timeout, string timerName, string waitingFor)
    {
        var token = StartTimer(ref readTimer, timeout);
        try
        {
            await stream.ReadExactlyAsync(header, token).ConfigureAwait(false);
            var type = header[0];
            var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(2));
            CheckHeader(type, length);
            if (receiveBuffer.Length < length)
            {
                Grow((int)length);
            }

            var body = receiveBuffer.AsMemory(0, (int)length);
            await stream.ReadExactlyAsync(body, token).ConfigureAwait(false);
            return new RawPdu((DicomPduType)type, body);
        }
        catch (OperationCanceledException) when (!lifetime.IsCancellationRequested)
        {
            throw new DicomNetworkTimeoutException(timerName, timeout, waitingFor);
        }
        catch (EndOfStreamException ex)
        {
            throw new DicomNetworkException($"The peer closed the connection while this side was waiting for {waitingFor}", ex);
        }
        catch (IOException ex) when (!lifetime.IsCancellationRequested)
        {
            throw new DicomNetworkException($"The connection failed while this side was waiting for {waitingFor}: {ex.Message}", ex);
        }
        finally
        {
            StopTimer(readTimer);
        }
    }

    /// <summary>Writes bytes (one or more whole PDUs); callers serialise writes.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, TimeSpan timeout)
    {
        var token = StartTimer(ref writeTimer, timeout);
        try
        {
            await stream.WriteAsync(bytes, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!lifetime.IsCancellationRequested)
        {
            throw new DicomNetworkTimeoutException("DimseTimeout", timeout, "the peer to accept sent data");
        }
        catch (IOException ex) when (!lifetime.IsCancellationRequested)
        {
            throw new DicomNetworkException($"The connection failed while sending: {ex.Message}", ex);
        }
        finally
        {
            StopTimer(writeTimer);
        }
    }

    /// <summary>Writes synchronously (bounded by the socket's send timeout).</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        try
        {
            stream.Write(bytes);
        }
        catch (IOException ex)
        {
            throw new DicomNetworkException($"The connection failed while sending: {ex.Message}", ex);
        }
    }

    /// <summary>Best-effort write of a short control PDU (A-ABORT, A-ASSOCIATE-RJ) before closing.</summary>
    public async ValueTask TryWriteAsync(ReadOnlyMemory<byte> bytes, TimeSpan timeout)
    {
        if (IsClosed)
        {
            return;
        }

        try
        {
            await WriteAsync(bytes, timeout < TimeSpan.FromSeconds(5) ? timeout : TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DicomNetworkException or IOException or ObjectDisposedException or OperationCanceledException or SocketException)
        {
        }
    }

    /// <summary>Waits (at most <paramref name="timeout"/>) for the peer to close the connection, discarding what it sends.</summary>
    public async ValueTask WaitForPeerCloseAsync(TimeSpan timeout)
    {
        if (IsClosed)
        {
            return;
        }

        var token = StartTimer(ref readTimer, timeout);
        var scratch = ArrayPool<byte>.Shared.Rent(512);
        try
        {
            // A peer that keeps sending is not drained for ever: the timer, or 16 MiB, ends the wait.
            var drained = 0L;
            int n;
            while ((n = await stream.ReadAsync(scratch, token).ConfigureAwait(false)) > 0 && (drained += n) < 16L * 1024 * 1024)
            {
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
        finally
        {
            StopTimer(readTimer);
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>
    /// Closes after a final PDU (A-ABORT, A-ASSOCIATE-RJ): FIN first, then what the peer still sends is read and dropped
    /// for at most <paramref name="linger"/>, because closing a socket with unread input resets the connection, and a
    /// reset can destroy the final PDU before the peer reads it. Call only when no read is in progress.
    /// </summary>
    public async ValueTask CloseGracefullyAsync(TimeSpan linger)
    {
        if (IsClosed)
        {
            return;
        }

        if (stream is SslStream tls)
        {
            // A TLS close_notify first, so that the peer sees an orderly end rather than a truncated TLS stream.
            try
            {
                await tls.ShutdownAsync().WaitAsync(linger).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or TimeoutException or ObjectDisposedException or InvalidOperationException or NotSupportedException or SocketException)
            {
            }
        }

        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        await WaitForPeerCloseAsync(linger).ConfigureAwait(false);
        Close();
    }

    /// <summary>Closes the connection; pending reads and writes fail. The receive buffer goes back to the pool.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref closed, 1) != 0)
        {
            return;
        }

        try
        {
            lifetime.Cancel();
        }
        catch (AggregateException)
        {
        }

        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        stream.Dispose();
    }

    /// <summary>Closes and returns pooled memory; call only when no read is in progress.</summary>
    public void Dispose()
    {
        Close();
        if (receiveBuffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(receiveBuffer);
            receiveBuffer = [];
        }

        readTimer.Dispose();
        writeTimer.Dispose();
        lifetime.Dispose();
    }

    internal static bool IsFinite(TimeSpan timeout) => timeout > TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan;

    private void CheckHeader(byte type, uint length)
    {
        switch ((DicomPduType)type)
        {
            case DicomPduType.AssociateRequest or DicomPduType.AssociateAccept:
                if (length > (uint)options.MaxAssociatePduLength)
                {
                    throw new DicomNetworkLimitException(nameof(options.MaxAssociatePduLength), options.MaxAssociatePduLength, length, $"Length of the {Name(type)} PDU");
                }

                break;
            case DicomPduType.PData:
                if (length > options.MaxPduLength)
                {
                    throw new DicomNetworkLimitException(nameof(options.MaxPduLength), options.MaxPduLength, length, "Length of the P-DATA-TF PDU");
                }

                if (length < 6)
                {
                    throw new DicomNetworkException($"A P-DATA-TF PDU of length {length} cannot hold a PDV", DicomAbortReason.InvalidPduParameterValue);
                }

                break;
            case DicomPduType.AssociateReject or DicomPduType.ReleaseRequest or DicomPduType.ReleaseResponse or DicomPduType.Abort:
                if (length != 4)
                {
                    throw new DicomNetworkException($"An {Name(type)} PDU has length {length}; PS3.8 §9.3 fixes it at 4", DicomAbortReason.InvalidPduParameterValue);
                }

                break;
            default:
                throw new DicomNetworkException($"Unrecognized PDU type 0x{type:X2} (length field {length})", DicomAbortReason.UnrecognizedPdu);
        }
    }

    internal static string Name(byte type) => (DicomPduType)type switch
    {
        DicomPduType.AssociateRequest => "A-ASSOCIATE-RQ",
        DicomPduType.AssociateAccept => "A-ASSOCIATE-AC",
        DicomPduType.AssociateReject => "A-ASSOCIATE-RJ",
        DicomPduType.PData => "P-DATA-TF",
        DicomPduType.ReleaseRequest => "A-RELEASE-RQ",
        DicomPduType.ReleaseResponse => "A-RELEASE-RP",
        DicomPduType.Abort => "A-ABORT",
        _ => $"type 0x{type:X2}",
    };

    private void Grow(int length)
    {
        var grown = ArrayPool<byte>.Shared.Rent(Math.Max(length, 16 * 1024));
        if (receiveBuffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(receiveBuffer);
        }

        receiveBuffer = grown;
    }

    private CancellationToken StartTimer(ref CancellationTokenSource timer, TimeSpan timeout)
    {
        if (lifetime.IsCancellationRequested)
        {
            throw new OperationCanceledException(lifetime.Token);
        }

        if (timer.IsCancellationRequested)
        {
            // A timer that fired just after the previous operation completed: start afresh.
            timer.Dispose();
            timer = CancellationTokenSource.CreateLinkedTokenSource(lifetime.Token);
        }

        if (IsFinite(timeout))
        {
            timer.CancelAfter(timeout);
        }

        return timer.Token;
    }

    private static void StopTimer(CancellationTokenSource timer)
    {
        try
        {
            timer.CancelAfter(Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
