using System.Buffers;
using System.Buffers.Binary;

namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// JPEG lossless encoder (process 14, ITU-T T.81 Annex H; DICOM 1.2.840.10008.1.2.4.70 with predictor 1, else
/// 1.2.840.10008.1.2.4.57): one interleaved scan of all components, an optimal Huffman table (Annex K.2) per frame,
/// sample precision 8 for 8-bit and 16 for 16-bit samples, so that every stored bit survives (as DCMTK's
/// true-lossless encoder does).
/// </summary>
public sealed class JpegLosslessEncoder : IFrameEncoder
{
    public JpegLosslessEncoder(JpegLosslessEncoderOptions? options = null)
    {
        Options = options ?? new JpegLosslessEncoderOptions();
        if (Options.Predictor is < 1 or > 7)
        {
            throw new ArgumentOutOfRangeException(nameof(options), Options.Predictor, "The predictor (selection value) must be 1 to 7.");
        }

        if (Options.PointTransform is < 0 or > 15)
        {
            throw new ArgumentOutOfRangeException(nameof(options), Options.PointTransform, "The point transform must be 0 to 15.");
        }

        if (Options.RestartIntervalRows < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), Options.RestartIntervalRows, "The restart interval must not be negative.");
        }
    }

    /// <summary>The SV1 encoder (predictor 1, no point transform): 1.2.840.10008.1.2.4.70.</summary>
    public static JpegLosslessEncoder SV1 { get; } = new();

    public JpegLosslessEncoderOptions Options { get; }

    /// <summary>The transfer syntax of the frames this encoder produces.</summary>
    public string TransferSyntaxUid => Options.Predictor == 1 ? FrameCodecs.JpegLosslessSV1 : FrameCodecs.JpegLossless;

    public FrameInfo GetEncodedInfo(FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return info.SamplesPerPixel > 1 ? info with { PlanarConfiguration = 0 } : info;
    }

    public byte[] Encode(ReadOnlySpan<byte> frame, FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        info.Validate();
        if (info.BitsAllocated is not (8 or 16))
        {
            throw new ImageCodecException($"JPEG lossless: Bits Allocated {info.BitsAllocated} is not supported (8 or 16).");
        }

        if (info.SamplesPerPixel is not (1 or 3))
        {
            throw new ImageCodecException($"JPEG lossless: Samples per Pixel {info.SamplesPerPixel} is not supported (1 or 3).");
        }

        if (frame.Length < info.FrameLength)
        {
            throw new ImageCodecException($"JPEG lossless: the native frame has {frame.Length} bytes; {info.FrameLength} are expected.");
        }

        if (info.Rows > ushort.MaxValue || info.Columns > ushort.MaxValue)
        {
            throw new ImageCodecException($"JPEG lossless: {info.Columns}x{info.Rows} exceeds the 65535 lines and columns JPEG allows.");
        }

        var restartInterval = (long)Options.RestartIntervalRows * info.Columns;
        if (restartInterval > ushort.MaxValue)
        {
            throw new ImageCodecException($"JPEG lossless: a restart interval of {Options.RestartIntervalRows} rows is {restartInterval} MCUs, more than 65535.");
        }

        var precision = info.BitsAllocated;
        var pt = Options.PointTransform;
        if (pt >= precision)
        {
            throw new ImageCodecException($"JPEG lossless: point transform {pt} is not below the precision {precision}.");
        }

        var n = info.SamplesPerPixel;
        var width = info.Columns;
        var height = info.Rows;
        var pixels = width * height;

        // Pass 1: the differences, component-major, and their category histogram.
        var differences = ArrayPool<ushort>.Shared.Rent(pixels * n);
        var samples = ArrayPool<ushort>.Shared.Rent(width * 2);
        try
        {
            Span<long> histogram = stackalloc long[256];
            histogram.Clear();
            for (var c = 0; c < n; c++)
            {
                for (var y = 0; y < height; y++)
                {
                    var current = samples.AsSpan((y & 1) * width, width);
                    var previous = samples.AsSpan(((y + 1) & 1) * width, width);
                    ReadRow(frame, info, c, y, pt, current);
                    var firstRow = y == 0 || (Options.RestartIntervalRows > 0 && y % Options.RestartIntervalRows == 0);
                    var output = differences.AsSpan((c * pixels) + (y * width), width);
                    for (var x = 0; x < width; x++)
                    {
                        var prediction = Predict(current, previous, x, firstRow, precision - pt);
                        var difference = (ushort)(current[x] - prediction);
                        output[x] = difference;
                        histogram[Category(difference)]++;
                    }
                }
            }

            var table = new JpegHuffmanEncoding(histogram);

            // Pass 2: the stream.
            var stream = new ArrayBufferWriter<byte>(1024 + (pixels * n));
            WriteMarker(stream, 0xD8);
            WriteFrameHeader(stream, precision, height, width, n);
            var dht = new ArrayBufferWriter<byte>();
            table.WriteTable(dht, 0, 0);
            WriteSegment(stream, 0xC4, dht.WrittenSpan);
            if (restartInterval > 0)
            {
                Span<byte> dri = stackalloc byte[2];
                BinaryPrimitives.WriteUInt16BigEndian(dri, (ushort)restartInterval);
                WriteSegment(stream, 0xDD, dri);
            }

            Span<byte> sos = stackalloc byte[4 + (2 * n)];
            sos[0] = (byte)n;
            for (var c = 0; c < n; c++)
            {
                sos[1 + (2 * c)] = (byte)(c + 1);
                sos[2 + (2 * c)] = 0x00;
            }

            sos[1 + (2 * n)] = (byte)Options.Predictor;
            sos[2 + (2 * n)] = 0;
            sos[3 + (2 * n)] = (byte)pt;
            WriteSegment(stream, 0xDA, sos);

            var writer = new JpegBitWriter(stream);
            var restarts = 0;
            for (var i = 0; i < pixels; i++)
            {
                if (restartInterval > 0 && i > 0 && i % restartInterval == 0)
                {
                    writer.Restart(restarts++);
                }

                for (var c = 0; c < n; c++)
                {
                    var difference = differences[(c * pixels) + i];
                    var s = Category(difference);
                    writer.Write((uint)table.Code(s), table.Length(s));
                    if (s is > 0 and < 16)
                    {
                        var value = (short)difference;
                        writer.Write((uint)(value < 0 ? value - 1 : value), s);
                    }
                }
            }

            writer.Flush();
            WriteMarker(stream, 0xD9);
            return stream.WrittenSpan.ToArray();
        }
        finally
        {
            ArrayPool<ushort>.Shared.Return(samples);
            ArrayPool<ushort>.Shared.Return(differences);
        }
    }

    private int Predict(ReadOnlySpan<ushort> current, ReadOnlySpan<ushort> previous, int x, bool firstRow, int bits)
    {
        if (firstRow)
        {
            return x == 0 ? 1 << (bits - 1) : current[x - 1];
        }

        if (x == 0)
        {
            return previous[0];
        }

        int ra = current[x - 1];
        int rb = previous[x];
        int rc = previous[x - 1];
        return Options.Predictor switch
        {
            1 => ra,
            2 => rb,
            3 => rc,
            4 => ra + rb - rc,
            5 => ra + ((rb - rc) >> 1),
            6 => rb + ((ra - rc) >> 1),
            _ => (ra + rb) >> 1,
        };
    }

    /// <summary>SSSS of a difference modulo 2^16 (H.1.2.2, table H.2): 16 for 32768, else the bit length of |d|.</summary>
    private static int Category(ushort difference)
    {
        if (difference == 32768)
        {
            return 16;
        }

        var value = (short)difference;
        var magnitude = value < 0 ? -value : value;
        return magnitude == 0 ? 0 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)magnitude);
    }

    private static void ReadRow(ReadOnlySpan<byte> frame, FrameInfo info, int component, int y, int pt, Span<ushort> row)
    {
        var n = info.SamplesPerPixel;
        var width = info.Columns;
        var bytes = info.BitsAllocated / 8;
        var planar = n > 1 && info.PlanarConfiguration == 1;
        int start, stride;
        if (planar)
        {
            start = ((component * info.Rows * width) + (y * width)) * bytes;
            stride = bytes;
        }
        else
        {
            start = ((y * width * n) + component) * bytes;
            stride = n * bytes;
        }

        for (var x = 0; x < width; x++)
        {
            var offset = start + (x * stride);
            var value = bytes == 1 ? frame[offset] : BinaryPrimitives.ReadUInt16LittleEndian(frame[offset..]);
            row[x] = (ushort)(value >> pt);
        }
    }

    private static void WriteFrameHeader(ArrayBufferWriter<byte> stream, int precision, int height, int width, int n)
    {
        Span<byte> sof = stackalloc byte[6 + (3 * n)];
        sof[0] = (byte)precision;
        BinaryPrimitives.WriteUInt16BigEndian(sof[1..], (ushort)height);
        BinaryPrimitives.WriteUInt16BigEndian(sof[3..], (ushort)width);
        sof[5] = (byte)n;
        for (var c = 0; c < n; c++)
        {
            sof[6 + (3 * c)] = (byte)(c + 1);
            sof[7 + (3 * c)] = 0x11;
            sof[8 + (3 * c)] = 0;
        }

        WriteSegment(stream, 0xC3, sof);
    }

    internal static void WriteMarker(ArrayBufferWriter<byte> stream, byte marker)
    {
        var span = stream.GetSpan(2);
        span[0] = 0xFF;
        span[1] = marker;
        stream.Advance(2);
    }

    internal static void WriteSegment(ArrayBufferWriter<byte> stream, byte marker, ReadOnlySpan<byte> body)
    {
        WriteMarker(stream, marker);
        var span = stream.GetSpan(2 + body.Length);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)(2 + body.Length));
        body.CopyTo(span[2..]);
        stream.Advance(2 + body.Length);
    }
}

/// <summary>Options of the <see cref="JpegLosslessEncoder"/>.</summary>
public sealed record JpegLosslessEncoderOptions
{
    /// <summary>The predictor (selection value, T.81 table H.1), 1 to 7; 1 gives the SV1 transfer syntax.</summary>
    public int Predictor { get; init; } = 1;

    /// <summary>The point transform Pt: the low Pt bits are dropped (lossy unless 0).</summary>
    public int PointTransform { get; init; }

    /// <summary>Rows per restart interval (0: no restart markers).</summary>
    public int RestartIntervalRows { get; init; }
}
