// The data set of a DIMSE message read as it arrives: the payloads of its data PDVs (PS3.8 §9.3.5, Annex E.2) up to
// the one flagged last. Nothing is buffered beyond the PDU being read.
namespace Hounsfield.Network.Dimse;

/// <summary>A read-only, forward-only stream over the data set fragments of one incoming message.</summary>
internal sealed class DimseDataStream : Stream
{
    private readonly DimseEngine engine;
    private readonly byte contextId;
    private readonly TaskCompletionSource endReached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ReadOnlyMemory<byte> current;
    private bool lastSeen;
    private bool ended;
    private bool detached;
    private long position;

    public DimseDataStream(DimseEngine engine, byte contextId)
    {
        this.engine = engine;
        this.contextId = contextId;
    }

    /// <summary>The failure of the association met while reading; the message is then incomplete.</summary>
    public Exception? Fault { get; private set; }

    public bool IsComplete => ended;

    /// <summary>Completes once the last fragment has been read (or reading failed): the association reads no more for this stream.</summary>
    public Task EndReached => endReached.Task;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => position; set => throw new NotSupportedException(); }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (ended)
        {
            return 0; // also once detached: a reader that took the last bytes may still ask for the end
        }

        ObjectDisposedException.ThrowIf(detached, this);
        if (Fault is not null)
        {
            throw new DicomNetworkException("The association failed while the data set was being received", Fault);
        }

        if (ended || destination.IsEmpty)
        {
            return 0;
        }

        cancellationToken.ThrowIfCancellationRequested();
        while (current.IsEmpty)
        {
            if (lastSeen)
            {
                MarkEnded();
                return 0;
            }

            try
            {
                var pdv = await engine.ReadDataFragmentAsync(contextId).ConfigureAwait(false);
                current = pdv.Payload;
                lastSeen = pdv.IsLast;
            }
            catch (Exception ex)
            {
                MarkFaulted(ex);
                throw;
            }
        }

        return TakeBuffered(destination.Span);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> destination)
    {
        if (ended)
        {
            return 0;
        }

        ObjectDisposedException.ThrowIf(detached, this);
        if (Fault is not null)
        {
            throw new DicomNetworkException("The association failed while the data set was being received", Fault);
        }

        while (current.IsEmpty && !ended && !destination.IsEmpty)
        {
            if (lastSeen)
            {
                MarkEnded();
                break;
            }

            // Synchronous readers (DicomReader over a stream) wait for the next PDU here.
            try
            {
                var next = engine.ReadDataFragmentAsync(contextId);
                var pdv = next.IsCompletedSuccessfully ? next.Result : next.AsTask().GetAwaiter().GetResult();
                current = pdv.Payload;
                lastSeen = pdv.IsLast;
            }
            catch (Exception ex)
            {
                MarkFaulted(ex);
                throw;
            }
        }

        return TakeBuffered(destination);
    }

    /// <summary>Copies what it can of the fragment in hand into <paramref name="destination"/>; the last one's end ends the stream.</summary>
    private int TakeBuffered(Span<byte> destination)
    {
        var n = Math.Min(current.Length, destination.Length);
        current.Span[..n].CopyTo(destination);
        current = current[n..];
        position += n;
        if (current.IsEmpty && lastSeen)
        {
            MarkEnded();
        }

        return n;
    }

    /// <summary>Reads and discards the rest of the data set so that the association can go on.</summary>
    public async ValueTask DrainAsync()
    {
        while (!ended && Fault is null)
        {
            current = ReadOnlyMemory<byte>.Empty;
            if (lastSeen)
            {
                MarkEnded();
                break;
            }

            try
            {
                var pdv = await engine.ReadDataFragmentAsync(contextId).ConfigureAwait(false);
                position += pdv.Payload.Length;
                lastSeen = pdv.IsLast;
            }
            catch (Exception ex)
            {
                MarkFaulted(ex);
                throw;
            }
        }
    }

    private void MarkEnded()
    {
        ended = true;
        endReached.TrySetResult();
    }

    private void MarkFaulted(Exception fault)
    {
        Fault = fault;
        endReached.TrySetResult();
    }

    /// <summary>After the handler returns the stream no longer reads: its fragments would belong to later messages.</summary>
    public void Detach() => detached = true;

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
