using System.Buffers;

namespace Hounsfield.Imaging.Rendering;

/// <summary>An 8-bit display image: row-major, one byte per sample, gray (1 channel) or RGB interleaved (3 channels).</summary>
public sealed class RenderedImage : IDisposable
{
    private ArrayPool<byte>? pool;

    public RenderedImage(int width, int height, int channels, byte[] pixels)
        : this(width, height, channels, pixels, null)
    {
    }

    /// <summary>An image whose <paramref name="pixels"/> were rented from <paramref name="pool"/> and go back to it on <see cref="Dispose"/>.</summary>
    internal RenderedImage(int width, int height, int channels, byte[] pixels, ArrayPool<byte>? pool)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (channels is not (1 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "1 (gray) or 3 (RGB)");
        }

        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.LongLength < (long)width * height * channels)
        {
            throw new ArgumentException($"{width}x{height}x{channels} samples need {(long)width * height * channels} bytes; {pixels.Length} given.", nameof(pixels));
        }

        Width = width;
        Height = height;
        Channels = channels;
        Pixels = pixels;
        this.pool = pool;
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>1 for gray, 3 for RGB.</summary>
    public int Channels { get; }

    public bool IsColor => Channels == 3;

    public byte[] Pixels { get; }

    /// <summary>Bytes per row.</summary>
    public int Stride => Width * Channels;

    /// <summary>The number of bytes of <see cref="Pixels"/> in use (a rented array may be longer).</summary>
    public int Length => Stride * Height;

    /// <summary>Returns rented pixels (see <see cref="FrameRenderer.RenderPooled"/>) to their pool; <see cref="Pixels"/> must not be used after.</summary>
    public void Dispose()
    {
        pool?.Return(Pixels);
        pool = null;
    }
}
