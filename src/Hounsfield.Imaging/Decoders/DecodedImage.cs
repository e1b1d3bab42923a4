namespace Hounsfield.Imaging.Decoders;

/// <summary>
/// A decoded picture file: row-major, colour-by-pixel samples. <see cref="Channels"/> is 1 (gray) or 3 (RGB); samples are
/// 8 bits, or 16 bits little-endian (the native DICOM layout) with <see cref="SignificantBits"/> of them used.
/// </summary>
public sealed record DecodedImage(int Width, int Height, int Channels, int BitDepth, byte[] Samples)
{
    /// <summary>Bits of each sample that carry the value: <see cref="BitDepth"/>, or less (12 for a 12-bit JPEG in 16-bit samples).</summary>
    public int SignificantBits { get; init; } = BitDepth;
}

/// <summary>Limits a picture decoder enforces before it allocates, against decompression bombs.</summary>
public sealed record ImageDecodeLimits
{
    public static readonly ImageDecodeLimits Default = new();

    /// <summary>Widest image accepted, in pixels. Default 16384.</summary>
    public int MaxWidth { get; init; } = 16384;

    /// <summary>Tallest image accepted, in pixels. Default 16384.</summary>
    public int MaxHeight { get; init; } = 16384;

    /// <summary>Most pixels (width × height) accepted. Default 64 Mi (8192 × 8192).</summary>
    public long MaxPixels { get; init; } = 64L * 1024 * 1024;

    /// <summary>Throws when <paramref name="width"/> × <paramref name="height"/> is empty or beyond the limits.</summary>
    internal void Check(string format, long width, long height)
    {
        if (width < 1 || height < 1)
        {
            throw new Codecs.ImageCodecException($"{format}: invalid image size {width}x{height}.");
        }

        if (width > MaxWidth || height > MaxHeight || width * height > MaxPixels)
        {
            throw new Codecs.ImageCodecException(
                $"{format}: the image is {width}x{height} pixels; at most {MaxWidth}x{MaxHeight} and {MaxPixels} pixels are accepted.");
        }
    }
}
