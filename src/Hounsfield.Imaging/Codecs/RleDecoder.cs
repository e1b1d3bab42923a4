using System.Buffers.Binary;

namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// RLE Lossless (1.2.840.10008.1.2.5), PS3.5 Annex G.
/// </summary>
/// <remarks>
/// A frame is a 64-byte RLE Header (G.5: the number of segments, then 15 little-endian segment offsets) followed by
/// the RLE Segments, each a PackBits-compressed Byte Segment (G.3) of Rows × Columns bytes. Segments are ordered
/// sample by sample, and within a sample from the most significant byte to the least (G.2). The decoded frame is
/// native little-endian; colour-by-pixel or colour-by-plane as the data set's Planar Configuration says (DCMTK's
/// dcmdrle does the same).
/// </remarks>
public sealed class RleDecoder : FrameDecoder
{
    private const int HeaderLength = 64;

    public static RleDecoder Instance { get; } = new();

    public override FrameInfo GetDecodedInfo(FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return info.SamplesPerPixel > 1 ? info : info with { PlanarConfiguration = 0 };
    }

    public override void Decode(ReadOnlySpan<byte> compressedFrame, FrameInfo info, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(info);
        info.Validate();
        var layout = RleSegmentLayout.Of(info);
        var expectedSegments = layout.SegmentCount;

        if (destination.Length < info.FrameLength)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; the frame needs {info.FrameLength}.", nameof(destination));
        }

        if (compressedFrame.Length < HeaderLength)
        {
            throw new ImageCodecException($"RLE: the frame is {compressedFrame.Length} bytes, shorter than the 64-byte RLE header.");
        }

        var segmentCount = BinaryPrimitives.ReadUInt32LittleEndian(compressedFrame);
        if (segmentCount != expectedSegments)
        {
            throw new ImageCodecException($"RLE: the header declares {segmentCount} segments; {expectedSegments} are expected for {info.SamplesPerPixel} samples of {info.BitsAllocated} bits.");
        }

        Span<int> offsets = stackalloc int[RleSegmentLayout.MaxSegments + 1];
        for (var i = 0; i < expectedSegments; i++)
        {
            var offset = BinaryPrimitives.ReadUInt32LittleEndian(compressedFrame[(4 + (i * 4))..]);
            if (offset < HeaderLength || offset > (uint)compressedFrame.Length || (i > 0 && offset < offsets[i - 1]))
            {
                throw new ImageCodecException($"RLE: segment {i + 1} offset {offset} is outside the frame ({compressedFrame.Length} bytes) or out of order.");
            }

            offsets[i] = (int)offset;
        }

        offsets[expectedSegments] = compressedFrame.Length;

        for (var segment = 0; segment < expectedSegments; segment++)
        {
            var start = (int)layout.FirstByteOffset(segment);
            var source = compressedFrame[offsets[segment]..offsets[segment + 1]];
            if (layout.PixelStride == 1)
            {
                DecodeSegment(source, destination.Slice(start, layout.Pixels), segment);
            }
            else
            {
                DecodeSegmentStrided(source, destination[start..], layout.Pixels, layout.PixelStride, segment);
            }
        }
    }

    /// <summary>PackBits-decodes one segment into a contiguous byte plane (G.3.2). Bytes past the plane (padding) are ignored.</summary>
    internal static void DecodeSegment(ReadOnlySpan<byte> source, Span<byte> output, int segment)
    {
        var pos = 0;
        var written = 0;
        while (written < output.Length)
        {
            if (pos >= source.Length)
            {
                throw Truncated(segment, written, output.Length);
            }

            var n = (sbyte)source[pos++];
            if (n >= 0)
            {
                var count = n + 1;
                if (pos + count > source.Length)
                {
                    throw Truncated(segment, written, output.Length);
                }

                count = Math.Min(count, output.Length - written);
                source.Slice(pos, count).CopyTo(output[written..]);
                pos += n + 1;
                written += count;
            }
            else if (n != -128)
            {
                if (pos >= source.Length)
                {
                    throw Truncated(segment, written, output.Length);
                }

                var count = Math.Min(1 - n, output.Length - written);
                output.Slice(written, count).Fill(source[pos++]);
                written += count;
            }
        }
    }

    /// <summary>PackBits-decodes one segment, writing byte i at <c>output[i * stride]</c>.</summary>
    private static void DecodeSegmentStrided(ReadOnlySpan<byte> source, Span<byte> output, int length, int stride, int segment)
    {
        var pos = 0;
        var written = 0;
        var index = 0;
        while (written < length)
        {
            if (pos >= source.Length)
            {
                throw Truncated(segment, written, length);
            }

            var n = (sbyte)source[pos++];
            if (n >= 0)
            {
                if (pos + n + 1 > source.Length)
                {
                    throw Truncated(segment, written, length);
                }

                var count = Math.Min(n + 1, length - written);
                for (var i = 0; i < count; i++)
                {
                    output[index] = source[pos + i];
                    index += stride;
                }

                pos += n + 1;
                written += count;
            }
            else if (n != -128)
            {
                if (pos >= source.Length)
                {
                    throw Truncated(segment, written, length);
                }

                var value = source[pos++];
                var count = Math.Min(1 - n, length - written);
                for (var i = 0; i < count; i++)
                {
                    output[index] = value;
                    index += stride;
                }

                written += count;
            }
        }
    }

    private static ImageCodecException Truncated(int segment, int written, int expected) =>
        new($"RLE: segment {segment + 1} ends after {written} of its {expected} bytes.");
}
