namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// Where RLE Lossless keeps a native frame's bytes (PS3.5 G.2): one Byte Segment per byte of each sample, sample by
/// sample, and within a sample from the most significant byte to the least. The native frame is little-endian,
/// colour-by-pixel or colour-by-plane as Planar Configuration says.
/// </summary>
internal readonly record struct RleSegmentLayout(int Samples, int BytesPerSample, int Pixels, bool Planar)
{
    /// <summary>The RLE Header has room for 15 segment offsets (G.5).</summary>
    public const int MaxSegments = 15;

    public int SegmentCount => Samples * BytesPerSample;

    /// <summary>The distance in the native frame between the bytes one segment holds of two adjacent pixels.</summary>
    public int PixelStride => Planar ? BytesPerSample : Samples * BytesPerSample;

    /// <summary>The layout of <paramref name="info"/>'s frames; throws when RLE cannot hold them.</summary>
    public static RleSegmentLayout Of(FrameInfo info)
    {
        if (info.BitsAllocated % 8 != 0)
        {
            throw new ImageCodecException($"RLE: Bits Allocated {info.BitsAllocated} is not a whole number of bytes.");
        }

        var samples = info.SamplesPerPixel;
        var layout = new RleSegmentLayout(samples, info.BitsAllocated / 8, info.Rows * info.Columns, samples > 1 && info.PlanarConfiguration == 1);
        if (layout.SegmentCount > MaxSegments)
        {
            throw new ImageCodecException($"RLE: {samples} samples of {info.BitsAllocated} bits need {layout.SegmentCount} segments; at most {MaxSegments} are allowed.");
        }

        return layout;
    }

    /// <summary>Where in the native frame the byte <paramref name="segment"/> holds of the first pixel is.</summary>
    public long FirstByteOffset(int segment)
    {
        var (sample, fromMostSignificant) = Math.DivRem(segment, BytesPerSample);
        var littleEndianByte = BytesPerSample - 1 - fromMostSignificant;
        return Planar
            ? ((long)sample * Pixels * BytesPerSample) + littleEndianByte
            : ((long)sample * BytesPerSample) + littleEndianByte;
    }
}
