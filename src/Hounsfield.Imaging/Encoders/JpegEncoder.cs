using Hounsfield.Imaging.Rendering;

namespace Hounsfield.Imaging.Encoders;

/// <summary>Chroma subsampling of colour JPEGs.</summary>
public enum JpegSubsampling
{
    /// <summary>Cb and Cr at half resolution in both directions (H1 = V1 = 2): smallest files, the usual choice.</summary>
    Yuv420,

    /// <summary>Cb and Cr at full resolution.</summary>
    Yuv444,
}

/// <summary>Options of <see cref="JpegEncoder"/>.</summary>
public sealed record JpegOptions
{
    /// <summary>Quality 1..100 scaling the example quantization tables of ITU-T T.81 Annex K.1 (50 = the tables as given). Default 90.</summary>
    public int Quality { get; init; } = 90;

    public JpegSubsampling Subsampling { get; init; } = JpegSubsampling.Yuv420;
}

/// <summary>
/// A baseline sequential JPEG encoder (ITU-T T.81 process 1: 8-bit samples, DCT, Huffman coding), writing JFIF files.
/// Gray images are one component; RGB images are converted to YCbCr (JFIF 1.02) and coded with 4:2:0 or 4:4:4 sampling.
/// Quantization tables are T.81 Table K.1/K.2 scaled by the quality; Huffman tables are optimal for the image
/// (counted in a first pass and built with the procedure of T.81 Annex K.2, codes at most 16 bits long).
/// </summary>
public static class JpegEncoder
{
    /// <summary>The zig-zag order of T.81 Figure A.6: entry k is the row-major index of the k-th coefficient.</summary>
    private static readonly int[] ZigZag = BuildZigZag();

    private static readonly double[] Cosines = BuildCosines();

    private static ReadOnlySpan<byte> LuminanceTable =>
    [
        16, 11, 10, 16, 24, 40, 51, 61,
        12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56,
        14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77,
        24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101,
        72, 92, 95, 98, 112, 100, 103, 99,
    ];

    private static ReadOnlySpan<byte> ChrominanceTable =>
    [
        17, 18, 24, 47, 99, 99, 99, 99,
        18, 21, 26, 66, 99, 99, 99, 99,
        24, 26, 56, 99, 99, 99, 99, 99,
        47, 66, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
    ];

    public static byte[] Encode(RenderedImage image, JpegOptions? options = null)
    {
        using var memory = new MemoryStream();
        Encode(memory, image, options);
        return memory.ToArray();
    }

