using System.Buffers;
using System.Runtime.InteropServices;

namespace Hounsfield.Imaging.Codecs.Native;

/// <summary>
/// A pooled array pinned for as long as a native codec keeps a pointer to it (CharLS keeps its source and
/// destination buffers between calls, so the pin of a single P/Invoke is not enough). Dispose to unpin and return it.
/// </summary>
internal sealed class PinnedBuffer : IDisposable
{
    private GCHandle handle;
    private byte[]? array;

    private PinnedBuffer(byte[] array, int length)
    {
        this.array = array;
        Length = length;
        handle = GCHandle.Alloc(array, GCHandleType.Pinned);
    }

    public int Length { get; }

    public nint Address => handle.AddrOfPinnedObject();

    public byte[] Array => array ?? throw new ObjectDisposedException(nameof(PinnedBuffer));

    public Span<byte> Span => Array.AsSpan(0, Length);

    /// <summary>A pinned copy of <paramref name="source"/>.</summary>
    public static PinnedBuffer CopyOf(ReadOnlySpan<byte> source)
    {
        var buffer = Rent(source.Length);
        source.CopyTo(buffer.Span);
        return buffer;
    }

    /// <summary>A pinned buffer of <paramref name="length"/> bytes (contents undefined).</summary>
    public static PinnedBuffer Rent(int length) => new(ArrayPool<byte>.Shared.Rent(Math.Max(length, 1)), length);

    public void Dispose()
    {
        if (array is not null)
        {
            handle.Free();
            ArrayPool<byte>.Shared.Return(array);
            array = null;
        }
    }
}
