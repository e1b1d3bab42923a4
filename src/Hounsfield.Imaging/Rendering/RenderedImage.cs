namespace Hounsfield.Imaging.Rendering;

/// <summary>An 8-bit display image: row-major, one byte per sample, gray (1 channel) or RGB interleaved (3 channels).</summary>
public sealed class RenderedImage
{
    public RenderedImage(int width, int height, int channels, byte[] pixels)
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
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>1 for gray, 3 for RGB.</summary>
    public int Channels { get; }

    public bool IsColor => Channels == 3;

    public byte[] Pixels { get; }

    /// <summary>Bytes per row.</summary>
    public int Stride => Width * Channels;
}