    public static void Encode(Stream stream, RenderedImage image, JpegOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(image);
        options ??= new JpegOptions();
        if (image.Width > ushort.MaxValue || image.Height > ushort.MaxValue)
        {
            throw new ArgumentException($"A JPEG is at most 65535 pixels wide and high; {image.Width}x{image.Height} given.", nameof(image));
        }

        var quality = Math.Clamp(options.Quality, 1, 100);
        var tables = new[] { ScaleTable(LuminanceTable, quality), ScaleTable(ChrominanceTable, quality) };
        var components = image.IsColor
            ? Planes.FromRgb(image, options.Subsampling == JpegSubsampling.Yuv420 ? 2 : 1)
            : Planes.FromGray(image);

        // Pass 1: transform and quantize every block (in the order they are coded), counting the Huffman symbols.
        var blocks = components.QuantizedBlocks(tables);
        var dcCounts = new long[2][];
        var acCounts = new long[2][];
        for (var t = 0; t < 2; t++)
        {
            dcCounts[t] = new long[257];
            acCounts[t] = new long[257];
        }

        var blockComponents = components.BlockComponents();
        for (var b = 0; b < blockComponents.Length; b++)
        {
            var component = blockComponents[b];
            var table = component == 0 ? 0 : 1;
            CountBlock(blocks.AsSpan(b * 64, 64), ref components.Predictions[component], dcCounts[table], acCounts[table]);
        }

        Array.Clear(components.Predictions);

        var tableCount = image.IsColor ? 2 : 1;
        var dcTables = new HuffmanTable[tableCount];
        var acTables = new HuffmanTable[tableCount];
        for (var t = 0; t < tableCount; t++)
        {
            dcTables[t] = HuffmanTable.Optimal(dcCounts[t]);
            acTables[t] = HuffmanTable.Optimal(acCounts[t]);
        }

        // Headers.
        var output = new BufferedStream(stream, 1 << 16);
        output.Write([0xFF, 0xD8]);
        WriteMarker(output, 0xE0, [(byte)'J', (byte)'F', (byte)'I', (byte)'F', 0, 1, 2, 0, 0, 1, 0, 1, 0, 0]);
        for (var t = 0; t < tableCount; t++)
        {
            var dqt = new byte[65];
            dqt[0] = (byte)t; // 8-bit precision, table t
            for (var k = 0; k < 64; k++)
            {
                dqt[1 + k] = (byte)tables[t][ZigZag[k]];
            }

            WriteMarker(output, 0xDB, dqt);
        }

        var sof = new List<byte> { 8, (byte)(image.Height >> 8), (byte)image.Height, (byte)(image.Width >> 8), (byte)image.Width, (byte)components.Count };
        for (var c = 0; c < components.Count; c++)
        {
            sof.AddRange([(byte)(c + 1), (byte)((components.H[c] << 4) | components.V[c]), (byte)(c == 0 ? 0 : 1)]);
        }

        WriteMarker(output, 0xC0, [.. sof]);
        for (var t = 0; t < tableCount; t++)
        {
            WriteMarker(output, 0xC4, dcTables[t].Segment((byte)(0x00 | t)));
            WriteMarker(output, 0xC4, acTables[t].Segment((byte)(0x10 | t)));
        }

        var sos = new List<byte> { (byte)components.Count };
        for (var c = 0; c < components.Count; c++)
        {
            sos.AddRange([(byte)(c + 1), (byte)(c == 0 ? 0x00 : 0x11)]);
        }

        sos.AddRange([0, 63, 0]);
        WriteMarker(output, 0xDA, [.. sos]);

        // Pass 2: entropy-code the blocks.
        var writer = new BitWriter(output);
        for (var b = 0; b < blockComponents.Length; b++)
        {
            var component = blockComponents[b];
            var table = component == 0 ? 0 : 1;
            EncodeBlock(blocks.AsSpan(b * 64, 64), ref components.Predictions[component], dcTables[table], acTables[table], writer);
        }

        writer.Flush();
        output.Write([0xFF, 0xD9]);
        output.Flush();
    }

    /// <summary>T.81 K.1 table scaled for <paramref name="quality"/>: 50 keeps it, higher divides, lower multiplies (1..255).</summary>
    private static int[] ScaleTable(ReadOnlySpan<byte> table, int quality)
    {
        var scale = quality < 50 ? 5000 / quality : 200 - (quality * 2);
        var result = new int[64];
        for (var i = 0; i < 64; i++)
        {
            result[i] = Math.Clamp(((table[i] * scale) + 50) / 100, 1, 255);
        }

        return result;
    }

    private static void WriteMarker(Stream output, byte marker, ReadOnlySpan<byte> payload)
    {
        var length = payload.Length + 2;
        output.Write([0xFF, marker, (byte)(length >> 8), (byte)length]);
        output.Write(payload);
    }

    /// <summary>Magnitude category (T.81 F.1.2.1.1): the number of bits of |value|.</summary>
    private static int Category(int value)
    {
        var magnitude = Math.Abs(value);
        var bits = 0;
        while (magnitude > 0)
        {
            bits++;
            magnitude >>= 1;
        }

        return bits;
    }

