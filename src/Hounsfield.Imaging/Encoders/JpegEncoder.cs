using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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

    /// <summary>
    /// Huffman tables optimal for the image (T.81 Annex K.2, symbols counted in a first pass) instead of the typical
    /// tables of T.81 Annex K.3 (one pass, libjpeg's default). On rendered CT, MR and CR frames files are 2-5 % smaller
    /// (more on smooth synthetic images) for about a third more encoding time (bench/imaging). Default false.
    /// </summary>
    public bool OptimizeCoding { get; init; }
}

/// <summary>
/// A baseline sequential JPEG encoder (ITU-T T.81 process 1: 8-bit samples, DCT, Huffman coding), writing JFIF files.
/// Gray images are one component; RGB images are converted to YCbCr (JFIF 1.02) and coded with 4:2:0 or 4:4:4 sampling.
/// Quantization tables are T.81 Table K.1/K.2 scaled by the quality; Huffman tables are the typical ones of T.81 K.3, or
/// with <see cref="JpegOptions.OptimizeCoding"/> optimal for the image (counted in a first pass and built with the
/// procedure of T.81 Annex K.2, codes at most 16 bits long).
/// </summary>
/// <remarks>
/// The forward DCT is the separable Arai-Agui-Nakajima factorisation (as libjpeg's jfdctflt: 5 multiplications per
/// 8 points; 8 columns at a time with AVX, whole gray blocks read straight from the pixel bytes), its output scale folded
/// into the quantization divisors; coefficients are quantized straight into zig-zag order (AVX-512: two word permutes)
/// with a mask of the non-zero ones. Blocks are transformed a batch at a time, then coded from tables holding each
/// symbol's code already shifted over its value bits, through a 64-bit bit buffer flushed every second symbol with one
/// unconditional store (0xFF bytes are stuffed when the output buffer is written out); the mask skips zero runs. No
/// allocation per block.
/// </remarks>
public static class JpegEncoder
{
    /// <summary>The zig-zag order of T.81 Figure A.6: entry k is the row-major index of the k-th coefficient.</summary>
    private static readonly int[] ZigZag = BuildZigZag();

    /// <summary>Entry k: where the k-th coefficient in zig-zag order sits in a transposed block (u × 8 + v for row v, column u).</summary>
    private static readonly int[] ZigZagTransposed = [.. ZigZag.Select(n => ((n & 7) << 3) | (n >> 3))];

    /// <summary><see cref="ZigZagTransposed"/> as word indices for vpermt2w (0-31: first table, 32-63: second).</summary>
    private static readonly short[] ZigZagPermutation = [.. ZigZagTransposed.Select(i => (short)i)];

