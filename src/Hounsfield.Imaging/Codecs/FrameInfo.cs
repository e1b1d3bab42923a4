namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// The Image Pixel attributes (PS3.3 C.7.6.3) that describe one frame: what a codec needs to decode it,
/// and the layout of the native frame it produces (PS3.5 §8.1: samples little-endian, BitsAllocated wide).
/// </summary>
public sealed record FrameInfo(
    int Rows,
    int Columns,
    int SamplesPerPixel,
    int BitsAllocated,
    int BitsStored,
    int PixelRepresentation,
    string PhotometricInterpretation,
    int PlanarConfiguration)
{
    /// <summary>Bytes per sample of the native frame (1 for BitsAllocated 1 to 8, 2 up to 16, 4 up to 32...).</summary>
    public int BytesPerSample => (BitsAllocated + 7) / 8;

    /// <summary>Bytes of one native frame: Rows × Columns × SamplesPerPixel samples (bit-packed when BitsAllocated is 1).</summary>
    public long FrameLength => BitsAllocated == 1
        ? (((long)Rows * Columns * SamplesPerPixel) + 7) / 8
        : (long)Rows * Columns * SamplesPerPixel * BytesPerSample;

    /// <summary>Whether the photometric interpretation is one of the YCbCr ones (YBR_FULL, YBR_FULL_422, YBR_PARTIAL_*, YBR_ICT, YBR_RCT).</summary>
    public bool IsYbr => PhotometricInterpretation.StartsWith("YBR", StringComparison.Ordinal);

    internal void Validate()
    {
        if (Rows <= 0 || Columns <= 0)
        {
            throw new ImageCodecException($"Invalid image size {Columns}x{Rows}.");
        }

        if (SamplesPerPixel is < 1 or > 4)
        {
            throw new ImageCodecException($"Unsupported Samples per Pixel {SamplesPerPixel}.");
        }

        if (BitsAllocated is < 1 or > 64 || BitsStored < 1 || BitsStored > BitsAllocated)
        {
            throw new ImageCodecException($"Invalid Bits Allocated {BitsAllocated} / Bits Stored {BitsStored}.");
        }

        if (FrameLength > Array.MaxLength)
        {
            throw new ImageCodecException($"A {Columns}x{Rows}x{SamplesPerPixel} frame of {BitsAllocated}-bit samples is too large to decode.");
        }
    }
}