    private static void CountBlock(ReadOnlySpan<short> block, ref int prediction, long[] dc, long[] ac)
    {
        var difference = block[0] - prediction;
        prediction = block[0];
        dc[Category(difference)]++;
        var run = 0;
        for (var k = 1; k < 64; k++)
        {
            int value = block[k];
            if (value == 0)
            {
                run++;
                continue;
            }

            while (run > 15)
            {
                ac[0xF0]++;
                run -= 16;
            }

            ac[(run << 4) | Category(value)]++;
            run = 0;
        }

        if (run > 0)
        {
            ac[0x00]++;
        }
    }

    private static void EncodeBlock(ReadOnlySpan<short> block, ref int prediction, HuffmanTable dc, HuffmanTable ac, BitWriter writer)
    {
        var difference = block[0] - prediction;
        prediction = block[0];
        var size = Category(difference);
        dc.Write(writer, size);
        WriteValue(writer, difference, size);
        var run = 0;
        for (var k = 1; k < 64; k++)
        {
            int value = block[k];
            if (value == 0)
            {
                run++;
                continue;
            }

            while (run > 15)
            {
                ac.Write(writer, 0xF0);
                run -= 16;
            }

            size = Category(value);
            ac.Write(writer, (run << 4) | size);
            WriteValue(writer, value, size);
            run = 0;
        }

        if (run > 0)
        {
            ac.Write(writer, 0x00);
        }
    }

    /// <summary>The additional bits of a value (T.81 F.1.2.1.1): negative values as value - 1 in <paramref name="size"/> bits.</summary>
    private static void WriteValue(BitWriter writer, int value, int size)
    {
        if (size > 0)
        {
            writer.Write(value < 0 ? value - 1 : value, size);
        }
    }

    /// <summary>Forward DCT of one 8x8 block (T.81 A.3.3), level-shifted input, then quantized in zig-zag order.</summary>
    private static void TransformBlock(ReadOnlySpan<float> samples, int[] quantization, Span<short> output)
    {
        Span<double> temp = stackalloc double[64];
        var cos = Cosines;

        // Rows, then columns: F(u,v) = 1/4 C(u) C(v) Σ Σ s(x,y) cos((2x+1)uπ/16) cos((2y+1)vπ/16).
        for (var y = 0; y < 8; y++)
        {
            for (var u = 0; u < 8; u++)
            {
                double sum = 0;
                for (var x = 0; x < 8; x++)
                {
                    sum += (samples[(y * 8) + x] - 128) * cos[(u * 8) + x];
                }

                temp[(y * 8) + u] = sum;
            }
        }

        for (var u = 0; u < 8; u++)
        {
            for (var v = 0; v < 8; v++)
            {
                double sum = 0;
                for (var y = 0; y < 8; y++)
                {
                    sum += temp[(y * 8) + u] * cos[(v * 8) + y];
                }

                var coefficient = sum / 4;
                var index = (v * 8) + u;
                output[index] = (short)Math.Round(coefficient / quantization[index], MidpointRounding.AwayFromZero);
            }
        }

        // Reorder to zig-zag.
        Span<short> natural = stackalloc short[64];
        output.CopyTo(natural);
        for (var k = 0; k < 64; k++)
        {
            output[k] = natural[ZigZag[k]];
        }
    }

    private static int[] BuildZigZag()
    {
        var order = new int[64];
        int row = 0, column = 0;
        for (var k = 0; k < 64; k++)
        {
            order[k] = (row * 8) + column;
            if (((row + column) & 1) == 0)
            {
                // Moving up and to the right.
                if (column == 7)
                {
                    row++;
                }
                else if (row == 0)
                {
                    column++;
                }
                else
                {
                    row--;
                    column++;
                }
            }
            else
            {
                if (row == 7)
                {
                    column++;
                }
                else if (column == 0)
                {
                    row++;
                }
                else
                {
                    row++;
                    column--;
                }
            }
        }

        return order;
    }

