using System.Buffers;
using System.Buffers.Binary;

namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// RLE Lossless encoder (1.2.840.10008.1.2.5), PS3.5 Annex G: one Byte Segment per sample byte, most significant
/// byte first (G.2), each row PackBits-encoded on its own (G.3.1), segments padded to an even length.
/// </summary>
public sealed class RleEncoder : IFrameEncoder
{
    private const int HeaderLength = 64;

    public static RleEncoder Instance { get; } = new();

    public FrameInfo GetEncodedInfo(FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return info;
    }

    public byte[] Encode(ReadOnlySpan<byte> frame, FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        info.Validate();
        var layout = RleSegmentLayout.Of(info);
        var segments = layout.SegmentCount;

        if (frame.Length < info.FrameLength)
        {
            throw new ImageCodecException($"RLE: the native frame has {frame.Length} bytes; {info.FrameLength} are expected.");
        }

        var rows = info.Rows;
        var columns = info.Columns;
        var pixelStride = layout.PixelStride;

        // Worst case per row: one control byte per 128 literal bytes.
        var maxSegment = ((long)rows * (columns + ((columns + 127) / 128))) + 1;
        var capacity = HeaderLength + (segments * maxSegment);
        if (capacity > Array.MaxLength)
        {
            throw new ImageCodecException("RLE: the frame is too large to encode.");
        }

        var output = ArrayPool<byte>.Shared.Rent((int)capacity);
        var row = ArrayPool<byte>.Shared.Rent(columns);
        try
        {
            output.AsSpan(0, HeaderLength).Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(output, (uint)segments);
            var length = HeaderLength;
            for (var segment = 0; segment < segments; segment++)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(output.AsSpan(4 + (segment * 4)), (uint)length);
                var start = (int)layout.FirstByteOffset(segment);
                for (var y = 0; y < rows; y++)
                {
                    var index = start + (y * columns * pixelStride);
                    for (var x = 0; x < columns; x++)
                    {
                        row[x] = frame[index];
                        index += pixelStride;
                    }

                    length += PackBits(row.AsSpan(0, columns), output.AsSpan(length));
                }

                if ((length & 1) != 0)
                {
                    output[length++] = 0;
                }
            }

            return output.AsSpan(0, length).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(row);
            ArrayPool<byte>.Shared.Return(output);
        }
    }

    /// <summary>PackBits-encodes <paramref name="source"/> (G.3.1); returns the number of bytes written.</summary>
    internal static int PackBits(ReadOnlySpan<byte> source, Span<byte> output)
    {
        var written = 0;
        var i = 0;
        var n = source.Length;
        while (i < n)
        {
            var value = source[i];
            var run = 1;
            while (i + run < n && run < 128 && source[i + run] == value)
            {
                run++;
            }

            if (run >= 2)
            {
                output[written++] = (byte)(sbyte)(1 - run);
                output[written++] = value;
                i += run;
                continue;
            }

            // A literal run: up to 128 bytes, ending where a run of three identical bytes starts.
            var start = i;
            i++;
            while (i < n && i - start < 128)
            {
                if (i + 2 < n && source[i] == source[i + 1] && source[i] == source[i + 2])
                {
                    break;
                }

                i++;
            }

            var count = i - start;
            output[written++] = (byte)(count - 1);
            source.Slice(start, count).CopyTo(output[written..]);
            written += count;
        }

        return written;
    }
}
