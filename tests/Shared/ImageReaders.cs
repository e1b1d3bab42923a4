using System.Text;

namespace Hounsfield.Testing;

/// <summary>The CRC-32 of PNG computed bit by bit: an independent check of the encoder's table-driven one.</summary>
public static class BitwiseCrc
{
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
            }
        }

        return ~crc;
    }
}

/// <summary>
/// A small GIF89a reader for the tests: global / local colour tables, Graphic Control Extension delays, image data
/// decoded with its own variable-length-code LZW decoder (GIF89a Appendix F). Frames are returned as RGB.
/// </summary>
public static class GifReader
{
    public sealed record GifFrame(int Left, int Top, int Width, int Height, int DelayCentiseconds, byte[] Indices, byte[] Palette)
    {
        public byte[] ToRgb()
        {
            var rgb = new byte[Indices.Length * 3];
            for (var i = 0; i < Indices.Length; i++)
            {
                Palette.AsSpan(Indices[i] * 3, 3).CopyTo(rgb.AsSpan(i * 3));
            }

            return rgb;
        }
    }

    public sealed record GifImage(int Width, int Height, int LoopCount, IReadOnlyList<GifFrame> Frames);

    public static GifImage Read(byte[] gif)
    {
        var header = Encoding.ASCII.GetString(gif, 0, 6);
        if (header is not ("GIF89a" or "GIF87a"))
        {
            throw new InvalidDataException("not a GIF");
        }

        var width = gif[6] | (gif[7] << 8);
        var height = gif[8] | (gif[9] << 8);
        var flags = gif[10];
        var position = 13;
        byte[]? globalPalette = null;
        if ((flags & 0x80) != 0)
        {
            var size = 3 * (1 << ((flags & 7) + 1));
            globalPalette = gif.AsSpan(position, size).ToArray();
            position += size;
        }

        var frames = new List<GifFrame>();
        var delay = 0;
        var loop = -1;
        while (true)
        {
            var block = gif[position++];
            if (block == 0x3B)
            {
                break;
            }

            if (block == 0x21)
            {
                var label = gif[position++];
                var blocks = ReadSubBlocks(gif, ref position);
                if (label == 0xF9 && blocks.Length >= 4)
                {
                    delay = blocks[1] | (blocks[2] << 8);
                }
                else if (label == 0xFF && blocks.Length >= 14 && Encoding.ASCII.GetString(blocks, 0, 11) == "NETSCAPE2.0")
                {
                    loop = blocks[12] | (blocks[13] << 8);
                }

                continue;
            }

            if (block != 0x2C)
            {
                throw new InvalidDataException($"unexpected block 0x{block:X2}");
            }

            var left = gif[position] | (gif[position + 1] << 8);
            var top = gif[position + 2] | (gif[position + 3] << 8);
            var w = gif[position + 4] | (gif[position + 5] << 8);
            var h = gif[position + 6] | (gif[position + 7] << 8);
            var imageFlags = gif[position + 8];
            position += 9;
            var palette = globalPalette;
            if ((imageFlags & 0x80) != 0)
            {
                var size = 3 * (1 << ((imageFlags & 7) + 1));
                palette = gif.AsSpan(position, size).ToArray();
                position += size;
            }

            if ((imageFlags & 0x40) != 0)
            {
                throw new NotSupportedException("interlaced GIF");
            }

            var minimumCodeSize = gif[position++];
            var data = ReadSubBlocks(gif, ref position);
            var indices = Decode(data, minimumCodeSize, w * h);
            frames.Add(new GifFrame(left, top, w, h, delay, indices, palette ?? throw new InvalidDataException("no colour table")));
        }

        return new GifImage(width, height, loop, frames);
    }

    private static byte[] ReadSubBlocks(byte[] gif, ref int position)
    {
        using var output = new MemoryStream();
        while (true)
        {
            var length = gif[position++];
            if (length == 0)
            {
                return output.ToArray();
            }

            output.Write(gif, position, length);
            position += length;
        }
    }