    /// <summary>C(u) cos((2x+1)uπ/16), C(0) = 1/√2, else 1.</summary>
    private static double[] BuildCosines()
    {
        var table = new double[64];
        for (var u = 0; u < 8; u++)
        {
            for (var x = 0; x < 8; x++)
            {
                table[(u * 8) + x] = (u == 0 ? Math.Sqrt(0.5) : 1.0) * Math.Cos(((2 * x) + 1) * u * Math.PI / 16);
            }
        }

        return table;
    }

    /// <summary>The component planes of an image, padded to whole MCUs, and the order in which their blocks are coded.</summary>
    private sealed class Planes
    {
        private Planes(int count, int mcuColumns, int mcuRows)
        {
            Count = count;
            H = new int[count];
            V = new int[count];
            Data = new float[count][];
            Widths = new int[count];
            Predictions = new int[count];
            McuColumns = mcuColumns;
            McuRows = mcuRows;
        }

        public int Count { get; }

        public int[] H { get; }

        public int[] V { get; }

        public float[][] Data { get; }

        public int[] Widths { get; }

        public int[] Predictions { get; }

        public int McuColumns { get; }

        public int McuRows { get; }

        public static Planes FromGray(RenderedImage image)
        {
            var mcuColumns = (image.Width + 7) / 8;
            var mcuRows = (image.Height + 7) / 8;
            var planes = new Planes(1, mcuColumns, mcuRows);
            planes.H[0] = planes.V[0] = 1;
            var width = mcuColumns * 8;
            var height = mcuRows * 8;
            var data = new float[width * height];
            for (var y = 0; y < height; y++)
            {
                var sourceRow = Math.Min(y, image.Height - 1) * image.Width;
                for (var x = 0; x < width; x++)
                {
                    data[(y * width) + x] = image.Pixels[sourceRow + Math.Min(x, image.Width - 1)];
                }
            }

            planes.Data[0] = data;
            planes.Widths[0] = width;
            return planes;
        }

        /// <summary>Y, Cb, Cr planes (JFIF conversion), chroma averaged over <paramref name="factor"/>² pixels.</summary>
        public static Planes FromRgb(RenderedImage image, int factor)
        {
            var mcuSize = 8 * factor;
            var mcuColumns = (image.Width + mcuSize - 1) / mcuSize;
            var mcuRows = (image.Height + mcuSize - 1) / mcuSize;
            var planes = new Planes(3, mcuColumns, mcuRows);
            planes.H[0] = planes.V[0] = factor;
            planes.H[1] = planes.V[1] = planes.H[2] = planes.V[2] = 1;
            var width = mcuColumns * mcuSize;
            var height = mcuRows * mcuSize;
            var y = new float[width * height];
            var cb = new float[width * height];
            var cr = new float[width * height];
            for (var row = 0; row < height; row++)
            {
                var sourceRow = Math.Min(row, image.Height - 1) * image.Width;
                for (var column = 0; column < width; column++)
                {
                    var p = (sourceRow + Math.Min(column, image.Width - 1)) * 3;
                    float r = image.Pixels[p], g = image.Pixels[p + 1], b = image.Pixels[p + 2];
                    var i = (row * width) + column;
                    y[i] = (0.299f * r) + (0.587f * g) + (0.114f * b);
                    cb[i] = (-0.168736f * r) - (0.331264f * g) + (0.5f * b) + 128;
                    cr[i] = (0.5f * r) - (0.418688f * g) - (0.081312f * b) + 128;
                }
            }

            planes.Data[0] = y;
            planes.Widths[0] = width;
            planes.Data[1] = Downsample(cb, width, height, factor);
            planes.Data[2] = Downsample(cr, width, height, factor);
            planes.Widths[1] = planes.Widths[2] = width / factor;
            return planes;
        }

