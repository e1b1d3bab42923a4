using System.Buffers;
using System.Buffers.Binary;

namespace Hounsfield.Dicom.IO;

/// <summary>
/// A forward-only byte source over a stream or a whole in-memory file, with absolute positions, that refills
/// a pooled buffer and never allocates more than a value's real size (a declared length past the end fails at the end).
/// </summary>
internal sealed class DicomInput : IDisposable
{
    private const int BufferSize = 64 * 1024;
    private const int FirstReadSize = 8 * 1024;
    private readonly Stream? stream;
    private readonly ReadOnlyMemory<byte> memory;
    private byte[] buffer;
    private readonly bool pooled;
    private int start;
    private int end;
    private long bufferOrigin;
    private bool endOfStream;
    private int readSize = FirstReadSize;

    public DicomInput(Stream stream, long origin = 0)
    {
        this.stream = stream;
        buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        pooled = true;
        bufferOrigin = origin;
        if (stream.CanSeek)
        {
            Length = origin + (stream.Length - stream.Position);
        }
    }

    public DicomInput(ReadOnlyMemory<byte> bytes)
    {
        memory = bytes;
        buffer = [];
        end = bytes.Length;
        endOfStream = true;
        Length = bytes.Length;
    }

    /// <summary>Absolute position of the next byte.</summary>
    public long Position => bufferOrigin + start;

    /// <summary>Total length when known (seekable stream or memory), else null.</summary>
    public long? Length { get; }

    public bool IsMemory => stream is null;

    public bool CanSeek => stream is null || stream.CanSeek;

    public long? Remaining => Length - Position;

    private ReadOnlySpan<byte> Data => stream is null ? memory.Span : buffer;

    /// <summary>Makes <paramref name="count"/> bytes available; false when the input ends first.</summary>
    public bool Ensure(int count)
    {
        if (end - start >= count)
        {
            return true;
        }

        if (endOfStream || stream is null)
        {
            return false;
        }

        if (start > 0)
        {
            Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
            end -= start;
            bufferOrigin += start;
            start = 0;
        }

        if (count > buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(count);
            Buffer.BlockCopy(buffer, 0, larger, 0, end);
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = larger;
        }

        while (end < count)
        {
            // Reads grow from 8 KiB to the buffer size, so that a header-only read of a large file stays small.
            var n = stream.Read(buffer, end, Math.Max(count - end, Math.Min(readSize, buffer.Length - end)));
            readSize = Math.Min(readSize * 2, buffer.Length);
            if (n == 0)
            {
                endOfStream = true;
                return false;
            }

            end += n;
        }

        return true;
    }

    /// <summary>True when no byte is left.</summary>
    public bool AtEnd => !Ensure(1);

    /// <summary>Bytes already buffered (at least the count passed to a successful <see cref="Ensure"/>).</summary>
    public ReadOnlySpan<byte> Peek(int count) => Data.Slice(start, count);

    public int Available => end - start;

    public void Advance(int count) => start += count;

    public ushort ReadUInt16(bool bigEndian)
    {
        var span = Data.Slice(start, 2);
        start += 2;
        return bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(span) : BinaryPrimitives.ReadUInt16LittleEndian(span);
    }

    public uint ReadUInt32(bool bigEndian)
    {
        var span = Data.Slice(start, 4);
        start += 4;
        return bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(span) : BinaryPrimitives.ReadUInt32LittleEndian(span);
    }

    /// <summary>Reads <paramref name="length"/> bytes; a memory input returns a slice without copying. Returns null when the input ends first.</summary>
    public ReadOnlyMemory<byte>? ReadValue(int length)
    {
        if (stream is null)
        {
            if (end - start < length)
            {
                return null;
            }

            var slice = memory.Slice(start, length);
            start += length;
            return slice;
        }

        var result = new byte[Math.Min(length, Math.Max(BufferSize, end - start))];
        var filled = 0;
        while (filled < length)
        {
            if (start == end && !Ensure(1))
            {
                return null;
            }

            if (filled == result.Length)
            {
                // Grow only as real bytes arrive, so a hostile declared length costs no more than the input's size.
                Array.Resize(ref result, (int)Math.Min(length, (long)result.Length * 2));
            }

            var n = Math.Min(end - start, result.Length - filled);
            Buffer.BlockCopy(buffer, start, result, filled, n);
            start += n;
            filled += n;
        }

        return result;
    }

    /// <summary>Skips <paramref name="count"/> bytes; false when the input ends first.</summary>
    public bool Skip(long count)
    {
        var buffered = end - start;
        if (count <= buffered)
        {
            start += (int)count;
            return true;
        }

        if (stream is null)
        {
            return false;
        }

        count -= buffered;
        bufferOrigin += end;
        start = end = 0;
        if (stream.CanSeek)
        {
            if (stream.Position + count > stream.Length)
            {
                return false;
            }

            stream.Seek(count, SeekOrigin.Current);
            bufferOrigin += count;
            return true;
        }

        while (count > 0)
        {
            var n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, count));
            if (n == 0)
            {
                endOfStream = true;
                return false;
            }

            count -= n;
            bufferOrigin += n;
        }

        return true;
    }

    /// <summary>The rest of the input as a stream (used to inflate a deflated data set).</summary>
    public Stream RemainderAsStream()
    {
        if (stream is null)
        {
            return new MemoryStream(memory[start..end].ToArray(), writable: false);
        }

        var leftover = buffer.AsSpan(start, end - start).ToArray();
        start = end;
        return new PrefixedStream(leftover, stream);
    }

    public void Dispose()
    {
        if (pooled)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = [];
        }
    }

    /// <summary>Some bytes already read, then the rest of a stream.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream rest) : Stream
    {
        private int prefixPosition;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> destination)
        {
            if (prefixPosition < prefix.Length)
            {
                var n = Math.Min(destination.Length, prefix.Length - prefixPosition);
                prefix.AsSpan(prefixPosition, n).CopyTo(destination);
                prefixPosition += n;
                return n;
            }

            return rest.Read(destination);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