    /// <summary>AAN output scale of frequency k: 1 for k = 0, else √2 cos(kπ/16).</summary>
    private static readonly double[] AanScale = [.. Enumerable.Range(0, 8).Select(k => k == 0 ? 1.0 : Math.Sqrt(2) * Math.Cos(k * Math.PI / 16))];

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
        ArgumentNullException.ThrowIfNull(image);
        using var memory = new MemoryStream((image.Length / 4) + 1024);
        Encode(memory, image, options);
        return memory.ToArray();
    }

    public static void Encode(Stream stream, RenderedImage image, JpegOptions? options = null) => Encode(stream, image, options, vector: true);

    /// <summary>As the public overload; with <paramref name="vector"/> false the scalar transform runs whatever the hardware (for tests).</summary>
    internal static void Encode(Stream stream, RenderedImage image, JpegOptions? options, bool vector)
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
        var divisors = new[] { new Quantizer(tables[0]), new Quantizer(tables[1]) };
        var components = image.IsColor
            ? Planes.FromRgb(image, options.Subsampling == JpegSubsampling.Yuv420 ? 2 : 1)
            : Planes.FromGray(image);
        var tableCount = image.IsColor ? 2 : 1;
        var order = new BlockOrder(components);
        var blockCount = order.Count;
        var coder = new EntropyCoder(stream);
        try
        {
            if (!options.OptimizeCoding)
            {
                // One pass: blocks transformed a batch at a time and coded with the typical tables.
                HuffmanTable[] dcTables = [HuffmanTable.TypicalLuminanceDc, HuffmanTable.TypicalChrominanceDc, HuffmanTable.TypicalChrominanceDc];
                HuffmanTable[] acTables = [HuffmanTable.TypicalLuminanceAc, HuffmanTable.TypicalChrominanceAc, HuffmanTable.TypicalChrominanceAc];
                WriteHeaders(stream, image, components, tables, dcTables.AsSpan(0, tableCount), acTables.AsSpan(0, tableCount));
                const int Batch = 64;
                var blocks = ArrayPool<short>.Shared.Rent(Batch * 64);
                Span<ulong> masks = stackalloc ulong[Batch];
                try
                {
                    for (var first = 0; first < blockCount; first += Batch)
                    {
                        var n = Math.Min(Batch, blockCount - first);
                        TransformBlocks(components, order, divisors, first, n, blocks, masks, vector);
                        coder.EncodeBlocks(blocks, masks, n, order.ComponentsOf(first, n), dcTables, acTables);
                    }
                }
                finally
                {
                    ArrayPool<short>.Shared.Return(blocks);
                }
            }
            else
            {
                // Pass 1: transform and quantize every block, counting the Huffman symbols; then the tables; pass 2: code.
                var blocks = ArrayPool<short>.Shared.Rent(checked(blockCount * 64));
                var masks = ArrayPool<ulong>.Shared.Rent(blockCount);
                try
                {
                    TransformBlocks(components, order, divisors, 0, blockCount, blocks, masks, vector);
                    var counts = new int[4 * 257]; // DC 0, AC 0, DC 1, AC 1
                    Span<int> predictions = stackalloc int[components.Count];
                    for (var b = 0; b < blockCount; b++)
                    {
                        var c = order.ComponentOf(b);
                        var table = c == 0 ? 0 : 1;
                        CountBlock(blocks.AsSpan(b * 64, 64), masks[b], ref predictions[c], ref counts[table * 514], ref counts[(table * 514) + 257]);
                    }

                    var dcTables = new HuffmanTable[tableCount];
                    var acTables = new HuffmanTable[tableCount];
                    for (var t = 0; t < tableCount; t++)
                    {
                        dcTables[t] = HuffmanTable.Optimal(counts.AsSpan(t * 514, 257));
                        acTables[t] = HuffmanTable.Optimal(counts.AsSpan((t * 514) + 257, 257));
                    }

                    WriteHeaders(stream, image, components, tables, dcTables, acTables);
                    HuffmanTable[] dcByComponent = image.IsColor ? [dcTables[0], dcTables[1], dcTables[1]] : dcTables;
                    HuffmanTable[] acByComponent = image.IsColor ? [acTables[0], acTables[1], acTables[1]] : acTables;
                    coder.EncodeBlocks(blocks, masks, blockCount, order.ComponentsOf(0, blockCount), dcByComponent, acByComponent);
                }
                finally
                {
                    ArrayPool<short>.Shared.Return(blocks);
                    ArrayPool<ulong>.Shared.Return(masks);
                }
            }

            coder.Finish();
        }
        finally
        {
            coder.Dispose();
        }

        stream.Write([0xFF, 0xD9]);
    }

    /// <summary>
    /// Transforms and quantizes blocks <paramref name="first"/> .. <paramref name="first"/> + <paramref name="count"/> - 1
    /// (coding order) into <paramref name="blocks"/> (64 coefficients each, zig-zag order) and their non-zero masks.
    /// </summary>
    private static void TransformBlocks(Planes components, BlockOrder order, Quantizer[] divisors, int first, int count, Span<short> blocks, Span<ulong> masks, bool vector)
    {
        Span<float> samples = stackalloc float[64];
        Span<short> scratch = stackalloc short[64];
        var gray = components.Gray;
        for (var i = 0; i < count; i++)
        {
            var (c, top, left) = order[first + i];
            if (vector && gray is not null && PairedTransform && i + 1 < count && left + 16 <= gray.Width && top + 8 <= gray.Height)
            {
                // Two whole blocks side by side (the next in a gray image's order), in the 16 lanes of AVX-512.
                var (nonZero, nextNonZero) = TransformGrayPair(
                    ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(gray.Pixels), (top * gray.Width) + left),
                    gray.Width,
                    ref MemoryMarshal.GetArrayDataReference(divisors[0].TransposedTwice),
                    ref MemoryMarshal.GetReference(blocks.Slice(i * 64, 128)));
                masks[i] = nonZero;
                masks[i + 1] = nextNonZero;
                i++;
                continue;
            }

            if (vector && gray is not null && Avx2.IsSupported && left + 8 <= gray.Width && top + 8 <= gray.Height)
            {
                // Whole blocks of gray images straight from the pixels.
                masks[i] = TransformGray(
                    ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(gray.Pixels), (top * gray.Width) + left),
                    gray.Width,
                    ref MemoryMarshal.GetArrayDataReference(divisors[0].Transposed),
                    ref MemoryMarshal.GetReference(scratch),
                    ref MemoryMarshal.GetReference(blocks.Slice(i * 64, 64)));
                continue;
            }

            components.Load(c, top, left, samples);
            masks[i] = TransformAndQuantize(samples, divisors[c == 0 ? 0 : 1], blocks.Slice(i * 64, 64), scratch, vector);
        }
    }

    private static void WriteHeaders(Stream output, RenderedImage image, Planes components, int[][] tables, ReadOnlySpan<HuffmanTable> dcTables, ReadOnlySpan<HuffmanTable> acTables)
    {
        var tableCount = dcTables.Length;
        using var header = new MemoryStream(1024);
        header.Write([0xFF, 0xD8]);
        WriteMarker(header, 0xE0, [(byte)'J', (byte)'F', (byte)'I', (byte)'F', 0, 1, 2, 0, 0, 1, 0, 1, 0, 0]);
        Span<byte> dqt = stackalloc byte[65];
        for (var t = 0; t < tableCount; t++)
        {
            dqt[0] = (byte)t; // 8-bit precision, table t
            for (var k = 0; k < 64; k++)
            {
                dqt[1 + k] = (byte)tables[t][ZigZag[k]];
            }

            WriteMarker(header, 0xDB, dqt);
        }

        var sof = new List<byte> { 8, (byte)(image.Height >> 8), (byte)image.Height, (byte)(image.Width >> 8), (byte)image.Width, (byte)components.Count };
        for (var c = 0; c < components.Count; c++)
        {
            sof.AddRange([(byte)(c + 1), (byte)((components.H[c] << 4) | components.V[c]), (byte)(c == 0 ? 0 : 1)]);
        }

        WriteMarker(header, 0xC0, [.. sof]);
        for (var t = 0; t < tableCount; t++)
        {
            WriteMarker(header, 0xC4, dcTables[t].Segment((byte)(0x00 | t)));
            WriteMarker(header, 0xC4, acTables[t].Segment((byte)(0x10 | t)));
        }

        var sos = new List<byte> { (byte)components.Count };
        for (var c = 0; c < components.Count; c++)
        {
            sos.AddRange([(byte)(c + 1), (byte)(c == 0 ? 0x00 : 0x11)]);
        }

        sos.AddRange([0, 63, 0]);
        WriteMarker(header, 0xDA, [.. sos]);
        output.Write(header.GetBuffer(), 0, (int)header.Length);
    }

    /// <summary>T.81 Table K.1 (luminance) or K.2 (chrominance) scaled for <paramref name="quality"/> as the IJG library does, row-major.</summary>
    internal static int[] QuantizationTable(bool chrominance, int quality) => ScaleTable(chrominance ? ChrominanceTable : LuminanceTable, Math.Clamp(quality, 1, 100));

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

    /// <summary>
    /// The multipliers that turn the AAN transform's output into quantized coefficients: 1 / (Q × 8 × s(v) × s(u)) for
    /// coefficient (v, u) (the 8 and the AAN scales make it the T.81 A.3.3 DCT; Q the quantization step), in zig-zag order
    /// for the scalar transform and in transposed order (u × 8 + v) for the vector one.
    /// </summary>
    internal sealed class Quantizer
    {
        public Quantizer(int[] quantization)
        {
            for (var n = 0; n < 64; n++)
            {
                var divisor = (float)(1.0 / (quantization[n] * 8.0 * AanScale[n >> 3] * AanScale[n & 7]));
                Transposed[((n & 7) << 3) | (n >> 3)] = divisor;
            }

            for (var k = 0; k < 64; k++)
            {
                InZigZag[k] = Transposed[ZigZagTransposed[k]];
            }

            for (var row = 0; row < 8; row++)
            {
                Transposed.AsSpan(row * 8, 8).CopyTo(TransposedTwice.AsSpan(row * 16));
                Transposed.AsSpan(row * 8, 8).CopyTo(TransposedTwice.AsSpan((row * 16) + 8));
            }
        }

        public float[] InZigZag { get; } = new float[64];

        /// <summary>Each row of <see cref="Transposed"/> twice: the divisors of two blocks side by side (16 lanes).</summary>
        public float[] TransposedTwice { get; } = new float[128];

        public float[] Transposed { get; } = new float[64];
    }

    private static void WriteMarker(Stream output, byte marker, ReadOnlySpan<byte> payload)
    {
        var length = payload.Length + 2;
        output.Write([0xFF, marker, (byte)(length >> 8), (byte)length]);
        output.Write(payload);
    }

    /// <summary>Magnitude category (T.81 F.1.2.1.1): the number of bits of |value|.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Category(int value) => 32 - BitOperations.LeadingZeroCount((uint)((value ^ (value >> 31)) - (value >> 31)));

    /// <summary>Bit k set when coefficient k (zig-zag order) of <paramref name="block"/> is not zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong NonZeroMask(ReadOnlySpan<short> block)
    {
        ulong mask = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            ref var start = ref MemoryMarshal.GetReference(block);
            for (var i = 0; i < 64; i += 16)
            {
                var low = Vector128.LoadUnsafe(ref start, (nuint)i);
                var high = Vector128.LoadUnsafe(ref start, (nuint)(i + 8));
                var zero = Vector128.Narrow(Vector128.Equals(low, Vector128<short>.Zero), Vector128.Equals(high, Vector128<short>.Zero));
                mask |= (ulong)(~Vector128.ExtractMostSignificantBits(zero) & 0xFFFF) << i;
            }
        }
        else
        {
            for (var i = 0; i < 64; i++)
            {
                if (block[i] != 0)
                {
                    mask |= 1UL << i;
                }
            }
        }

        return mask;
    }

    /// <summary>Counts the DC category and the AC run/size symbols (T.81 F.1.2) of one quantized block.</summary>
    private static void CountBlock(ReadOnlySpan<short> block, ulong nonZero, ref int prediction, ref int dc, ref int ac)
    {
        var difference = block[0] - prediction;
        prediction = block[0];
        Unsafe.Add(ref dc, Category(difference))++;
        var mask = nonZero & ~1UL;
        var last = 0;
        ref var coefficients = ref MemoryMarshal.GetReference(block);
        while (mask != 0)
        {
            var k = BitOperations.TrailingZeroCount(mask);
            mask &= mask - 1;
            var run = k - last - 1;
            last = k;
            if (run > 15)
            {
                Unsafe.Add(ref ac, 0xF0) += run >> 4;
                run &= 15;
            }

            Unsafe.Add(ref ac, (run << 4) | Category(Unsafe.Add(ref coefficients, k)))++;
        }

        if (last != 63)
        {
            ac++;
        }
    }

    /// <summary>The additional bits of a value (T.81 F.1.2.1.1): negative values as value - 1, in <paramref name="size"/> bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ValueBits(int value, int size) => Bmi2.IsSupported
        ? Bmi2.ZeroHighBits((uint)(value + (value >> 31)), (uint)size)
        : (uint)(value + (value >> 31)) & ((1u << size) - 1);

    /// <summary>
    /// Transforms one block of level-shifted samples (<paramref name="samples"/>, rows of 8; overwritten) and quantizes it
    /// into <paramref name="output"/> in zig-zag order, rounding half away from zero. Returns the mask of its non-zero
    /// coefficients (bit k: coefficient k in zig-zag order). <paramref name="scratch"/>: 64 shorts. With
    /// <paramref name="vector"/> false the scalar path runs whatever the hardware (for tests).
    /// </summary>
    internal static ulong TransformAndQuantize(Span<float> samples, Quantizer quantizer, Span<short> output, Span<short> scratch, bool vector = true)
    {
        if (vector && Avx2.IsSupported)
        {
            ref var block = ref MemoryMarshal.GetReference(samples);
            return TransformVectors(
                Vector256.LoadUnsafe(ref block, 0), Vector256.LoadUnsafe(ref block, 8),
                Vector256.LoadUnsafe(ref block, 16), Vector256.LoadUnsafe(ref block, 24),
                Vector256.LoadUnsafe(ref block, 32), Vector256.LoadUnsafe(ref block, 40),
                Vector256.LoadUnsafe(ref block, 48), Vector256.LoadUnsafe(ref block, 56),
                0,
                ref MemoryMarshal.GetArrayDataReference(quantizer.Transposed),
                ref MemoryMarshal.GetReference(scratch),
                ref MemoryMarshal.GetReference(output));
        }

        ForwardDct(samples);
        var divisors = quantizer.InZigZag;
        for (var k = 0; k < 64; k++)
        {
            var value = samples[ZigZag[k]] * divisors[k];
            output[k] = (short)(value >= 0 ? (int)(value + 0.5f) : -(int)(0.5f - value));
        }

        return NonZeroMask(output);
    }

    /// <summary>
    /// Forward DCT of one 8x8 block of level-shifted samples (rows of 8, in place): AAN (libjpeg jfdctflt), rows then
    /// columns; coefficient (v, u) comes out at v × 8 + u as F(v, u) × 8 s(v) s(u), which <see cref="Quantizer"/> undoes.
    /// </summary>
    internal static void ForwardDct(Span<float> block)
    {
        ref var d = ref MemoryMarshal.GetReference(block);
        for (var i = 0; i < 8; i++)
        {
            Dct8(ref Unsafe.Add(ref d, i * 8), 1);
        }

        for (var i = 0; i < 8; i++)
        {
            Dct8(ref Unsafe.Add(ref d, i), 8);
        }
    }

    /// <summary>One 8-point AAN DCT over the values <paramref name="stride"/> apart from <paramref name="d"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dct8(ref float d, int stride)
    {
        ref var d0 = ref d;
        ref var d1 = ref Unsafe.Add(ref d, stride);
        ref var d2 = ref Unsafe.Add(ref d, 2 * stride);
        ref var d3 = ref Unsafe.Add(ref d, 3 * stride);
        ref var d4 = ref Unsafe.Add(ref d, 4 * stride);
        ref var d5 = ref Unsafe.Add(ref d, 5 * stride);
        ref var d6 = ref Unsafe.Add(ref d, 6 * stride);
        ref var d7 = ref Unsafe.Add(ref d, 7 * stride);

        var tmp0 = d0 + d7;
        var tmp7 = d0 - d7;
        var tmp1 = d1 + d6;
        var tmp6 = d1 - d6;
        var tmp2 = d2 + d5;
        var tmp5 = d2 - d5;
        var tmp3 = d3 + d4;
        var tmp4 = d3 - d4;

        // Even part.
        var tmp10 = tmp0 + tmp3;
        var tmp13 = tmp0 - tmp3;
        var tmp11 = tmp1 + tmp2;
        var tmp12 = tmp1 - tmp2;
        d0 = tmp10 + tmp11;
        d4 = tmp10 - tmp11;
        var z1 = (tmp12 + tmp13) * 0.707106781f;
        d2 = tmp13 + z1;
        d6 = tmp13 - z1;

        // Odd part.
        tmp10 = tmp4 + tmp5;
        tmp11 = tmp5 + tmp6;
        tmp12 = tmp6 + tmp7;
        var z5 = (tmp10 - tmp12) * 0.382683433f;
        var z2 = (0.541196100f * tmp10) + z5;
        var z4 = (1.306562965f * tmp12) + z5;
        var z3 = tmp11 * 0.707106781f;
        var z11 = tmp7 + z3;
        var z13 = tmp7 - z3;
        d5 = z13 + z2;
        d3 = z13 - z2;
        d1 = z11 + z4;
        d7 = z11 - z4;
    }

    /// <summary>
    /// The 8x8 block of a gray image at <paramref name="pixels"/> (rows <paramref name="stride"/> bytes apart, all inside
    /// the image) transformed and quantized as <see cref="TransformAndQuantize"/> does, read straight from the bytes: the
    /// level shift is taken off the DC coefficient alone (it adds 128 × 64 there and cancels exactly everywhere else, the
    /// AAN butterflies being sums and differences of integers before any multiplication). AVX2 only.
    /// </summary>
    private static ulong TransformGray(ref byte pixels, nint stride, ref float divisors, ref short scratch, ref short output) =>
        TransformVectors(
            Row(ref pixels), Row(ref Unsafe.Add(ref pixels, stride)),
            Row(ref Unsafe.Add(ref pixels, 2 * stride)), Row(ref Unsafe.Add(ref pixels, 3 * stride)),
            Row(ref Unsafe.Add(ref pixels, 4 * stride)), Row(ref Unsafe.Add(ref pixels, 5 * stride)),
            Row(ref Unsafe.Add(ref pixels, 6 * stride)), Row(ref Unsafe.Add(ref pixels, 7 * stride)),
            128 * 64,
            ref divisors,
            ref scratch,
            ref output);

    /// <summary>Whether <see cref="TransformGrayPair"/> runs (AVX-512 F and BW).</summary>
    private static bool PairedTransform => Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Avx512BW.IsSupported;

    /// <summary>Float lane indices for vpermt2ps: the low 128-bit halves of two blocks' rows, interleaved (AVX's vperm2f128 0x20 per block).</summary>
    private static readonly int[] LowHalves = [0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27];

    /// <summary>As <see cref="LowHalves"/> for the high halves (vperm2f128 0x31).</summary>
    private static readonly int[] HighHalves = [4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31];

    /// <summary>
    /// <see cref="TransformGray"/> of the two blocks at <paramref name="pixels"/> and 8 pixels right of it at once, block
    /// one in lanes 0-7 and block two in lanes 8-15 of each AVX-512 vector: the same operations lane by lane, so the same
    /// coefficients. Writes 128 coefficients (two blocks in zig-zag order) and returns the two non-zero masks.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (ulong First, ulong Second) TransformGrayPair(ref byte pixels, nint stride, ref float divisors, ref short output)
    {
        var (r0, r1, r2, r3, r4, r5, r6, r7) = Dct8(
            Row16(ref pixels), Row16(ref Unsafe.Add(ref pixels, stride)),
            Row16(ref Unsafe.Add(ref pixels, 2 * stride)), Row16(ref Unsafe.Add(ref pixels, 3 * stride)),
            Row16(ref Unsafe.Add(ref pixels, 4 * stride)), Row16(ref Unsafe.Add(ref pixels, 5 * stride)),
            Row16(ref Unsafe.Add(ref pixels, 6 * stride)), Row16(ref Unsafe.Add(ref pixels, 7 * stride)));

        // Transpose each block: unpack and shuffle work within 128-bit lanes as AVX's do; the cross-lane step by vpermt2ps.
        var t0 = Avx512F.UnpackLow(r0, r1);
        var t1 = Avx512F.UnpackHigh(r0, r1);
        var t2 = Avx512F.UnpackLow(r2, r3);
        var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5);
        var t5 = Avx512F.UnpackHigh(r4, r5);
        var t6 = Avx512F.UnpackLow(r6, r7);
        var t7 = Avx512F.UnpackHigh(r6, r7);
        var s0 = Avx512F.Shuffle(t0, t2, 0x44);
        var s1 = Avx512F.Shuffle(t0, t2, 0xEE);
        var s2 = Avx512F.Shuffle(t1, t3, 0x44);
        var s3 = Avx512F.Shuffle(t1, t3, 0xEE);
        var s4 = Avx512F.Shuffle(t4, t6, 0x44);
        var s5 = Avx512F.Shuffle(t4, t6, 0xEE);
        var s6 = Avx512F.Shuffle(t5, t7, 0x44);
        var s7 = Avx512F.Shuffle(t5, t7, 0xEE);
        var low = Vector512.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(LowHalves));
        var high = Vector512.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(HighHalves));
        var (c0, c1, c2, c3, c4, c5, c6, c7) = Dct8(
            Avx512F.PermuteVar16x32x2(s0, low, s4), Avx512F.PermuteVar16x32x2(s1, low, s5),
            Avx512F.PermuteVar16x32x2(s2, low, s6), Avx512F.PermuteVar16x32x2(s3, low, s7),
            Avx512F.PermuteVar16x32x2(s0, high, s4), Avx512F.PermuteVar16x32x2(s1, high, s5),
            Avx512F.PermuteVar16x32x2(s2, high, s6), Avx512F.PermuteVar16x32x2(s3, high, s7));

        // Level shift off both DCs, quantize, narrow: row i of both blocks in one Vector256 (block one's 8, block two's 8).
        var dcOffset = Vector512.Create(128f * 64, 0, 0, 0, 0, 0, 0, 0, 128f * 64, 0, 0, 0, 0, 0, 0, 0);
        var q0 = Quantize(c0 - dcOffset, ref divisors, 0);
        var q1 = Quantize(c1, ref divisors, 16);
        var q2 = Quantize(c2, ref divisors, 32);
        var q3 = Quantize(c3, ref divisors, 48);
        var q4 = Quantize(c4, ref divisors, 64);
        var q5 = Quantize(c5, ref divisors, 80);
        var q6 = Quantize(c6, ref divisors, 96);
        var q7 = Quantize(c7, ref divisors, 112);

        // 128-bit lanes [one's row i, two's row i, one's row i+1, two's row i+1], then each block's 64 gathered.
        var p01 = Vector512.Create(q0, q1).AsInt32();
        var p23 = Vector512.Create(q2, q3).AsInt32();
        var p45 = Vector512.Create(q4, q5).AsInt32();
        var p67 = Vector512.Create(q6, q7).AsInt32();
        var first = ZigZagAndMask(Avx512F.Shuffle4x128(p01, p23, 0x88).AsInt16(), Avx512F.Shuffle4x128(p45, p67, 0x88).AsInt16(), ref output);
        var second = ZigZagAndMask(Avx512F.Shuffle4x128(p01, p23, 0xDD).AsInt16(), Avx512F.Shuffle4x128(p45, p67, 0xDD).AsInt16(), ref Unsafe.Add(ref output, 64));
        return (first, second);

        static Vector256<short> Quantize(Vector512<float> value, ref float divisors, int offset)
        {
            // As TransformVectors: times the divisor, ±0.5 with the sign, truncated; exact narrowing.
            value *= Vector512.LoadUnsafe(ref divisors, (nuint)offset);
            return Avx512F.ConvertToVector256Int16(Avx512F.ConvertToVector512Int32WithTruncation(value + ((value & Vector512.Create(-0.0f)) | Vector512.Create(0.5f))));
        }
    }

    /// <summary>One block's 64 coefficients (transposed order) to zig-zag order at <paramref name="output"/> by two vpermt2w; the non-zero mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ZigZagAndMask(Vector512<short> low, Vector512<short> high, ref short output)
    {
        ref var permutation = ref MemoryMarshal.GetArrayDataReference(ZigZagPermutation);
        var first = Avx512BW.PermuteVar32x16x2(low, Vector512.LoadUnsafe(ref permutation, 0), high);
        var second = Avx512BW.PermuteVar32x16x2(low, Vector512.LoadUnsafe(ref permutation, 32), high);
        first.StoreUnsafe(ref output, 0);
        second.StoreUnsafe(ref output, 32);
        var zeros = Vector512.Equals(first, Vector512<short>.Zero).ExtractMostSignificantBits()
            | (Vector512.Equals(second, Vector512<short>.Zero).ExtractMostSignificantBits() << 32);
        return ~zeros;
    }

    /// <summary>16 bytes as 16 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Row16(ref byte pixels) =>
        Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref pixels)));

    /// <summary>8 bytes as 8 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Row(ref byte pixels) =>
        Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref pixels)).AsByte()));

    /// <summary>
    /// The vector transform of one block (row r in lane vector r): the AAN DCT down the columns, a transpose, the AAN DCT
    /// along the original rows, leaving coefficient (v, u) at u × 8 + v; <paramref name="dcOffset"/> off the DC; times the
    /// divisors and rounded half away from zero; then in zig-zag order into <paramref name="output"/> (AVX-512: two word
    /// permutes over the 64 coefficients; else through <paramref name="scratch"/>). Returns the mask of the non-zero ones.
    /// </summary>
    /// <remarks>
    /// Not inlined: the JIT's inlining budget grows with the caller's size, and this method must be large enough itself
    /// for the two <see cref="Dct8(Vector256{float}, Vector256{float}, Vector256{float}, Vector256{float}, Vector256{float}, Vector256{float}, Vector256{float}, Vector256{float})"/>
    /// to be inlined (else the vectors go through memory).
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong TransformVectors(
        Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7,
        float dcOffset, ref float divisors, ref short scratch, ref short output)
    {
        (r0, r1, r2, r3, r4, r5, r6, r7) = Dct8(r0, r1, r2, r3, r4, r5, r6, r7);

        // Transpose (AVX: unpack, shuffle, permute).
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44);
        var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44);
        var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44);
        var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44);
        var s7 = Avx.Shuffle(t5, t7, 0xEE);
        var c = Dct8(
            Avx.Permute2x128(s0, s4, 0x20), Avx.Permute2x128(s1, s5, 0x20), Avx.Permute2x128(s2, s6, 0x20), Avx.Permute2x128(s3, s7, 0x20),
            Avx.Permute2x128(s0, s4, 0x31), Avx.Permute2x128(s1, s5, 0x31), Avx.Permute2x128(s2, s6, 0x31), Avx.Permute2x128(s3, s7, 0x31));

        // |coefficient| / Q stays far inside 16 bits (at most 8 × 128 × 8 for Q = 1 before scaling): narrowing is exact.
        var n01 = Vector256.Narrow(Round((c.Item1 - Vector256.CreateScalar(dcOffset)) * Vector256.LoadUnsafe(ref divisors, 0)), Round(c.Item2 * Vector256.LoadUnsafe(ref divisors, 8)));
        var n23 = Vector256.Narrow(Round(c.Item3 * Vector256.LoadUnsafe(ref divisors, 16)), Round(c.Item4 * Vector256.LoadUnsafe(ref divisors, 24)));
        var n45 = Vector256.Narrow(Round(c.Item5 * Vector256.LoadUnsafe(ref divisors, 32)), Round(c.Item6 * Vector256.LoadUnsafe(ref divisors, 40)));
        var n67 = Vector256.Narrow(Round(c.Item7 * Vector256.LoadUnsafe(ref divisors, 48)), Round(c.Item8 * Vector256.LoadUnsafe(ref divisors, 56)));
        if (Vector512.IsHardwareAccelerated && Avx512BW.IsSupported)
        {
            // Zig-zag order by two two-table word permutes (vpermt2w) over the 64 coefficients.
            return ZigZagAndMask(Vector512.Create(n01, n23), Vector512.Create(n45, n67), ref output);
        }

        n01.StoreUnsafe(ref scratch, 0);
        n23.StoreUnsafe(ref scratch, 16);
        n45.StoreUnsafe(ref scratch, 32);
        n67.StoreUnsafe(ref scratch, 48);
        ref var zigzag = ref MemoryMarshal.GetArrayDataReference(ZigZagTransposed);
        for (var k = 0; k < 64; k++)
        {
            Unsafe.Add(ref output, k) = Unsafe.Add(ref scratch, Unsafe.Add(ref zigzag, k));
        }

        return NonZeroMask(MemoryMarshal.CreateReadOnlySpan(ref output, 64));

        // Half away from zero: add ±0.5 with the value's sign, then truncate (the values are far inside the int range).
        static Vector256<int> Round(Vector256<float> value) =>
            Avx.ConvertToVector256Int32WithTruncation(value + ((value & Vector256.Create(-0.0f)) | Vector256.Create(0.5f)));
    }

    /// <summary>The AAN butterflies of <see cref="Dct8(ref float, int)"/> on 8 vectors of lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) Dct8(
        Vector256<float> d0, Vector256<float> d1, Vector256<float> d2, Vector256<float> d3,
        Vector256<float> d4, Vector256<float> d5, Vector256<float> d6, Vector256<float> d7)
    {
        var tmp0 = d0 + d7;
        var tmp7 = d0 - d7;
        var tmp1 = d1 + d6;
        var tmp6 = d1 - d6;
        var tmp2 = d2 + d5;
        var tmp5 = d2 - d5;
        var tmp3 = d3 + d4;
        var tmp4 = d3 - d4;

        var tmp10 = tmp0 + tmp3;
        var tmp13 = tmp0 - tmp3;
        var tmp11 = tmp1 + tmp2;
        var tmp12 = tmp1 - tmp2;
        var o0 = tmp10 + tmp11;
        var o4 = tmp10 - tmp11;
        var z1 = (tmp12 + tmp13) * Vector256.Create(0.707106781f);
        var o2 = tmp13 + z1;
        var o6 = tmp13 - z1;

        tmp10 = tmp4 + tmp5;
        tmp11 = tmp5 + tmp6;
        tmp12 = tmp6 + tmp7;
        var z5 = (tmp10 - tmp12) * Vector256.Create(0.382683433f);
        var z2 = (Vector256.Create(0.541196100f) * tmp10) + z5;
        var z4 = (Vector256.Create(1.306562965f) * tmp12) + z5;
        var z3 = tmp11 * Vector256.Create(0.707106781f);
        var z11 = tmp7 + z3;
        var z13 = tmp7 - z3;
        return (o0, z11 + z4, o2, z13 - z2, o4, z13 + z2, o6, z11 - z4);
    }

    /// <summary>The same butterflies on 16 lanes (two blocks side by side).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>) Dct8(
        Vector512<float> d0, Vector512<float> d1, Vector512<float> d2, Vector512<float> d3,
        Vector512<float> d4, Vector512<float> d5, Vector512<float> d6, Vector512<float> d7)
    {
        var tmp0 = d0 + d7;
        var tmp7 = d0 - d7;
        var tmp1 = d1 + d6;
        var tmp6 = d1 - d6;
        var tmp2 = d2 + d5;
        var tmp5 = d2 - d5;
        var tmp3 = d3 + d4;
        var tmp4 = d3 - d4;

        var tmp10 = tmp0 + tmp3;
        var tmp13 = tmp0 - tmp3;
        var tmp11 = tmp1 + tmp2;
        var tmp12 = tmp1 - tmp2;
        var o0 = tmp10 + tmp11;
        var o4 = tmp10 - tmp11;
        var z1 = (tmp12 + tmp13) * Vector512.Create(0.707106781f);
        var o2 = tmp13 + z1;
        var o6 = tmp13 - z1;

        tmp10 = tmp4 + tmp5;
        tmp11 = tmp5 + tmp6;
        tmp12 = tmp6 + tmp7;
        var z5 = (tmp10 - tmp12) * Vector512.Create(0.382683433f);
        var z2 = (Vector512.Create(0.541196100f) * tmp10) + z5;
        var z4 = (Vector512.Create(1.306562965f) * tmp12) + z5;
        var z3 = tmp11 * Vector512.Create(0.707106781f);
        var z11 = tmp7 + z3;
        var z13 = tmp7 - z3;
        return (o0, z11 + z4, o2, z13 - z2, o4, z13 + z2, o6, z11 - z4);
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

    /// <summary>
    /// The component planes of an image and the order in which their blocks are coded. Gray images are read from the
    /// rendered pixels (edges replicated); colour ones go through Y, Cb, Cr planes padded to whole MCUs.
    /// </summary>
    private sealed class Planes
    {
        private Planes(int count, int mcuColumns, int mcuRows)
        {
            Count = count;
            H = new int[count];
            V = new int[count];
            Data = new float[count][];
            Widths = new int[count];
            McuColumns = mcuColumns;
            McuRows = mcuRows;
        }

        public int Count { get; }

        public int[] H { get; }

        public int[] V { get; }

        /// <summary>Level-shifted samples (value - 128) of each colour component; null for a gray image.</summary>
        public float[]?[] Data { get; }

        public int[] Widths { get; }

        public RenderedImage? Gray { get; private set; }

        public int McuColumns { get; }

        public int McuRows { get; }

        public int BlocksPerMcu { get; private set; }

        public static Planes FromGray(RenderedImage image)
        {
            var planes = new Planes(1, (image.Width + 7) / 8, (image.Height + 7) / 8) { Gray = image };
            planes.H[0] = planes.V[0] = 1;
            planes.Complete();
            return planes;
        }

        /// <summary>Y, Cb, Cr planes (JFIF conversion), level-shifted, chroma averaged over <paramref name="factor"/>² pixels.</summary>
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
            var pixels = image.Pixels;
            for (var row = 0; row < height; row++)
            {
                var sourceRow = Math.Min(row, image.Height - 1) * image.Width * 3;
                var i = row * width;
                for (var column = 0; column < width; column++, i++)
                {
                    var p = sourceRow + (Math.Min(column, image.Width - 1) * 3);
                    int r = pixels[p], g = pixels[p + 1], b = pixels[p + 2];

                    // JFIF's samples are 8-bit integers: the conversion in 16-bit fixed point, rounded (Y half up, Cb and
                    // Cr half down, as libjpeg does). Kept fractional, ties such as Cb = -0.5 of RGB (1, 1, 0) decode a
                    // level off far more often.
                    y[i] = (((19595 * r) + (38470 * g) + (7471 * b) + 32768) >> 16) - 128;
                    cb[i] = ((-11059 * r) - (21709 * g) + (32768 * b) + 32767) >> 16;
                    cr[i] = ((32768 * r) - (27439 * g) - (5329 * b) + 32767) >> 16;
                }
            }

            planes.Data[0] = y;
            planes.Widths[0] = width;
            planes.Data[1] = Downsample(cb, width, height, factor);
            planes.Data[2] = Downsample(cr, width, height, factor);
            planes.Widths[1] = planes.Widths[2] = width / factor;
            planes.Complete();
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

        /// <summary>Component, top and left sample of every block in coding order (interleaved MCUs, T.81 A.2.3).</summary>
        public (byte[] Components, int[] Tops, int[] Lefts) BlockOrder()
        {
            var count = checked(McuRows * McuColumns * BlocksPerMcu);
            var components = new byte[count];
            var tops = new int[count];
            var lefts = new int[count];
            var next = 0;
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
                                components[next] = (byte)c;
                                tops[next] = ((mcuRow * V[c]) + v) * 8;
                                lefts[next] = ((mcuColumn * H[c]) + h) * 8;
                                next++;
                            }
                        }
                    }
                }
            }

            return (components, tops, lefts);
        }

        /// <summary>The level-shifted samples of the 8x8 block of component <paramref name="c"/> at (<paramref name="left"/>, <paramref name="top"/>).</summary>
        public void Load(int c, int top, int left, Span<float> samples)
        {
            if (Gray is { } gray)
            {
                LoadGray(gray, top, left, samples);
                return;
            }

            var plane = Data[c]!;
            var width = Widths[c];
            for (var y = 0; y < 8; y++)
            {
                plane.AsSpan(((top + y) * width) + left, 8).CopyTo(samples.Slice(y * 8, 8));
            }
        }

        /// <summary>The 8x8 block at (<paramref name="left"/>, <paramref name="top"/>) of a gray image, level-shifted, edges replicated.</summary>
        private static void LoadGray(RenderedImage image, int top, int left, Span<float> samples)
        {
            var pixels = image.Pixels;
            var width = image.Width;
            if (left + 8 <= width && top + 8 <= image.Height)
            {
                if (Avx2.IsSupported)
                {
                    ref var source = ref MemoryMarshal.GetArrayDataReference(pixels);
                    ref var target = ref MemoryMarshal.GetReference(samples);
                    var shift = Vector256.Create(128f);
                    for (var y = 0; y < 8; y++)
                    {
                        var eight = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref source, ((top + y) * width) + left));
                        var values = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Vector128.CreateScalarUnsafe(eight).AsByte()));
                        (values - shift).StoreUnsafe(ref target, (nuint)(y * 8));
                    }

                    return;
                }

                for (var y = 0; y < 8; y++)
                {
                    var row = pixels.AsSpan(((top + y) * width) + left, 8);
                    var target = samples.Slice(y * 8, 8);
                    for (var x = 0; x < 8; x++)
                    {
                        target[x] = row[x] - 128;
                    }
                }

                return;
            }

            for (var y = 0; y < 8; y++)
            {
                var row = Math.Min(top + y, image.Height - 1) * width;
                for (var x = 0; x < 8; x++)
                {
                    samples[(y * 8) + x] = pixels[row + Math.Min(left + x, width - 1)] - 128;
                }
            }
        }

        private void Complete()
        {
            for (var c = 0; c < Count; c++)
            {
                BlocksPerMcu += H[c] * V[c];
            }
        }
    }

    /// <summary>
    /// Component, top and left sample of every block in coding order: a gray image's blocks row by row (computed), a
    /// colour image's as <see cref="Planes.BlockOrder"/> lists them (interleaved MCUs).
    /// </summary>
    private sealed class BlockOrder
    {
        private readonly byte[]? components;
        private readonly int[]? tops;
        private readonly int[]? lefts;
        private readonly int columns;

        public BlockOrder(Planes planes)
        {
            if (planes.Gray is null)
            {
                (components, tops, lefts) = planes.BlockOrder();
                Count = components.Length;
            }
            else
            {
                columns = planes.McuColumns;
                Count = checked(planes.McuColumns * planes.McuRows);
            }
        }

        public int Count { get; }

        public (int Component, int Top, int Left) this[int block] => components is null
            ? (0, block / columns * 8, block % columns * 8)
            : (components[block], tops![block], lefts![block]);

        public int ComponentOf(int block) => components is null ? 0 : components[block];

        /// <summary>The components of <paramref name="count"/> blocks from <paramref name="first"/>; empty for a gray image (all 0).</summary>
        public ReadOnlySpan<byte> ComponentsOf(int first, int count) => components is null ? default : components.AsSpan(first, count);
    }

    /// <summary>A Huffman table built for symbol frequencies (T.81 Annex K.2) and its codes (Annex C).</summary>
    private sealed class HuffmanTable
    {
        private readonly byte[] bits = new byte[17];
        private readonly List<byte> values = [];

        /// <summary>Bit of <see cref="Codes"/> where the length starts.</summary>
        public const int LengthShift = 27;

        /// <summary>The code bits of a <see cref="Codes"/> entry.</summary>
        public const uint CodeMask = (1u << LengthShift) - 1;

        /// <summary>
        /// Per symbol: its code shifted left over the additional bits that follow it (the symbol's low 4 bits give their
        /// number, for DC categories and AC run/size symbols alike), and above <see cref="LengthShift"/> the length of
        /// both together; 0 for symbols that never occur.
        /// </summary>
        public uint[] Codes { get; } = new uint[256];

        /// <summary>T.81 Table K.3: typical luminance DC differences.</summary>
        public static HuffmanTable TypicalLuminanceDc { get; } = FromSpecification(
            [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B]);

        /// <summary>T.81 Table K.4: typical chrominance DC differences.</summary>
        public static HuffmanTable TypicalChrominanceDc { get; } = FromSpecification(
            [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B]);

        /// <summary>T.81 Table K.5: typical luminance AC coefficients.</summary>
        public static HuffmanTable TypicalLuminanceAc { get; } = FromSpecification(
            [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125],
            [
                0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
                0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1, 0xF0,
                0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27, 0x28,
                0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
                0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
                0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
                0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5,
                0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2,
                0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
                0xF9, 0xFA,
            ]);

        /// <summary>T.81 Table K.6: typical chrominance AC coefficients.</summary>
        public static HuffmanTable TypicalChrominanceAc { get; } = FromSpecification(
            [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 119],
            [
                0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
                0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33, 0x52, 0xF0,
                0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25, 0xF1, 0x17, 0x18, 0x19, 0x1A, 0x26,
                0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
                0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
                0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
                0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5,
                0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3,
                0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA,
                0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
                0xF9, 0xFA,
            ]);

        /// <summary>
        /// K.2: repeatedly join the two least frequent, recording code sizes (Figure K.1), count codes per size
        /// (Figure K.2), limit sizes to 16 (Figure K.3), sort symbols by size (Figure K.4). Symbol 256 reserves the all-ones code.
        /// </summary>
        public static HuffmanTable Optimal(ReadOnlySpan<int> frequencies)
        {
            var freq = new long[257];
            for (var i = 0; i < 256; i++)
            {
                freq[i] = frequencies[i];
            }

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

        /// <summary>A table as BITS (code counts of lengths 1..16) and HUFFVAL (symbols in code order) give it (T.81 C).</summary>
        private static HuffmanTable FromSpecification(ReadOnlySpan<byte> counts, ReadOnlySpan<byte> symbols)
        {
            var table = new HuffmanTable();
            counts.CopyTo(table.bits.AsSpan(1));
            table.values.AddRange(symbols);
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
                    var valueBits = symbol & 15;
                    Codes[symbol] = (uint)(((size + valueBits) << LengthShift) | (code << valueBits));
                    code++;
                }

                code <<= 1;
            }
        }
    }

    /// <summary>
    /// The Huffman coding of quantized blocks (T.81 F.1.2) into the entropy-coded segment. Each symbol's code and the
    /// value's additional bits go into a 64-bit buffer in one shift and or (<see cref="HuffmanTable.Codes"/> holds the
    /// code already shifted over the value bits), and after each symbol the buffer's whole bytes are stored with one
    /// unconditional 8-byte store: no branch on the bit count in the loop. The bytes collect in a pooled 64 KiB buffer;
    /// each 0xFF gets its stuffed 0x00 (B.1.1.5) when the buffer is written out (a vectorised search: 0xFF bytes are rare).
    /// Padded with ones at the end.
    /// </summary>
    private sealed class EntropyCoder(Stream stream) : IDisposable
    {
        private const int Capacity = 1 << 16;

        /// <summary>Room for the worst case of one block (64 codes of at most 16 + 11 bits) and an 8-byte store.</summary>
        private const int BlockReserve = 256;

        private readonly byte[] output = ArrayPool<byte>.Shared.Rent(Capacity);
        private readonly byte[] stuffed = ArrayPool<byte>.Shared.Rent(2 * Capacity);
        private readonly int[] predictions = new int[4];
        private int length;
        private ulong buffer;
        private int count;

        /// <summary>
        /// Codes <paramref name="blockCount"/> blocks, block b of component <paramref name="components"/>[b] (all 0 when
        /// empty) with that component's tables (<paramref name="dcTables"/>/<paramref name="acTables"/> indexed by component).
        /// </summary>
        public void EncodeBlocks(
            ReadOnlySpan<short> blocks, ReadOnlySpan<ulong> masks, int blockCount, ReadOnlySpan<byte> components,
            ReadOnlySpan<HuffmanTable> dcTables, ReadOnlySpan<HuffmanTable> acTables)
        {
            if (components.IsEmpty)
            {
                EncodeBlocks(blocks[..(blockCount * 64)], masks[..blockCount], 0, dcTables[0], acTables[0]);
                return;
            }

            // Runs of blocks of one component (a colour MCU: the luminance blocks, then each chrominance block).
            for (var first = 0; first < blockCount;)
            {
                var c = components[first];
                var end = first + 1;
                while (end < blockCount && components[end] == c)
                {
                    end++;
                }

                EncodeBlocks(blocks[(first * 64)..(end * 64)], masks[first..end], c, dcTables[c], acTables[c]);
                first = end;
            }
        }

        /// <summary>
        /// Codes blocks (64 coefficients each in zig-zag order; <paramref name="masks"/>: the non-zero ones, one per block)
        /// of one component with its tables.
        /// </summary>
        public void EncodeBlocks(ReadOnlySpan<short> blocks, ReadOnlySpan<ulong> masks, int component, HuffmanTable dcTable, HuffmanTable acTable)
        {
            if (blocks.Length < masks.Length * 64)
            {
                throw new ArgumentException("Fewer blocks than masks.", nameof(blocks));
            }

            // Locals only (no address taken, no call in the loop), so that they stay in registers.
            var buffer = this.buffer;
            var count = this.count;
            var prediction = predictions[component];
            ref var start = ref MemoryMarshal.GetArrayDataReference(output);
            ref var limit = ref Unsafe.Add(ref start, Capacity - BlockReserve);
            ref var cursor = ref Unsafe.Add(ref start, length);
            ref var coefficients = ref MemoryMarshal.GetReference(blocks);
            ref var dcCodes = ref MemoryMarshal.GetArrayDataReference(dcTable.Codes);
            ref var acCodes = ref MemoryMarshal.GetArrayDataReference(acTable.Codes);
            Span<byte> categories = stackalloc byte[64];
            ref var category = ref MemoryMarshal.GetReference(categories);
            foreach (var nonZero in masks)
            {
                if (VectorCategories)
                {
                    Categories(ref coefficients, ref category);
                }

                if (Unsafe.IsAddressGreaterThan(ref cursor, ref limit))
                {
                    WriteOut((int)Unsafe.ByteOffset(ref start, ref cursor));
                    cursor = ref start;
                }

                // DC difference: its category's code, then the value's bits. Flushed every second symbol: at most 7
                // bits are left after a flush, and a symbol is at most 16 + 11 bits, so two fit in the 64-bit buffer.
                int dc = coefficients;
                var difference = dc - prediction;
                prediction = dc;
                var size = Category(difference);
                Put(ref buffer, ref count, Unsafe.Add(ref dcCodes, size), ValueBits(difference, size));

                // AC: (zero run, category) codes for the non-zero coefficients, 16-zero runs, end of block.
                var mask = nonZero & ~1UL;
                var last = 0;
                while (mask != 0)
                {
                    // One symbol pending: this one makes two.
                    var k = BitOperations.TrailingZeroCount(mask);
                    mask &= mask - 1;
                    var run = k - last - 1;
                    last = k;
                    if (run > 15)
                    {
                        cursor = ref PutZeroRuns(ref cursor, ref buffer, ref count, ref acCodes, ref run);
                    }

                    int value = Unsafe.Add(ref coefficients, k);
                    size = VectorCategories ? Unsafe.Add(ref category, k) : Category(value);
                    Put(ref buffer, ref count, Unsafe.Add(ref acCodes, (run << 4) | size), ValueBits(value, size));
                    cursor = ref Flush(ref cursor, buffer, ref count);
                    if (mask == 0)
                    {
                        break;
                    }

                    // None pending: this one makes one.
                    k = BitOperations.TrailingZeroCount(mask);
                    mask &= mask - 1;
                    run = k - last - 1;
                    last = k;
                    if (run > 15)
                    {
                        cursor = ref PutZeroRuns(ref cursor, ref buffer, ref count, ref acCodes, ref run);
                    }

                    value = Unsafe.Add(ref coefficients, k);
                    size = VectorCategories ? Unsafe.Add(ref category, k) : Category(value);
                    Put(ref buffer, ref count, Unsafe.Add(ref acCodes, (run << 4) | size), ValueBits(value, size));
                }

                // At most one symbol pending: the end of block (at most 16 bits) still fits.
                if (last != 63)
                {
                    Put(ref buffer, ref count, acCodes, 0);
                }

                cursor = ref Flush(ref cursor, buffer, ref count);
                coefficients = ref Unsafe.Add(ref coefficients, 64);
            }

            length = (int)Unsafe.ByteOffset(ref start, ref cursor);
            predictions[component] = prediction;
            this.buffer = buffer;
            this.count = count;
        }

        /// <summary>Whether <see cref="Categories"/> runs (AVX-512 with its leading-zero count).</summary>
        private static bool VectorCategories => Vector512.IsHardwareAccelerated && Avx512CD.IsSupported && Avx512BW.IsSupported;

        /// <summary>The magnitude categories (<see cref="Category"/>) of a block's 64 coefficients, 32-bit lanes at a time.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Categories(ref short coefficients, ref byte categories)
        {
            for (var i = 0; i < 64; i += 32)
            {
                var (low, high) = Vector512.Widen(Vector512.Abs(Vector512.LoadUnsafe(ref coefficients, (nuint)i)).AsUInt16());
                Avx512F.ConvertToVector128Byte(Vector512.Create(32u) - Avx512CD.LeadingZeroCount(low)).StoreUnsafe(ref categories, (nuint)i);
                Avx512F.ConvertToVector128Byte(Vector512.Create(32u) - Avx512CD.LeadingZeroCount(high)).StoreUnsafe(ref categories, (nuint)(i + 16));
            }
        }

        /// <summary>
        /// The 16-zero-run codes (ZRL) before a coefficient after <paramref name="run"/> &gt; 15 zeros, each flushed (so the
        /// buffer holds at most 7 bits after); leaves the remaining run (under 16).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static ref byte PutZeroRuns(ref byte cursor, scoped ref ulong buffer, scoped ref int count, scoped ref uint acCodes, scoped ref int run)
        {
            cursor = ref Flush(ref cursor, buffer, ref count);
            while (run > 15)
            {
                Put(ref buffer, ref count, Unsafe.Add(ref acCodes, 0xF0), 0);
                cursor = ref Flush(ref cursor, buffer, ref count);
                run -= 16;
            }

            return ref cursor;
        }

        /// <summary>Pads the last byte with ones and writes out what is buffered.</summary>
        public void Finish()
        {
            if ((count & 7) != 0)
            {
                var pad = 8 - (count & 7);
                buffer = (buffer << pad) | ((1u << pad) - 1);
                count += pad;
            }

            if (count > 0)
            {
                ref var start = ref MemoryMarshal.GetArrayDataReference(output);
                length = (int)Unsafe.ByteOffset(ref start, ref Flush(ref Unsafe.Add(ref start, length), buffer, ref count));
            }

            WriteOut(length);
            length = 0;
        }

        public void Dispose()
        {
            ArrayPool<byte>.Shared.Return(output);
            ArrayPool<byte>.Shared.Return(stuffed);
        }

        /// <summary>Appends a code (<see cref="HuffmanTable.Codes"/> entry) and its value bits to the right of the buffer.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(ref ulong buffer, ref int count, uint code, uint valueBits)
        {
            var bits = (int)(code >> HuffmanTable.LengthShift);
            buffer = (buffer << bits) | (code & HuffmanTable.CodeMask) | valueBits;
            count += bits;
        }

        /// <summary>
        /// Stores the whole bytes of the buffer's <paramref name="count"/> bits (1..64) at <paramref name="cursor"/> and
        /// keeps the rest; returns the new cursor. One 8-byte big-endian store: the bytes past the whole ones are
        /// overwritten later.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static ref byte Flush(ref byte cursor, ulong buffer, scoped ref int count)
        {
            var word = buffer << (64 - count);
            Unsafe.WriteUnaligned(ref cursor, BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(word) : word);
            var bytes = count >> 3;
            count &= 7;
            return ref Unsafe.Add(ref cursor, bytes);
        }

        /// <summary>Writes the first <paramref name="length"/> coded bytes to the stream, a 0x00 after each 0xFF.</summary>
        private void WriteOut(int length)
        {
            var source = output.AsSpan(0, length);
            var written = 0;
            while (true)
            {
                var next = source.IndexOf((byte)0xFF);
                if (next < 0 && written == 0)
                {
                    stream.Write(output, 0, length);
                    return;
                }

                if (next < 0)
                {
                    source.CopyTo(stuffed.AsSpan(written));
                    written += source.Length;
                    break;
                }

                source[..(next + 1)].CopyTo(stuffed.AsSpan(written));
                written += next + 1;
                stuffed[written++] = 0;
                source = source[(next + 1)..];
            }

            stream.Write(stuffed, 0, written);
        }
    }
}
