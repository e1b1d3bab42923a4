using System.Buffers.Binary;
using System.IO.Compression;
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
/// sum of absolute values (§9.6), non-interlaced.
/// </summary>
public static class PngEncoder
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Encodes a rendered image (gray or RGB) to a new byte array.</summary>
    public static byte[] Encode(RenderedImage image, CompressionLevel level = CompressionLevel.Fastest)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var memory = new MemoryStream();
        Encode(memory, image, level);
        return memory.ToArray();
    }

    public static void Encode(Stream stream, RenderedImage image, CompressionLevel level = CompressionLevel.Fastest)
    {
        ArgumentNullException.ThrowIfNull(image);
        Encode(stream, image.Width, image.Height, image.IsColor ? PngPixelFormat.Rgb8 : PngPixelFormat.Gray8, image.Pixels, level);
    }

    /// <summary>Writes <paramref name="samples"/> (row-major, <paramref name="format"/> layout, Gray16 little-endian) as a PNG to <paramref name="stream"/>.</summary>
    public static void Encode(Stream stream, int width, int height, PngPixelFormat format, ReadOnlySpan<byte> samples, CompressionLevel level = CompressionLevel.Fastest)
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

        using (var idat = new ChunkStream(stream, "IDAT"u8))
        {
            using var zlib = new ZLibStream(idat, level, leaveOpen: true);
            var previous = new byte[rowLength];
            var current = new byte[rowLength];
            var candidates = new byte[5][];
            for (var f = 0; f < 5; f++)
            {
                candidates[f] = new byte[rowLength + 1];
                candidates[f][0] = (byte)f;
            }

            for (var y = 0; y < height; y++)
            {
                var row = samples.Slice(y * rowLength, rowLength);
                if (format == PngPixelFormat.Gray16)
                {
                    for (var i = 0; i < rowLength; i += 2)
                    {
                        current[i] = row[i + 1];
                        current[i + 1] = row[i];
                    }
                }
                else
                {
                    row.CopyTo(current);
                }

                var best = Filter(current, previous, bytesPerPixel, candidates, y == 0);
                zlib.Write(candidates[best]);
                (previous, current) = (current, previous);
            }
        }

        WriteChunk(stream, "IEND"u8, []);
    }

    /// <summary>Fills the five filtered versions of <paramref name="row"/> and returns the one with the least absolute sum.</summary>
    private static int Filter(byte[] row, byte[] previous, int bpp, byte[][] candidates, bool firstRow)
    {
        var none = candidates[0].AsSpan(1);
        var sub = candidates[1].AsSpan(1);
        var up = candidates[2].AsSpan(1);
        var average = candidates[3].AsSpan(1);
        var paeth = candidates[4].AsSpan(1);
        row.CopyTo(none);
        long sumNone = 0, sumSub = 0, sumUp = 0, sumAverage = 0, sumPaeth = 0;
        for (var i = 0; i < row.Length; i++)
        {
            int x = row[i];
            var a = i >= bpp ? row[i - bpp] : 0;
            var b = firstRow ? 0 : previous[i];
            var c = i >= bpp && !firstRow ? previous[i - bpp] : 0;
            var s = (byte)(x - a);
            var u = (byte)(x - b);
            var v = (byte)(x - ((a + b) >> 1));
            var p = (byte)(x - Paeth(a, b, c));
            sub[i] = s;
            up[i] = u;
            average[i] = v;
            paeth[i] = p;
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
