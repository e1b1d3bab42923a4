using System.Buffers;
using System.Buffers.Binary;

namespace Hounsfield.Network.Pdu;

/// <summary>A growable write buffer rented from <see cref="ArrayPool{T}"/>, with big-endian helpers for PDU fields.</summary>
internal sealed class PooledBufferStream : Stream
{
    private byte[] buffer;
    private int count;

    public PooledBufferStream(int initialCapacity = 4096)
    {
        buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
    }

    public int Count => count;

    public ReadOnlyMemory<byte> WrittenMemory => buffer.AsMemory(0, count);

    public ReadOnlySpan<byte> WrittenSpan => buffer.AsSpan(0, count);

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => count;

    public override long Position { get => count; set => throw new NotSupportedException(); }

    public void Reset() => count = 0;

    public byte[] ToArray() => WrittenSpan.ToArray();

    public Span<byte> GetSpan(int size)
    {
        Ensure(size);
        return buffer.AsSpan(count, size);
    }

    public Memory<byte> GetMemory(int size)
    {
        Ensure(size);
        return buffer.AsMemory(count, size);
    }

    public void Advance(int size) => count += size;

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> source)
    {
        source.CopyTo(GetSpan(source.Length));
        count += source.Length;
    }

    public override void WriteByte(byte value)
    {
        Ensure(1);
        buffer[count++] = value;
    }

    public void WriteUInt16BigEndian(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(GetSpan(2), value);
        count += 2;
    }

    public void WriteUInt32BigEndian(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(GetSpan(4), value);
        count += 4;
    }

    /// <summary>Writes ASCII text (characters above 0x7F become '?').</summary>
    public void WriteAscii(string text)
    {
        var span = GetSpan(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            span[i] = c <= 0x7F ? (byte)c : (byte)'?';
        }

        count += text.Length;
    }

    /// <summary>Writes text padded with spaces to a fixed width (AE title fields).</summary>
    public void WritePadded(string text, int width)
    {
        var span = GetSpan(width);
        span.Fill((byte)' ');
        for (var i = 0; i < Math.Min(text.Length, width); i++)
        {
            span[i] = text[i] <= 0x7F ? (byte)text[i] : (byte)'?';
        }

        count += width;
    }

    /// <summary>Reserves bytes whose value is known later (a length field); returns their offset.</summary>
    public int Reserve(int size)
    {
        GetSpan(size).Clear();
        var offset = count;
        count += size;
        return offset;
    }

    public void PatchUInt16BigEndian(int offset, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(offset), value);

    public void PatchUInt32BigEndian(int offset, uint value) => BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(offset), value);

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = [];
            count = 0;
        }

        base.Dispose(disposing);
    }

    private void Ensure(int size)
    {
        if (buffer.Length - count >= size)
        {
            return;
        }

        var needed = (long)count + size;
        if (needed > Array.MaxLength)
        {
            throw new InvalidOperationException("The buffer cannot grow beyond the array limit.");
        }

        var grown = ArrayPool<byte>.Shared.Rent((int)Math.Min(Array.MaxLength, Math.Max(needed, (long)buffer.Length * 2)));
        buffer.AsSpan(0, count).CopyTo(grown);
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        buffer = grown;
    }
}
