// PNG, RFC 2083 (W3C PNG second edition): chunk layout §5, IHDR §11.2.2, PLTE §11.2.3, IDAT/zlib §10, filters §9.
using System.Buffers.Binary;
using System.IO.Compression;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Encoders;

namespace Hounsfield.Imaging.Decoders;

/// <summary>
/// A strict PNG reader: every chunk's CRC is checked, the critical chunks must come in order, and the zlib stream must hold
/// exactly the filtered scanlines the header announces (inflating stops there, so a small file cannot expand without
/// bound). Gray, gray + alpha, RGB and RGBA at 8 or 16 bits, gray at 1, 2 and 4 bits (scaled to 8) and palette images
/// (expanded to RGB); alpha and transparency are dropped. Interlaced (Adam7) images are refused.
/// </summary>
public static class PngDecoder
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Whether <paramref name="data"/> starts with the PNG signature.</summary>
    public static bool IsPng(ReadOnlySpan<byte> data) => data.StartsWith(Signature);

    /// <summary>Decodes a PNG file; throws <see cref="ImageCodecException"/> naming the problem when it is malformed, unsupported or too large.</summary>
    public static DecodedImage Decode(ReadOnlyMemory<byte> png, ImageDecodeLimits? limits = null)
    {
        limits ??= ImageDecodeLimits.Default;
        var data = png.Span;
        if (!IsPng(data))
        {
            throw new ImageCodecException("PNG: the data does not start with the PNG signature.");
        }

        Header? header = null;
        byte[]? palette = null;
        var idat = new List<ReadOnlyMemory<byte>>();
        var idatEnded = false;
        var position = Signature.Length;
        while (true)
        {
            if (data.Length - position < 12)
            {
                throw new ImageCodecException("PNG: the data ends before the IEND chunk.");
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(data[position..]);
            if (length > int.MaxValue || length > (uint)(data.Length - position - 12))
            {
                throw new ImageCodecException($"PNG: a chunk of {length} bytes at offset {position} runs past the end of the data.");
            }

            var type = data.Slice(position + 4, 4);
            var body = png.Slice(position + 8, (int)length);
            var crc = BinaryPrimitives.ReadUInt32BigEndian(data[(position + 8 + (int)length)..]);
            var name = ChunkName(type);
            if (Crc32.Compute(data.Slice(position + 4, (int)length + 4)) != crc)
            {
                throw new ImageCodecException($"PNG: the CRC of chunk {name} at offset {position} is wrong (corrupt data).");
            }

            position += 12 + (int)length;
            if (header is null && name != "IHDR")
            {
                throw new ImageCodecException($"PNG: the first chunk is {name}, not IHDR.");
            }

            if (idat.Count > 0 && name != "IDAT")
            {
                idatEnded = true;
            }

            switch (name)
            {
                case "IHDR":
                    if (header is not null)
                    {
                        throw new ImageCodecException("PNG: a second IHDR chunk.");
                    }

                    header = Header.Parse(body.Span, limits);
                    break;
                case "PLTE":
                    if (palette is not null || idat.Count > 0 || length % 3 != 0 || length is 0 or > 768 || header!.ColorType is 0 or 4)
                    {
                        throw new ImageCodecException($"PNG: misplaced or invalid PLTE chunk ({length} bytes, colour type {header!.ColorType}).");
                    }

                    palette = body.ToArray();
                    break;
                case "IDAT":
                    if (idatEnded)
                    {
                        throw new ImageCodecException("PNG: IDAT chunks are not consecutive.");
                    }

                    if (header!.ColorType == 3 && palette is null)
                    {
                        throw new ImageCodecException("PNG: a palette image has no PLTE chunk before its image data.");
                    }

                    idat.Add(body);
                    break;
                case "IEND":
                    if (idat.Count == 0)
                    {
                        throw new ImageCodecException("PNG: no image data (IDAT) before IEND.");
                    }

                    return Build(header!, palette, Inflate(header!, idat));
                default:
                    if ((type[0] & 0x20) == 0)
                    {
                        throw new ImageCodecException($"PNG: unknown critical chunk {name}.");
                    }

                    break; // ancillary chunks (gAMA, tEXt, tRNS, ...) do not change the samples
            }
        }
    }

    private static string ChunkName(ReadOnlySpan<byte> type)
    {
        foreach (var c in type)
        {
            if (c is not ((>= (byte)'A' and <= (byte)'Z') or (>= (byte)'a' and <= (byte)'z')))
            {
                throw new ImageCodecException("PNG: a chunk type is not four ASCII letters (corrupt data).");
            }
        }

        return System.Text.Encoding.ASCII.GetString(type);
    }

    /// <summary>Inflates exactly height × (1 + row bytes) bytes, and checks that the zlib stream ends there (Adler-32 included).</summary>
    private static byte[] Inflate(Header header, List<ReadOnlyMemory<byte>> idat)
    {
        var raw = new byte[header.Height * (1 + header.RowBytes)];
        try
        {
            using var zlib = new ZLibStream(new ChunkStream(idat), CompressionMode.Decompress);
            var filled = 0;
            while (filled < raw.Length)
            {
                var read = zlib.Read(raw, filled, raw.Length - filled);
                if (read == 0)
                {
                    throw new ImageCodecException($"PNG: the image data holds {filled} bytes; the header announces {raw.Length}.");
                }

                filled += read;
            }

            Span<byte> extra = stackalloc byte[1];
            if (zlib.Read(extra) != 0)
            {
                throw new ImageCodecException("PNG: the image data holds more bytes than the header announces.");
            }
        }
        catch (InvalidDataException ex)
        {
            throw new ImageCodecException($"PNG: the compressed image data is corrupt: {ex.Message}", ex);
        }

        return raw;
    }

    private static DecodedImage Build(Header h, byte[]? palette, byte[] raw)
    {
        var rowBytes = (int)h.RowBytes;
        var bytesPerPixel = Math.Max(1, h.SourceChannels * h.BitDepth / 8);
        var rows = new byte[(long)rowBytes * h.Height];
        Unfilter(raw, rows, rowBytes, bytesPerPixel, h.Height);

        var pixels = (long)h.Width * h.Height;
        if (h.ColorType == 3)
        {
            var rgb = new byte[pixels * 3];
            var entries = palette!.Length / 3;
            for (var y = 0; y < h.Height; y++)
            {
                var row = rows.AsSpan(y * rowBytes, rowBytes);
                for (var x = 0; x < h.Width; x++)
                {
                    var index = Sample(row, x, h.BitDepth);
                    if (index >= entries)
                    {
                        throw new ImageCodecException($"PNG: palette index {index} beyond the {entries} PLTE entries.");
                    }

                    palette.AsSpan(index * 3, 3).CopyTo(rgb.AsSpan((int)((((long)y * h.Width) + x) * 3)));
                }
            }

            return new DecodedImage(h.Width, h.Height, 3, 8, rgb);
        }

        var channels = h.ColorType is 2 or 6 ? 3 : 1;
        if (h.BitDepth < 8)
        {
            var gray = new byte[pixels];
            var scale = 255 / ((1 << h.BitDepth) - 1);
            for (var y = 0; y < h.Height; y++)
            {
                var row = rows.AsSpan(y * rowBytes, rowBytes);
                for (var x = 0; x < h.Width; x++)
                {
                    gray[((long)y * h.Width) + x] = (byte)(Sample(row, x, h.BitDepth) * scale);
                }
            }

            return new DecodedImage(h.Width, h.Height, 1, 8, gray);
        }

        var bytesPerSample = h.BitDepth / 8;
        var output = new byte[pixels * channels * bytesPerSample];
        var sourceStride = h.SourceChannels * bytesPerSample;
        var targetStride = channels * bytesPerSample;
        for (long p = 0; p < pixels; p++)
        {
            var source = rows.AsSpan((int)(p * sourceStride), targetStride); // alpha, when present, is the last sample: left out
            var target = output.AsSpan((int)(p * targetStride), targetStride);
            if (bytesPerSample == 1)
            {
                source.CopyTo(target);
            }
            else
            {
                for (var s = 0; s < targetStride; s += 2)
                {
                    target[s] = source[s + 1];
                    target[s + 1] = source[s];
                }
            }
        }

        return new DecodedImage(h.Width, h.Height, channels, h.BitDepth, output);
    }

    private static int Sample(ReadOnlySpan<byte> row, int x, int depth) => depth switch
    {
        8 => row[x],
        4 => (row[x >> 1] >> (4 - ((x & 1) * 4))) & 0x0F,
        2 => (row[x >> 2] >> (6 - ((x & 3) * 2))) & 0x03,
        _ => (row[x >> 3] >> (7 - (x & 7))) & 0x01,
    };

    private static void Unfilter(byte[] raw, byte[] rows, int rowBytes, int bpp, int height)
    {
        var previous = Span<byte>.Empty;
        for (var y = 0; y < height; y++)
        {
            var filter = raw[(long)y * (rowBytes + 1)];
            var line = raw.AsSpan((int)(((long)y * (rowBytes + 1)) + 1), rowBytes);
            var output = rows.AsSpan(y * rowBytes, rowBytes);
            switch (filter)
            {
                case 0:
                    line.CopyTo(output);
                    break;
                case 1:
                    for (var i = 0; i < rowBytes; i++)
                    {
                        output[i] = (byte)(line[i] + (i >= bpp ? output[i - bpp] : 0));
                    }

                    break;
                case 2:
                    for (var i = 0; i < rowBytes; i++)
                    {
                        output[i] = (byte)(line[i] + (previous.IsEmpty ? 0 : previous[i]));
                    }

                    break;
                case 3:
                    for (var i = 0; i < rowBytes; i++)
                    {
                        var a = i >= bpp ? output[i - bpp] : 0;
                        var b = previous.IsEmpty ? 0 : previous[i];
                        output[i] = (byte)(line[i] + ((a + b) >> 1));
                    }

                    break;
                case 4:
                    for (var i = 0; i < rowBytes; i++)
                    {
                        var a = i >= bpp ? output[i - bpp] : 0;
                        var b = previous.IsEmpty ? 0 : previous[i];
                        var c = i >= bpp && !previous.IsEmpty ? previous[i - bpp] : 0;
                        output[i] = (byte)(line[i] + Paeth(a, b, c));
                    }

                    break;
                default:
                    throw new ImageCodecException($"PNG: row {y} has filter type {filter}; only 0 to 4 exist.");
            }

            previous = output;
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private sealed record Header(int Width, int Height, int BitDepth, int ColorType, int SourceChannels)
    {
        /// <summary>Bytes of one unfiltered scanline.</summary>
        public long RowBytes => (((long)Width * SourceChannels * BitDepth) + 7) / 8;

        public static Header Parse(ReadOnlySpan<byte> data, ImageDecodeLimits limits)
        {
            if (data.Length != 13)
            {
                throw new ImageCodecException($"PNG: the IHDR chunk has {data.Length} bytes, not 13.");
            }

            var width = BinaryPrimitives.ReadUInt32BigEndian(data);
            var height = BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
            int depth = data[8], colorType = data[9];
            limits.Check("PNG", width, height);
            var channels = colorType switch
            {
                0 => 1,
                2 => 3,
                3 => 1,
                4 => 2,
                6 => 4,
                _ => throw new ImageCodecException($"PNG: colour type {colorType} does not exist."),
            };
            var depthValid = colorType switch
            {
                0 => depth is 1 or 2 or 4 or 8 or 16,
                3 => depth is 1 or 2 or 4 or 8,
                _ => depth is 8 or 16,
            };
            if (!depthValid)
            {
                throw new ImageCodecException($"PNG: bit depth {depth} is not allowed with colour type {colorType}.");
            }

            if (data[10] != 0 || data[11] != 0)
            {
                throw new ImageCodecException($"PNG: unknown compression method {data[10]} or filter method {data[11]}.");
            }

            if (data[12] == 1)
            {
                throw new ImageCodecException("PNG: interlaced (Adam7) images are not supported; save the image without interlacing.");
            }

            if (data[12] != 0)
            {
                throw new ImageCodecException($"PNG: unknown interlace method {data[12]}.");
            }

            var header = new Header((int)width, (int)height, depth, colorType, channels);
            if (height * (1 + header.RowBytes) > Array.MaxLength)
            {
                throw new ImageCodecException($"PNG: a {width}x{height} image is too large to decode.");
            }

            return header;
        }
    }

    /// <summary>The IDAT chunk bodies read as one stream, without copying them.</summary>
    private sealed class ChunkStream(List<ReadOnlyMemory<byte>> chunks) : Stream
    {
        private int chunk;
        private int offset;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (chunk < chunks.Count && offset == chunks[chunk].Length)
            {
                chunk++;
                offset = 0;
            }

            if (chunk == chunks.Count || buffer.IsEmpty)
            {
                return 0;
            }

            var available = chunks[chunk].Span[offset..];
            var count = Math.Min(available.Length, buffer.Length);
            available[..count].CopyTo(buffer);
            offset += count;
            return count;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
