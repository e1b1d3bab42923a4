using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Hounsfield.Imaging.Rendering;

namespace Hounsfield.Imaging.Encoders;

/// <summary>The sample layouts <see cref="PngEncoder"/> writes (RFC 2083 §4.1.1 colour types 0 and 2).</summary>
public enum PngPixelFormat
{
    /// <summary>Colour type 0, bit depth 8: one byte per pixel.</summary>
    Gray8,

    /// <summary>Colour type 2, bit depth 8: R, G, B bytes per pixel.</summary>
    Rgb8,

    /// <summary>Colour type 0, bit depth 16: one 16-bit sample per pixel, given little-endian (written big-endian as PNG requires).</summary>
    Gray16,
}

/// <summary>
/// Writes PNG images (RFC 2083): signature, IHDR, IDAT chunks of the zlib stream (System.IO.Compression) of the
/// filtered scanlines, IEND. Each row takes the filter (§6: None, Sub, Up, Average, Paeth) whose output has the smallest
/// sum of absolute values (§9.6, as libpng), non-interlaced. The five filters and their sums are computed together,
/// 16 bytes at a time; the filtered rows are compressed in blocks of about 64 KiB.
/// </summary>
/// <remarks>
/// Levels map to zlib settings: <see cref="CompressionLevel.Fastest"/> (the default) is level 1 with the run-length
/// strategy (Z_RLE: matches at distance 1 only, dynamic Huffman codes), which on filtered scanlines of rendered CT, MR and
/// CR frames (bench/imaging) is as fast as plain level 1 and smaller than level 6; <see cref="CompressionLevel.Optimal"/>
/// is level 6, <see cref="CompressionLevel.SmallestSize"/> level 9 (both with the default strategy: better on synthetic
/// images with long repeats), <see cref="CompressionLevel.NoCompression"/> stored blocks.
/// </remarks>
public static class PngEncoder
{
    private const int BlockSize = 1 << 16;

    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Encodes a rendered image (gray or RGB) to a new byte array.</summary>
    public static byte[] Encode(RenderedImage image, CompressionLevel level = CompressionLevel.Fastest)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var memory = new MemoryStream((image.Length / 2) + 1024);
        Encode(memory, image, level);
        return memory.ToArray();
    }

    public static void Encode(Stream stream, RenderedImage image, CompressionLevel level = CompressionLevel.Fastest)
    {
        ArgumentNullException.ThrowIfNull(image);
        Encode(stream, image.Width, image.Height, image.IsColor ? PngPixelFormat.Rgb8 : PngPixelFormat.Gray8, image.Pixels, level);
    }

    /// <summary>Writes <paramref name="samples"/> (row-major, <paramref name="format"/> layout, Gray16 little-endian) as a PNG to <paramref name="stream"/>.</summary>
    public static void Encode(Stream stream, int width, int height, PngPixelFormat format, ReadOnlySpan<byte> samples, CompressionLevel level = CompressionLevel.Fastest) =>
        Encode(stream, width, height, format, samples, DeflateOptions(level));

    /// <summary>The zlib settings of a level: see the remarks of <see cref="PngEncoder"/>.</summary>
    internal static ZLibCompressionOptions DeflateOptions(CompressionLevel level) => level switch
    {
        CompressionLevel.NoCompression => new ZLibCompressionOptions { CompressionLevel = 0 },
        CompressionLevel.Optimal => new ZLibCompressionOptions { CompressionLevel = 6 },
        CompressionLevel.SmallestSize => new ZLibCompressionOptions { CompressionLevel = 9 },
        _ => new ZLibCompressionOptions { CompressionLevel = 1, CompressionStrategy = ZLibCompressionStrategy.RunLengthEncoding },
    };

    internal static void Encode(Stream stream, int width, int height, PngPixelFormat format, ReadOnlySpan<byte> samples, ZLibCompressionOptions deflate)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        var bytesPerPixel = format switch { PngPixelFormat.Rgb8 => 3, PngPixelFormat.Gray16 => 2, _ => 1 };
        var rowLength = width * bytesPerPixel;
        if (samples.Length < (long)rowLength * height)
        {
            throw new ArgumentException($"A {width}x{height} {format} image needs {(long)rowLength * height} bytes; {samples.Length} given.", nameof(samples));
        }

        stream.Write(Signature);
        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        header[8] = (byte)(format == PngPixelFormat.Gray16 ? 16 : 8);
        header[9] = (byte)(format == PngPixelFormat.Rgb8 ? 2 : 0);
        header[10] = 0; // compression method 0 (deflate)
        header[11] = 0; // filter method 0 (adaptive, five filter types)
        header[12] = 0; // no interlace
        WriteChunk(stream, "IHDR"u8, header);

        // Rows are kept with bytesPerPixel zero bytes in front (the "a" and "c" of the first pixel); candidates holds the
        // filtered rows (Sub, Up, Average, Paeth at 1..4 × padded).
        var padded = bytesPerPixel + rowLength;
        var filteredLength = rowLength + 1;
        var blockRows = Math.Max(1, BlockSize / filteredLength);
        var scratch = ArrayPool<byte>.Shared.Rent((2 * padded) + (5 * padded));
        var block = ArrayPool<byte>.Shared.Rent(blockRows * filteredLength);
        try
        {
            scratch.AsSpan(0, 2 * padded).Clear();
            var previous = scratch.AsSpan(0, padded);
            var current = scratch.AsSpan(padded, padded);
            var candidates = scratch.AsSpan(2 * padded, 5 * padded);
            using var idat = new ChunkStream(stream, "IDAT"u8);
            using (var zlib = new ZLibStream(idat, deflate, leaveOpen: true))
            {
                var filled = 0;
                for (var y = 0; y < height; y++)
                {
                    var row = samples.Slice(y * rowLength, rowLength);
                    var raw = current.Slice(bytesPerPixel, rowLength);
                    if (format == PngPixelFormat.Gray16)
                    {
                        // Swapping the two bytes of each sample, whatever the machine's order.
                        BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ushort>(row), MemoryMarshal.Cast<byte, ushort>(raw));
                    }
                    else
                    {
                        row.CopyTo(raw);
                    }

                    var target = block.AsSpan(filled * filteredLength, filteredLength);
                    var best = FilterRow(current, previous, bytesPerPixel, rowLength, padded, candidates);
                    target[0] = (byte)best;
                    (best == 0 ? raw : candidates.Slice(best * padded, rowLength)).CopyTo(target[1..]);
                    if (++filled == blockRows)
                    {
                        zlib.Write(block, 0, filled * filteredLength);
                        filled = 0;
                    }

                    var swap = previous;
                    previous = current;
                    current = swap;
                }

                if (filled > 0)
                {
                    zlib.Write(block, 0, filled * filteredLength);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(block);
            ArrayPool<byte>.Shared.Return(scratch);
        }

        WriteChunk(stream, "IEND"u8, []);
    }

    /// <summary>
    /// Fills candidates 1..4 (Sub, Up, Average, Paeth; each <paramref name="stride"/> apart) with the filtered versions of
    /// the row at <paramref name="current"/>[bpp..] (the previous row likewise at <paramref name="previous"/>[bpp..]) and
    /// returns the filter type, 0..4, whose output has the least sum of absolute values as signed bytes (ties: the lowest type).
    /// </summary>
    internal static int FilterRow(ReadOnlySpan<byte> current, ReadOnlySpan<byte> previous, int bpp, int length, int stride, Span<byte> candidates)
    {
        long sumNone = 0, sumSub = 0, sumUp = 0, sumAverage = 0, sumPaeth = 0;
        var i = 0;
        if (Vector128.IsHardwareAccelerated && length >= Vector128<byte>.Count)
        {
            ref var cur = ref MemoryMarshal.GetReference(current);
            ref var prev = ref MemoryMarshal.GetReference(previous);
            ref var outputs = ref MemoryMarshal.GetReference(candidates);
            var accNone = Vector128<ushort>.Zero;
            var accSub = Vector128<ushort>.Zero;
            var accUp = Vector128<ushort>.Zero;
            var accAverage = Vector128<ushort>.Zero;
            var accPaeth = Vector128<ushort>.Zero;
            var pending = 0;
            for (; i + Vector128<byte>.Count <= length; i += Vector128<byte>.Count)
            {
                var x = Vector128.LoadUnsafe(ref cur, (nuint)(i + bpp));
                var a = Vector128.LoadUnsafe(ref cur, (nuint)i);
                var b = Vector128.LoadUnsafe(ref prev, (nuint)(i + bpp));
                var c = Vector128.LoadUnsafe(ref prev, (nuint)i);

                var sub = x - a;
                var up = x - b;

                // floor((a + b) / 2) without overflow: (a & b) + ((a ^ b) >> 1).
                var average = x - ((a & b) + Vector128.ShiftRightLogical(a ^ b, 1));
                var paeth = x - Paeth(a, b, c);

                sub.StoreUnsafe(ref outputs, (nuint)(stride + i));
                up.StoreUnsafe(ref outputs, (nuint)((2 * stride) + i));
                average.StoreUnsafe(ref outputs, (nuint)((3 * stride) + i));
                paeth.StoreUnsafe(ref outputs, (nuint)((4 * stride) + i));

                accNone += AbsoluteSum(x);
                accSub += AbsoluteSum(sub);
                accUp += AbsoluteSum(up);
                accAverage += AbsoluteSum(average);
                accPaeth += AbsoluteSum(paeth);

                // Each lane grows by at most 256 per step: move the sums out before they can pass 65535.
                if (++pending == 250 || i + (2 * Vector128<byte>.Count) > length)
                {
                    sumNone += Sum(accNone);
                    sumSub += Sum(accSub);
                    sumUp += Sum(accUp);
                    sumAverage += Sum(accAverage);
                    sumPaeth += Sum(accPaeth);
                    accNone = accSub = accUp = accAverage = accPaeth = Vector128<ushort>.Zero;
                    pending = 0;
                }
            }
        }

        for (; i < length; i++)
        {
            int x = current[bpp + i];
            int a = current[i];
            int b = previous[bpp + i];
            int c = previous[i];
            var s = (byte)(x - a);
            var u = (byte)(x - b);
            var v = (byte)(x - ((a + b) >> 1));
            var p = (byte)(x - Paeth(a, b, c));
            candidates[stride + i] = s;
            candidates[(2 * stride) + i] = u;
            candidates[(3 * stride) + i] = v;
            candidates[(4 * stride) + i] = p;
            sumNone += Math.Abs((int)(sbyte)x);
            sumSub += Math.Abs((int)(sbyte)s);
            sumUp += Math.Abs((int)(sbyte)u);
            sumAverage += Math.Abs((int)(sbyte)v);
            sumPaeth += Math.Abs((int)(sbyte)p);
        }

        var best = 0;
        var bestSum = sumNone;
        Span<long> sums = [sumNone, sumSub, sumUp, sumAverage, sumPaeth];
        for (var f = 1; f < 5; f++)
        {
            if (sums[f] < bestSum)
            {
                best = f;
                bestSum = sums[f];
            }
        }

        return best;
    }

    /// <summary>|v| of the 16 bytes taken as signed, summed pairwise into 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ushort> AbsoluteSum(Vector128<byte> v)
    {
        var magnitude = Vector128.Abs(v.AsSByte()).AsByte(); // -128 stays 0x80 = 128 as a byte
        var (low, high) = Vector128.Widen(magnitude);
        return low + high;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Sum(Vector128<ushort> v)
    {
        var (low, high) = Vector128.Widen(v);
        return Vector128.Sum(low + high);
    }

    /// <summary>The Paeth predictor of 16 byte lanes, computed in 16 bits (RFC 2083 §6.6).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Paeth(Vector128<byte> a, Vector128<byte> b, Vector128<byte> c)
    {
        var (aLow, aHigh) = Vector128.Widen(a);
        var (bLow, bHigh) = Vector128.Widen(b);
        var (cLow, cHigh) = Vector128.Widen(c);
        return Vector128.Narrow(
            Paeth(aLow.AsInt16(), bLow.AsInt16(), cLow.AsInt16()).AsUInt16(),
            Paeth(aHigh.AsInt16(), bHigh.AsInt16(), cHigh.AsInt16()).AsUInt16());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<short> Paeth(Vector128<short> a, Vector128<short> b, Vector128<short> c)
    {
        // p = a + b - c; pa = |p - a| = |b - c|; pb = |p - b| = |a - c|; pc = |p - c| = |(b - c) + (a - c)|.
        var bc = b - c;
        var ac = a - c;
        var pa = Vector128.Abs(bc);
        var pb = Vector128.Abs(ac);
        var pc = Vector128.Abs(bc + ac);
        var useA = Vector128.LessThanOrEqual(pa, pb) & Vector128.LessThanOrEqual(pa, pc);
        var useB = Vector128.LessThanOrEqual(pb, pc);
        return Vector128.ConditionalSelect(useA, a, Vector128.ConditionalSelect(useB, b, c));
    }

    /// <summary>The Paeth predictor (RFC 2083 §6.6).</summary>
    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        var pa = Math.Abs(p - a);
        var pb = Math.Abs(p - b);
        var pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static void WriteChunk(Stream stream, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        stream.Write(word);
        stream.Write(type);
        stream.Write(data);
        var crc = Crc32.Append(Crc32.Compute(type), data);
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        stream.Write(word);
    }

    /// <summary>A write-only stream that cuts what is written into chunks of one type (at most 64 KiB of data each).</summary>
    private sealed class ChunkStream(Stream output, ReadOnlySpan<byte> type) : Stream
    {
        private const int ChunkSize = 65536;
        private readonly byte[] chunkType = type.ToArray();
        private readonly byte[] buffer = new byte[ChunkSize];
        private int count;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty)
            {
                var n = Math.Min(data.Length, ChunkSize - count);
                data[..n].CopyTo(buffer.AsSpan(count));
                count += n;
                data = data[n..];
                if (count == ChunkSize)
                {
                    Flush();
                }
            }
        }

        public override void Write(byte[] data, int offset, int length) => Write(data.AsSpan(offset, length));

        public override void Flush()
        {
            if (count > 0)
            {
                WriteChunk(output, chunkType, buffer.AsSpan(0, count));
                count = 0;
            }
        }

        public override int Read(byte[] data, int offset, int length) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Flush();
            }

            base.Dispose(disposing);
        }
    }
}