        private static float[] Downsample(float[] plane, int width, int height, int factor)
        {
            if (factor == 1)
            {
                return plane;
            }

            var outWidth = width / factor;
            var outHeight = height / factor;
            var result = new float[outWidth * outHeight];
            for (var y = 0; y < outHeight; y++)
            {
                for (var x = 0; x < outWidth; x++)
                {
                    var i = (y * factor * width) + (x * factor);
                    result[(y * outWidth) + x] = (plane[i] + plane[i + 1] + plane[i + width] + plane[i + width + 1]) / 4;
                }
            }

            return result;
        }

        /// <summary>All blocks, transformed and quantized, 64 coefficients each in coding order (interleaved MCUs, T.81 A.2.3).</summary>
        public short[] QuantizedBlocks(int[][] tables)
        {
            var blocksPerMcu = 0;
            for (var c = 0; c < Count; c++)
            {
                blocksPerMcu += H[c] * V[c];
            }

            var blocks = new short[(long)McuRows * McuColumns * blocksPerMcu * 64];
            var next = 0;
            Span<float> samples = stackalloc float[64];
            for (var mcuRow = 0; mcuRow < McuRows; mcuRow++)
            {
                for (var mcuColumn = 0; mcuColumn < McuColumns; mcuColumn++)
                {
                    for (var c = 0; c < Count; c++)
                    {
                        for (var v = 0; v < V[c]; v++)
                        {
                            for (var h = 0; h < H[c]; h++)
                            {
                                var top = ((mcuRow * V[c]) + v) * 8;
                                var left = ((mcuColumn * H[c]) + h) * 8;
                                for (var y = 0; y < 8; y++)
                                {
                                    Data[c].AsSpan(((top + y) * Widths[c]) + left, 8).CopyTo(samples.Slice(y * 8, 8));
                                }

                                TransformBlock(samples, tables[c == 0 ? 0 : 1], blocks.AsSpan(next, 64));
                                next += 64;
                            }
                        }
                    }
                }
            }

            return blocks;
        }

        /// <summary>The component of each block, in coding order.</summary>
        public byte[] BlockComponents()
        {
            var order = new List<byte>();
            for (var c = 0; c < Count; c++)
            {
                for (var n = 0; n < H[c] * V[c]; n++)
                {
                    order.Add((byte)c);
                }
            }

            var result = new byte[McuRows * McuColumns * order.Count];
            for (var mcu = 0; mcu < McuRows * McuColumns; mcu++)
            {
                order.CopyTo(result, mcu * order.Count);
            }

            return result;
        }
    }

    /// <summary>A Huffman table built for symbol frequencies (T.81 Annex K.2) and its codes (Annex C).</summary>
    private sealed class HuffmanTable
    {
        private readonly byte[] bits = new byte[17];
        private readonly List<byte> values = [];
        private readonly int[] codes = new int[256];
        private readonly int[] sizes = new int[256];

