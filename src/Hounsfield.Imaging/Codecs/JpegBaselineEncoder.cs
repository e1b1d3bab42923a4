using System.Buffers;
using System.Buffers.Binary;
using Hounsfield.Imaging.Encoders;

namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// JPEG baseline encoder (process 1, ITU-T T.81 Annex F; DICOM 1.2.840.10008.1.2.4.50) for 8-bit grayscale and colour
/// frames: quantization tables of Annex K.1 scaled by a quality factor (the IJG convention), optimal Huffman tables
/// (Annex K.2), optional chroma subsampling and restart intervals. RGB is converted to YCbCr (JFIF) unless asked
/// not to, in which case an Adobe APP14 marker says the components are untransformed RGB.
/// </summary>
public sealed class JpegBaselineEncoder : IFrameEncoder
{
    public JpegBaselineEncoder(JpegBaselineEncoderOptions? options = null)
    {
        Options = options ?? new JpegBaselineEncoderOptions();
        if (Options.Quality is < 1 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(options), Options.Quality, "The quality must be 1 to 100.");
        }

        if (Options.RestartInterval is < 0 or > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(options), Options.RestartInterval, "The restart interval must be 0 to 65535 MCUs.");
        }
    }

    /// <summary>Quality 90, 4:2:2 chroma subsampling, no restart markers.</summary>
    public static JpegBaselineEncoder Default { get; } = new();

    public JpegBaselineEncoderOptions Options { get; }

    public FrameInfo GetEncodedInfo(FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (info.SamplesPerPixel == 1)
        {
            return info;
        }

        var ybr = info.IsYbr || Options.ConvertRgbToYbr;
        var photometric = !ybr ? "RGB" : Options.Subsampling == JpegSubsampling.None ? "YBR_FULL" : "YBR_FULL_422";
        return info with { PhotometricInterpretation = photometric, PlanarConfiguration = 0 };
    }

    public byte[] Encode(ReadOnlySpan<byte> frame, FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        info.Validate();
        if (info.BitsAllocated != 8 || info.SamplesPerPixel is not (1 or 3))
        {
            throw new ImageCodecException($"JPEG baseline: {info.SamplesPerPixel} samples of {info.BitsAllocated} bits are not supported (1 or 3 samples of 8 bits).");
        }

        if (info.PhotometricInterpretation is "YBR_FULL_422" or "YBR_PARTIAL_422" or "YBR_PARTIAL_420")
        {
            throw new ImageCodecException($"JPEG baseline: native {info.PhotometricInterpretation} frames are not supported; convert to RGB or YBR_FULL first.");
        }

        if (frame.Length < info.FrameLength)
        {
            throw new ImageCodecException($"JPEG baseline: the native frame has {frame.Length} bytes; {info.FrameLength} are expected.");
        }

        if (info.Rows > ushort.MaxValue || info.Columns > ushort.MaxValue)
        {
            throw new ImageCodecException($"JPEG baseline: {info.Columns}x{info.Rows} exceeds the 65535 lines and columns JPEG allows.");
        }

        var n = info.SamplesPerPixel;
        var width = info.Columns;
        var height = info.Rows;
        var convert = n == 3 && !info.IsYbr && Options.ConvertRgbToYbr;
        var (hLuma, vLuma) = n == 1 ? (1, 1) : Options.Subsampling switch
        {
            JpegSubsampling.Horizontal => (2, 1),
            JpegSubsampling.HorizontalAndVertical => (2, 2),
            _ => (1, 1),
        };

        // Subsampling applies to YCbCr only: RGB components keep full resolution.
        if (n == 3 && !convert && !info.IsYbr)
        {
            (hLuma, vLuma) = (1, 1);
        }

        var mcusX = (width + (8 * hLuma) - 1) / (8 * hLuma);
        var mcusY = (height + (8 * vLuma) - 1) / (8 * vLuma);
        var components = new Component[n];
        for (var c = 0; c < n; c++)
        {
            var (h, v) = c == 0 ? (hLuma, vLuma) : (1, 1);
            components[c] = new Component(c, h, v, mcusX * h, mcusY * v, c == 0 || !(convert || info.IsYbr) ? 0 : 1);
        }

        var quant = new[] { JpegEncoder.QuantizationTable(chrominance: false, Options.Quality), JpegEncoder.QuantizationTable(chrominance: true, Options.Quality) };
        var quantizers = quant.Select(q => new JpegEncoder.Quantizer(q)).ToArray();
        var tableCount = components.Max(c => c.Table) + 1;

        // Level-shifted samples of each component at its resolution, edges replicated into the padding; then the
        // quantized coefficients of every block.
        var planes = new float[n][];
        try
        {
            BuildPlanes(frame, info, convert, components, hLuma, vLuma, planes);
            Span<float> block = stackalloc float[64];
            Span<short> zigzag = stackalloc short[64];
            Span<short> scratch = stackalloc short[64];
            foreach (var c in components)
            {
                c.Coefficients = new short[c.BlocksWide * c.BlocksHigh * 64];
                for (var by = 0; by < c.BlocksHigh; by++)
                {
                    for (var bx = 0; bx < c.BlocksWide; bx++)
                    {
                        var stride = c.BlocksWide * 8;
                        for (var y = 0; y < 8; y++)
                        {
                            planes[c.Index].AsSpan((((by * 8) + y) * stride) + (bx * 8), 8).CopyTo(block[(y * 8)..]);
                        }

                        // The JFIF writer's transform and quantization, in zig-zag order; stored in natural order.
                        JpegEncoder.TransformAndQuantize(block, quantizers[c.Table], zigzag, scratch);
                        var output = c.Coefficients.AsSpan(((by * c.BlocksWide) + bx) * 64, 64);
                        for (var k = 0; k < 64; k++)
                        {
                            // Baseline limits: DC differences of up to 11 bits, AC coefficients of up to 10 bits (F.1.2).
                            output[JpegDecoding.NaturalOrder[k]] = (short)(k == 0 ? Math.Clamp(zigzag[k], (short)-1024, (short)1023) : Math.Clamp(zigzag[k], (short)-1023, (short)1023));
                        }
                    }
                }
            }
        }
        finally
        {
            foreach (var plane in planes)
            {
                if (plane is not null)
                {
                    ArrayPool<float>.Shared.Return(plane);
                }
            }
        }

        // Scans: one interleaved scan, or one per component.
        var scans = Options.Interleaved || n == 1 ? [components] : components.Select(c => new[] { c }).ToArray();

        // Pass 1: symbol statistics per Huffman table; pass 2: the stream.
        var dcHistograms = new long[tableCount][];
        var acHistograms = new long[tableCount][];
        for (var t = 0; t < tableCount; t++)
        {
            dcHistograms[t] = new long[256];
            acHistograms[t] = new long[256];
        }

        foreach (var scan in scans)
        {
            EncodeScan(scan, mcusX, mcusY, null, (table, dc, symbol) => (dc ? dcHistograms : acHistograms)[table][symbol]++, null, null);
        }

        var dcTables = dcHistograms.Select(h => new JpegHuffmanEncoding(h)).ToArray();
        var acTables = acHistograms.Select(h => new JpegHuffmanEncoding(h)).ToArray();

        var stream = new ArrayBufferWriter<byte>(4096 + (width * height * n / 4));
        JpegLosslessEncoder.WriteMarker(stream, 0xD8);
        if (n == 3 && !convert && !info.IsYbr)
        {
            // Adobe APP14, transform 0: the components are RGB, not YCbCr.
            JpegLosslessEncoder.WriteSegment(stream, 0xEE, "Adobe\u0000\u0064\u0000\u0000\u0000\u0000\u0000"u8);
        }

        var dqt = new byte[65 * tableCount];
        for (var t = 0; t < tableCount; t++)
        {
            dqt[65 * t] = (byte)t;
            for (var k = 0; k < 64; k++)
            {
                dqt[(65 * t) + 1 + k] = (byte)quant[t][JpegDecoding.NaturalOrder[k]];
            }
        }

        JpegLosslessEncoder.WriteSegment(stream, 0xDB, dqt);

        Span<byte> sof = stackalloc byte[6 + (3 * n)];
        sof[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(sof[1..], (ushort)height);
        BinaryPrimitives.WriteUInt16BigEndian(sof[3..], (ushort)width);
        sof[5] = (byte)n;
        foreach (var c in components)
        {
            sof[6 + (3 * c.Index)] = (byte)(c.Index + 1);
            sof[7 + (3 * c.Index)] = (byte)((c.H << 4) | c.V);
            sof[8 + (3 * c.Index)] = (byte)c.Table;
        }

        JpegLosslessEncoder.WriteSegment(stream, 0xC0, sof);

        var dht = new ArrayBufferWriter<byte>();
        for (var t = 0; t < tableCount; t++)
        {
            dcTables[t].WriteTable(dht, 0, t);
            acTables[t].WriteTable(dht, 1, t);
        }

        JpegLosslessEncoder.WriteSegment(stream, 0xC4, dht.WrittenSpan);
        if (Options.RestartInterval > 0)
        {
            Span<byte> dri = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(dri, (ushort)Options.RestartInterval);
            JpegLosslessEncoder.WriteSegment(stream, 0xDD, dri);
        }

        foreach (var scan in scans)
        {
            var sos = new byte[4 + (2 * scan.Length)];
            sos[0] = (byte)scan.Length;
            for (var i = 0; i < scan.Length; i++)
            {
                sos[1 + (2 * i)] = (byte)(scan[i].Index + 1);
                sos[2 + (2 * i)] = (byte)((scan[i].Table << 4) | scan[i].Table);
            }

            sos[1 + (2 * scan.Length)] = 0;
            sos[2 + (2 * scan.Length)] = 63;
            sos[3 + (2 * scan.Length)] = 0;
            JpegLosslessEncoder.WriteSegment(stream, 0xDA, sos);
            var writer = new JpegBitWriter(stream);
            EncodeScan(scan, mcusX, mcusY, writer, null, dcTables, acTables);
            writer.Flush();
        }

        JpegLosslessEncoder.WriteMarker(stream, 0xD9);
        return stream.WrittenSpan.ToArray();
    }

    /// <summary>Walks the blocks of a scan in coding order (A.2), either counting symbols or writing them (F.1.2).</summary>
    private void EncodeScan(Component[] scan, int mcusX, int mcusY, JpegBitWriter? writer, Action<int, bool, int>? count, JpegHuffmanEncoding[]? dcTables, JpegHuffmanEncoding[]? acTables)
    {
        var predictors = new int[scan.Length];
        var restarts = 0;
        var mcu = 0;
        var interval = Options.RestartInterval;

        void Block(int i, Component c, int bx, int by)
        {
            var block = c.Coefficients.AsSpan(((by * c.BlocksWide) + bx) * 64, 64);
            var difference = block[0] - predictors[i];
            predictors[i] = block[0];
            Emit(c.Table, dc: true, Category(difference), difference);
            var run = 0;
            for (var k = 1; k < 64; k++)
            {
                int value = block[JpegDecoding.NaturalOrder[k]];
                if (value == 0)
                {
                    run++;
                    continue;
                }

                while (run > 15)
                {
                    Emit(c.Table, dc: false, 0xF0, 0);
                    run -= 16;
                }

                var s = Category(value);
                Emit(c.Table, dc: false, (run << 4) | s, value);
                run = 0;
            }

            if (run > 0)
            {
                Emit(c.Table, dc: false, 0x00, 0);
            }
        }

        void Emit(int table, bool dc, int symbol, int value)
        {
            if (count is not null)
            {
                count(table, dc, symbol);
                return;
            }

            var code = dc ? dcTables![table] : acTables![table];
            writer!.Write((uint)code.Code(symbol), code.Length(symbol));
            var s = symbol & 15;
            if (dc)
            {
                s = symbol;
            }

            if (s > 0)
            {
                writer.Write((uint)(value < 0 ? value - 1 : value), s);
            }
        }

        void Restart()
        {
            if (interval > 0 && mcu > 0 && mcu % interval == 0)
            {
                writer?.Restart(restarts++);
                Array.Clear(predictors);
            }

            mcu++;
        }

        if (scan.Length == 1)
        {
            var c = scan[0];
            var blocksWide = (c.Width + 7) / 8;
            var blocksHigh = (c.Height + 7) / 8;
            for (var by = 0; by < blocksHigh; by++)
            {
                for (var bx = 0; bx < blocksWide; bx++)
                {
                    Restart();
                    Block(0, c, bx, by);
                }
            }

            return;
        }

        for (var my = 0; my < mcusY; my++)
        {
            for (var mx = 0; mx < mcusX; mx++)
            {
                Restart();
                for (var i = 0; i < scan.Length; i++)
                {
                    var c = scan[i];
                    for (var v = 0; v < c.V; v++)
                    {
                        for (var h = 0; h < c.H; h++)
                        {
                            Block(i, c, (mx * c.H) + h, (my * c.V) + v);
                        }
                    }
                }
            }
        }
    }

    private static void BuildPlanes(ReadOnlySpan<byte> frame, FrameInfo info, bool convert, Component[] components, int hMax, int vMax, float[][] planes)
    {
        var n = info.SamplesPerPixel;
        var width = info.Columns;
        var height = info.Rows;
        var pixels = width * height;
        var planar = n > 1 && info.PlanarConfiguration == 1;

        // Full-resolution components (converted to YCbCr when asked), then each downsampled by averaging.
        var full = ArrayPool<float>.Shared.Rent(pixels * n);
        try
        {
            for (var p = 0; p < pixels; p++)
            {
                if (n == 1)
                {
                    full[p] = frame[p];
                    continue;
                }

                float r = planar ? frame[p] : frame[p * 3];
                float g = planar ? frame[pixels + p] : frame[(p * 3) + 1];
                float b = planar ? frame[(2 * pixels) + p] : frame[(p * 3) + 2];
                if (convert)
                {
                    full[p] = (0.299f * r) + (0.587f * g) + (0.114f * b);
                    full[pixels + p] = (-0.168736f * r) - (0.331264f * g) + (0.5f * b) + 128f;
                    full[(2 * pixels) + p] = (0.5f * r) - (0.418688f * g) - (0.081312f * b) + 128f;
                }
                else
                {
                    full[p] = r;
                    full[pixels + p] = g;
                    full[(2 * pixels) + p] = b;
                }
            }

            foreach (var c in components)
            {
                var hFactor = hMax / c.H;
                var vFactor = vMax / c.V;
                c.Width = (width + hFactor - 1) / hFactor;
                c.Height = (height + vFactor - 1) / vFactor;
                var stride = c.BlocksWide * 8;
                var plane = ArrayPool<float>.Shared.Rent(stride * c.BlocksHigh * 8);
                planes[c.Index] = plane;
                var source = full.AsSpan(c.Index * pixels, pixels);
                for (var y = 0; y < c.BlocksHigh * 8; y++)
                {
                    var sy = Math.Min(y, c.Height - 1);
                    for (var x = 0; x < stride; x++)
                    {
                        var sx = Math.Min(x, c.Width - 1);
                        var sum = 0f;
                        var samples = 0;
                        for (var dy = 0; dy < vFactor; dy++)
                        {
                            var yy = Math.Min((sy * vFactor) + dy, height - 1);
                            for (var dx = 0; dx < hFactor; dx++)
                            {
                                sum += source[(yy * width) + Math.Min((sx * hFactor) + dx, width - 1)];
                                samples++;
                            }
                        }

                        plane[(y * stride) + x] = (sum / samples) - 128f;
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(full);
        }
    }

    private static int Category(int value)
    {
        var magnitude = value < 0 ? -value : value;
        return magnitude == 0 ? 0 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)magnitude);
    }

    private sealed class Component(int index, int h, int v, int blocksWide, int blocksHigh, int table)
    {
        public int Index { get; } = index;

        public int H { get; } = h;

        public int V { get; } = v;

        public int BlocksWide { get; } = blocksWide;

        public int BlocksHigh { get; } = blocksHigh;

        public int Table { get; } = table;

        /// <summary>Samples of the component (before padding to whole MCUs).</summary>
        public int Width { get; set; }

        public int Height { get; set; }

        public short[] Coefficients { get; set; } = [];
    }
}

/// <summary>Chroma subsampling of the <see cref="JpegBaselineEncoder"/>.</summary>
public enum JpegSubsampling
{
    /// <summary>4:4:4: every component at full resolution.</summary>
    None,

    /// <summary>4:2:2: chroma halved horizontally (YBR_FULL_422).</summary>
    Horizontal,

    /// <summary>4:2:0: chroma halved horizontally and vertically.</summary>
    HorizontalAndVertical,
}

/// <summary>Options of the <see cref="JpegBaselineEncoder"/>.</summary>
public sealed record JpegBaselineEncoderOptions
{
    /// <summary>Quality factor 1 to 100 (IJG scale; default 90).</summary>
    public int Quality { get; init; } = 90;

    /// <summary>Chroma subsampling of YCbCr colour frames (default 4:2:2, as DICOM's YBR_FULL_422 describes).</summary>
    public JpegSubsampling Subsampling { get; init; } = JpegSubsampling.Horizontal;

    /// <summary>Convert RGB to YCbCr before compression (default true); when false the RGB components are coded as they are.</summary>
    public bool ConvertRgbToYbr { get; init; } = true;

    /// <summary>MCUs per restart interval (0: no restart markers).</summary>
    public int RestartInterval { get; init; }

    /// <summary>One interleaved scan (default), or one scan per component.</summary>
    public bool Interleaved { get; init; } = true;
}
