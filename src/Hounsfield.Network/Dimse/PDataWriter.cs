// Fragmentation of a DIMSE message into P-DATA-TF PDUs (PS3.8 §9.3.5, Annex E.2): one PDV per PDU, the command and the
// data set in separate PDVs, the last fragment of each flagged in the message control header. A PDU is sent only once
// the next byte needs room (or the part completes), so the last fragment always carries data and the "last" flag.
using System.Buffers;
using Hounsfield.Network.Association;
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network.Dimse;

/// <summary>A write-only stream that sends what is written as PDVs of one message part (command or data set).</summary>
internal sealed class PDataWriter : Stream
{
    private const int Headers = 12;
    private readonly PduChannel channel;
    private readonly TimeSpan timeout;
    private byte[] buffer;
    private int capacity;
    private int count;
    private byte contextId;
    private bool command;
    private bool open;

    public PDataWriter(PduChannel channel, uint peerMaxPduLength, uint maxSendPduLength, TimeSpan timeout)
    {
        this.channel = channel;
        this.timeout = timeout;

        // The Maximum Length sub-item bounds the PDU's variable field, which holds the 6-byte PDV header (PS3.8 D.1).
        var pduLength = peerMaxPduLength == 0 ? maxSendPduLength : Math.Min(peerMaxPduLength, maxSendPduLength);
        // A whole PDU (6 + 6 header bytes and the fragment) is sized to a power of two, the size the array pool keeps;
        // fragments are kept even: DCMTK, among others, rejects odd ones (data sets are even, PS3.5 §7.1).
        var whole = (uint)Math.Min(pduLength + 6L, uint.MaxValue);
        var pooled = System.Numerics.BitOperations.IsPow2(whole) ? whole : System.Numerics.BitOperations.RoundUpToPowerOf2(whole) / 2;
        capacity = (int)Math.Max(2, (pooled - Headers) & ~1u);
        buffer = [];
    }

    public int FragmentCapacity => capacity;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public void Begin(byte presentationContextId, bool isCommand)
    {
        if (buffer.Length == 0)
        {
            buffer = ArrayPool<byte>.Shared.Rent(capacity + Headers);
        }

        contextId = presentationContextId;
        command = isCommand;
        count = 0;
        open = true;
    }

    /// <summary>Free room in the current fragment, sending the full one first; fill it and call <see cref="Advance"/>.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Memory<byte>> GetMemoryAsync()
    {
        if (count == capacity)
        {
            await SendAsync(last: false).ConfigureAwait(false);
        }

        return buffer.AsMemory(Headers + count, capacity - count);
    }

    public void Advance(int bytes) => count += bytes;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        while (!source.IsEmpty)
        {
            var room = await GetMemoryAsync().ConfigureAwait(false);
            var n = Math.Min(room.Length, source.Length);
            source[..n].CopyTo(room);
            count += n;
            source = source[n..];
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            if (count == capacity)
            {
                SendSync(last: false);
            }

            var n = Math.Min(capacity - count, source.Length);
            source[..n].CopyTo(buffer.AsSpan(Headers + count));
            count += n;
            source = source[n..];
        }
    }

    public override void WriteByte(byte value) => Write([value]);

    /// <summary>
    /// Sends the last fragment of the part. An odd total (a deflated data set, PS3.5 A.5, or a nonconformant stored one)
    /// gets a trailing NUL byte: every earlier fragment is full and even, so there is room for it.
    /// </summary>
    public async ValueTask CompleteAsync()
    {
        if (!open)
        {
            throw new InvalidOperationException("No message part is being written.");
        }

        if ((count & 1) == 1)
        {
            buffer[Headers + count] = 0;
            count++;
        }

        await SendAsync(last: true).ConfigureAwait(false);
        open = false;
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Returns the buffer to the pool; call only when no write is in progress.</summary>
    public void ReleaseBuffer()
    {
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = [];
        }
    }

    private ValueTask SendAsync(bool last)
    {
        PduCodec.WritePDataHeaders(buffer, count, contextId, command, last);
        var length = Headers + count;
        count = 0;
        return channel.WriteAsync(buffer.AsMemory(0, length), timeout);
    }

    private void SendSync(bool last)
    {
        PduCodec.WritePDataHeaders(buffer, count, contextId, command, last);
        var length = Headers + count;
        count = 0;
        channel.Write(buffer.AsSpan(0, length));
    }
}