        /// <summary>
        /// K.2: repeatedly join the two least frequent, recording code sizes (Figure K.1), count codes per size
        /// (Figure K.2), limit sizes to 16 (Figure K.3), sort symbols by size (Figure K.4). Symbol 256 reserves the all-ones code.
        /// </summary>
        public static HuffmanTable Optimal(long[] frequencies)
        {
            var freq = (long[])frequencies.Clone();
            freq[256] = 1;
            var codeSize = new int[257];
            var others = new int[257];
            Array.Fill(others, -1);
            while (true)
            {
                int v1 = -1, v2 = -1;
                for (var i = 0; i < 257; i++)
                {
                    if (freq[i] == 0)
                    {
                        continue;
                    }

                    // v1: least frequency (ties: largest value); v2: next least.
                    if (v1 < 0 || freq[i] <= freq[v1])
                    {
                        v2 = v1;
                        v1 = i;
                    }
                    else if (v2 < 0 || freq[i] <= freq[v2])
                    {
                        v2 = i;
                    }
                }

                if (v2 < 0)
                {
                    break;
                }

                freq[v1] += freq[v2];
                freq[v2] = 0;
                for (codeSize[v1]++; others[v1] >= 0; codeSize[v1]++)
                {
                    v1 = others[v1];
                }

                others[v1] = v2;
                for (codeSize[v2]++; others[v2] >= 0; codeSize[v2]++)
                {
                    v2 = others[v2];
                }
            }

            // Code sizes beyond 32 (T.81 assumes none) need frequencies beyond 2^32: not reachable for one image.
            var count = new int[65];
            for (var i = 0; i < 257; i++)
            {
                if (codeSize[i] > 0)
                {
                    count[codeSize[i]]++;
                }
            }

            // Figure K.3: no code longer than 16 bits.
            for (var i = 64; i > 16; i--)
            {
                while (count[i] > 0)
                {
                    var j = i - 2;
                    while (count[j] == 0)
                    {
                        j--;
                    }

                    count[i] -= 2;
                    count[i - 1]++;
                    count[j + 1] += 2;
                    count[j]--;
                }
            }

            // Remove the reserved symbol's code (the longest).
            var last = 16;
            while (last > 0 && count[last] == 0)
            {
                last--;
            }

            if (last > 0)
            {
                count[last]--;
            }

            var table = new HuffmanTable();
            for (var i = 1; i <= 16; i++)
            {
                table.bits[i] = (byte)count[i];
            }

            // Figure K.4: symbols in order of code size, then value.
            for (var size = 1; size <= 64; size++)
            {
                for (var symbol = 0; symbol < 256; symbol++)
                {
                    if (codeSize[symbol] == size)
                    {
                        table.values.Add((byte)symbol);
                    }
                }
            }

            table.values.RemoveRange(table.Total, table.values.Count - table.Total);
            table.GenerateCodes();
            return table;
        }

        private int Total
        {
            get
            {
                var total = 0;
                for (var i = 1; i <= 16; i++)
                {
                    total += bits[i];
                }

                return total;
            }
        }

        /// <summary>The DHT payload: class/identifier, BITS (16 counts), HUFFVAL.</summary>
        public byte[] Segment(byte classAndId)
        {
            var payload = new byte[1 + 16 + values.Count];
            payload[0] = classAndId;
            bits.AsSpan(1, 16).CopyTo(payload.AsSpan(1));
            values.CopyTo(payload, 17);
            return payload;
        }

        public void Write(BitWriter writer, int symbol)
        {
            if (sizes[symbol] == 0)
            {
                throw new InvalidOperationException($"Huffman symbol 0x{symbol:X2} has no code.");
            }

            writer.Write(codes[symbol], sizes[symbol]);
        }

        /// <summary>Annex C: code sizes from BITS, codes counting up within each size, doubling between sizes.</summary>
        private void GenerateCodes()
        {
            var code = 0;
            var k = 0;
            for (var size = 1; size <= 16; size++)
            {
                for (var i = 0; i < bits[size]; i++)
                {
                    var symbol = values[k++];
                    codes[symbol] = code;
                    sizes[symbol] = size;
                    code++;
                }

                code <<= 1;
            }
        }
    }

    /// <summary>Entropy-coded segment output: bits most significant first, 0xFF followed by a stuffed 0x00, padded with ones.</summary>
    private sealed class BitWriter(Stream output)
    {
        private readonly byte[] bytes = new byte[8192];
        private int length;
        private uint buffer;
        private int count;

        public void Write(int value, int size)
        {
            buffer = (buffer << size) | ((uint)value & ((1u << size) - 1));
            count += size;
            while (count >= 8)
            {
                var b = (byte)(buffer >> (count - 8));
                bytes[length++] = b;
                if (b == 0xFF)
                {
                    bytes[length++] = 0;
                }

                count -= 8;
                if (length >= bytes.Length - 8)
                {
                    output.Write(bytes, 0, length);
                    length = 0;
                }
            }
        }

        public void Flush()
        {
            if (count > 0)
            {
                Write((1 << (8 - count)) - 1, 8 - count);
            }

            output.Write(bytes, 0, length);
            length = 0;
        }
    }
}