    /// <summary>LZW decoding with variable-length codes, clear and end-of-information codes (GIF89a Appendix F).</summary>
    private static byte[] Decode(byte[] data, int minimumCodeSize, int pixelCount)
    {
        var clear = 1 << minimumCodeSize;
        var end = clear + 1;
        var prefixes = new int[4096];
        var suffixes = new byte[4096];
        var lengths = new int[4096];
        for (var i = 0; i < clear; i++)
        {
            prefixes[i] = -1;
            suffixes[i] = (byte)i;
            lengths[i] = 1;
        }

        var output = new List<byte>(pixelCount);
        var codeSize = minimumCodeSize + 1;
        var next = end + 1;
        var previous = -1;
        long bitPosition = 0;
        var stack = new byte[4096];
        while (true)
        {
            if (bitPosition + codeSize > (long)data.Length * 8)
            {
                throw new InvalidDataException("LZW data ended without an end-of-information code");
            }

            var code = 0;
            for (var k = 0; k < codeSize; k++, bitPosition++)
            {
                code |= ((data[bitPosition >> 3] >> (int)(bitPosition & 7)) & 1) << k;
            }

            if (code == clear)
            {
                codeSize = minimumCodeSize + 1;
                next = end + 1;
                previous = -1;
                continue;
            }

            if (code == end)
            {
                break;
            }

            if (previous < 0)
            {
                output.Add(suffixes[code]);
                previous = code;
                continue;
            }

            int first;
            if (code < next)
            {
                first = Emit(code);
            }
            else if (code == next)
            {
                // KwKwK: the string of the previous code plus its own first character.
                var p = previous;
                while (prefixes[p] >= 0)
                {
                    p = prefixes[p];
                }

                first = suffixes[p];
                Emit(previous);
                output.Add((byte)first);
            }
            else
            {
                throw new InvalidDataException($"LZW code {code} beyond the table ({next})");
            }

            if (next < 4096)
            {
                prefixes[next] = previous;
                suffixes[next] = (byte)first;
                lengths[next] = lengths[previous] + 1;
                next++;
                if (next == (1 << codeSize) && codeSize < 12)
                {
                    codeSize++;
                }
            }

            previous = code;
        }

        return [.. output];

        int Emit(int code)
        {
            var n = 0;
            var c = code;
            while (c >= 0)
            {
                stack[n++] = suffixes[c];
                c = prefixes[c];
            }

            for (var i = n - 1; i >= 0; i--)
            {
                output.Add(stack[i]);
            }

            return stack[n - 1];
        }
    }
}

/// <summary>
/// Binary PGM and PPM (P5 grey, P6 RGB) with 8-bit samples: what cjpeg reads and djpeg and dcm2pnm write, the tests'
/// way of handing pixels to and from those tools.
/// </summary>
public static class Pnm
{
    public sealed record Image(int Width, int Height, int Channels, byte[] Samples);

    public static byte[] Write(int width, int height, int channels, ReadOnlySpan<byte> samples) =>
        [.. Encoding.ASCII.GetBytes($"{(channels == 3 ? "P6" : "P5")}\n{width} {height}\n255\n"), .. samples];

    public static Image Read(byte[] pnm)
    {
        var position = 0;
        string Token()
        {
            while (position < pnm.Length && char.IsWhiteSpace((char)pnm[position]))
            {
                position++;
            }

            var begin = position;
            while (position < pnm.Length && !char.IsWhiteSpace((char)pnm[position]))
            {
                position++;
            }

            return Encoding.ASCII.GetString(pnm, begin, position - begin);
        }

        var channels = Token() switch
        {
            "P5" => 1,
            "P6" => 3,
            var magic => throw new InvalidDataException($"Not a binary PGM or PPM file (magic '{magic}')."),
        };
        var width = int.Parse(Token(), System.Globalization.CultureInfo.InvariantCulture);
        var height = int.Parse(Token(), System.Globalization.CultureInfo.InvariantCulture);
        if (Token() is var maxValue && maxValue != "255")
        {
            throw new InvalidDataException($"Only 8-bit samples are read (maximum value {maxValue}).");
        }

        position++; // the one whitespace byte before the samples
        var length = width * height * channels;
        if (pnm.Length - position < length)
        {
            throw new InvalidDataException($"{width}x{height}x{channels} samples need {length} bytes; {pnm.Length - position} follow the header.");
        }

        return new Image(width, height, channels, pnm.AsSpan(position, length).ToArray());
    }
}
