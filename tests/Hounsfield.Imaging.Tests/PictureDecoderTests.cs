using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Decoders;

namespace Hounsfield.Imaging.Tests;

/// <summary>
/// The PNG and JPEG file decoders used to turn uploaded pictures into DICOM: PNGs written here with every filter type,
/// colour type and bit depth decode to the samples they were made from; JPEGs made by cjpeg decode as djpeg decodes them.
/// </summary>
public sealed class PictureDecoderTests
{
    [Theory]
    [InlineData(2, 8)]
    [InlineData(2, 16)]
    [InlineData(0, 8)]
    [InlineData(0, 16)]
    public void PngEveryFilterTypeDecodesToTheSourceSamples(int colorType, int depth)
    {
        var channels = colorType == 2 ? 3 : 1;
        var (width, height) = (37, 23);
        var samples = Noise(width * height * channels * depth / 8, seed: colorType + depth);
        var png = TestPng.Write(width, height, colorType, depth, samples, filterOfRow: y => y % 5);

        var decoded = PngDecoder.Decode(png);

        Assert.Equal((width, height, channels, depth), (decoded.Width, decoded.Height, decoded.Channels, decoded.BitDepth));
        Assert.Equal(depth == 16 ? SwapPairs(samples) : samples, decoded.Samples);
    }

    [Theory]
    [InlineData(4, 8)]
    [InlineData(6, 8)]
    [InlineData(4, 16)]
    [InlineData(6, 16)]
    public void PngAlphaIsDropped(int colorType, int depth)
    {
        var (width, height) = (9, 7);
        var colorChannels = colorType == 6 ? 3 : 1;
        var bytesPerSample = depth / 8;
        var samples = Noise(width * height * (colorChannels + 1) * bytesPerSample, seed: colorType * depth);
        var png = TestPng.Write(width, height, colorType, depth, samples, filterOfRow: y => (y + 1) % 5);

        var decoded = PngDecoder.Decode(png);

        var expected = new List<byte>();
        var pixelBytes = (colorChannels + 1) * bytesPerSample;
        for (var p = 0; p < width * height; p++)
        {
            var color = samples.AsSpan(p * pixelBytes, colorChannels * bytesPerSample).ToArray();
            expected.AddRange(depth == 16 ? SwapPairs(color) : color);
        }

        Assert.Equal(colorChannels, decoded.Channels);
        Assert.Equal(expected, decoded.Samples);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void PngPaletteImagesExpandToRgb(int depth)
    {
        var (width, height) = (13, 5);
        var entries = 1 << depth;
        var palette = Noise(entries * 3, seed: depth);
        var indices = Noise(width * height, seed: depth + 100).Select(b => (byte)(b % entries)).ToArray();
        var png = TestPng.Write(width, height, 3, depth, TestPng.Pack(indices, width, height, depth), filterOfRow: y => y % 5, palette: palette);

        var decoded = PngDecoder.Decode(png);

        Assert.Equal((3, 8), (decoded.Channels, decoded.BitDepth));
        Assert.Equal(indices.SelectMany(i => palette.AsSpan(i * 3, 3).ToArray()), decoded.Samples);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void PngLowBitGrayIsScaledToEightBits(int depth)
    {
        var (width, height) = (11, 3);
        var max = (1 << depth) - 1;
        var values = Noise(width * height, seed: depth).Select(b => (byte)(b % (max + 1))).ToArray();
        var png = TestPng.Write(width, height, 0, depth, TestPng.Pack(values, width, height, depth), filterOfRow: _ => 0);

        var decoded = PngDecoder.Decode(png);

        Assert.Equal(values.Select(v => (byte)(v * 255 / max)), decoded.Samples);
    }

    [Fact]
    public void PngWithACorruptChunkIsRefused()
    {
        var png = TestPng.Write(4, 4, 0, 8, new byte[16], filterOfRow: _ => 0);
        png[png.AsSpan().IndexOf("IDAT"u8) + 4] ^= 0x01; // the first byte of the image data: its chunk's CRC no longer matches
        var error = Assert.Throws<ImageCodecException>(() => PngDecoder.Decode(png));
        Assert.Contains("CRC", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InterlacedPngIsRefusedWithAClearMessage()
    {
        var png = TestPng.Write(4, 4, 0, 8, new byte[16], filterOfRow: _ => 0, interlaced: true);
        var error = Assert.Throws<ImageCodecException>(() => PngDecoder.Decode(png));
        Assert.Contains("interlaced", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void PngBombIsRefusedFromItsHeaderBeforeInflating()
    {
        // 60000 x 60000 gray: 3.6 GB of samples from a few kilobytes of zeros.
        var png = TestPng.WithHeader(60000, 60000, 0, 8, TestPng.Deflate(new byte[1 << 20]));
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<ImageCodecException>(() => PngDecoder.Decode(png));
        Assert.Contains("at most", error.Message, StringComparison.Ordinal);
        Assert.True(clock.ElapsedMilliseconds < 1000);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 1 << 20);

        var small = new ImageDecodeLimits { MaxPixels = 100 * 100 };
        Assert.Throws<ImageCodecException>(() => PngDecoder.Decode(TestPng.Write(101, 100, 0, 8, new byte[101 * 100], _ => 0), small));
    }

    [Fact]
    public void PngImageDataMustHoldExactlyTheAnnouncedRows()
    {
        var rows = new byte[5 * (1 + 4)];
        var tooMuch = TestPng.WithHeader(4, 4, 0, 8, TestPng.Deflate(rows));
        Assert.Contains("more bytes", Assert.Throws<ImageCodecException>(() => PngDecoder.Decode(tooMuch)).Message, StringComparison.Ordinal);
        var tooLittle = TestPng.WithHeader(4, 6, 0, 8, TestPng.Deflate(rows));
        Assert.Contains("announces", Assert.Throws<ImageCodecException>(() => PngDecoder.Decode(tooLittle)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PngPaletteIndexBeyondThePaletteIsRefused()
    {
        var png = TestPng.Write(2, 1, 3, 8, [0, 2], _ => 0, palette: new byte[6]);
        Assert.Contains("palette index", Assert.Throws<ImageCodecException>(() => PngDecoder.Decode(png)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gray", false)]
    [InlineData("color", false)]
    [InlineData("color", true)]
    public void JpegFilesFromCjpegDecodeAsDjpegDecodesThem(string kind, bool fullChroma)
    {
        using var temp = new TestImages.TempDirectory();
        var (width, height) = (61, 45);
        var channels = kind == "color" ? 3 : 1;
        var pixels = Smooth(width, height, channels);
        File.WriteAllBytes(temp.File("in.pnm"), Pnm.Write(width, height, channels, pixels));
        string[] sampling = fullChroma ? ["-sample", "1x1"] : [];
        TestImages.Run("cjpeg", [.. sampling, "-quality", "85", "-outfile", temp.File("out.jpg"), temp.File("in.pnm")]);
        TestImages.Run("djpeg", "-pnm", "-outfile", temp.File("djpeg.pnm"), temp.File("out.jpg"));
        var jpeg = File.ReadAllBytes(temp.File("out.jpg"));
        var expected = Pnm.Read(File.ReadAllBytes(temp.File("djpeg.pnm"))).Samples;

        var decoded = JpegFileDecoder.Decode(jpeg);

        Assert.Equal((width, height, channels, 8), (decoded.Width, decoded.Height, decoded.Channels, decoded.BitDepth));
        var maxDifference = expected.Zip(decoded.Samples, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDifference <= 1, $"max difference from djpeg {maxDifference}");
    }

    [Fact]
    public void ProgressiveJpegIsRefusedWithAClearMessage()
    {
        using var temp = new TestImages.TempDirectory();
        File.WriteAllBytes(temp.File("in.pgm"), Encoding.ASCII.GetBytes("P5\n8 8\n255\n").Concat(new byte[64]).ToArray());
        TestImages.Run("cjpeg", "-progressive", "-outfile", temp.File("out.jpg"), temp.File("in.pgm"));
        var error = Assert.Throws<ImageCodecException>(() => JpegFileDecoder.Decode(File.ReadAllBytes(temp.File("out.jpg"))));
        Assert.Contains("progressive", error.Message, StringComparison.Ordinal);
    }

    private static byte[] Noise(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] SwapPairs(byte[] bytes)
    {
        var swapped = new byte[bytes.Length];
        for (var i = 0; i + 1 < bytes.Length; i += 2)
        {
            swapped[i] = bytes[i + 1];
            swapped[i + 1] = bytes[i];
        }

        return swapped;
    }

    private static byte[] Smooth(int width, int height, int channels)
    {
        var pixels = new byte[width * height * channels];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                for (var c = 0; c < channels; c++)
                {
                    pixels[(((y * width) + x) * channels) + c] = (byte)((x * 4) + (y * 3) + (c * 60));
                }
            }
        }

        return pixels;
    }
}

/// <summary>A PNG writer for the tests, independent of the product encoder: any colour type, depth and filter per row.</summary>
internal static class TestPng
{
    /// <summary><paramref name="samples"/>: the unfiltered scanlines without filter bytes (16-bit samples big-endian, low depths packed).</summary>
    public static byte[] Write(int width, int height, int colorType, int depth, byte[] samples, Func<int, int> filterOfRow, byte[]? palette = null, bool interlaced = false)
    {
        var channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        var rowBytes = ((width * channels * depth) + 7) / 8;
        var bpp = Math.Max(1, channels * depth / 8);
        var filtered = new byte[height * (rowBytes + 1)];
        for (var y = 0; y < height; y++)
        {
            var filter = filterOfRow(y);
            filtered[y * (rowBytes + 1)] = (byte)filter;
            for (var i = 0; i < rowBytes; i++)
            {
                int x = samples[(y * rowBytes) + i];
                var a = i >= bpp ? samples[(y * rowBytes) + i - bpp] : 0;
                var b = y > 0 ? samples[((y - 1) * rowBytes) + i] : 0;
                var c = i >= bpp && y > 0 ? samples[((y - 1) * rowBytes) + i - bpp] : 0;
                var predictor = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    _ => PaethPredictor(a, b, c),
                };
                filtered[(y * (rowBytes + 1)) + 1 + i] = (byte)(x - predictor);
            }
        }

        return WithHeader(width, height, colorType, depth, Deflate(filtered), palette, interlaced);
    }

    public static byte[] WithHeader(int width, int height, int colorType, int depth, byte[] zlib, byte[]? palette = null, bool interlaced = false)
    {
        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = (byte)depth;
        header[9] = (byte)colorType;
        header[12] = (byte)(interlaced ? 1 : 0);
        Chunk(png, "IHDR", header);
        Chunk(png, "tEXt", Encoding.ASCII.GetBytes("Comment\0an ancillary chunk the decoder skips"));
        if (palette is not null)
        {
            Chunk(png, "PLTE", palette);
        }

        var half = zlib.Length / 2; // two IDAT chunks: the zlib stream continues across them
        Chunk(png, "IDAT", zlib[..half]);
        Chunk(png, "IDAT", zlib[half..]);
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    public static byte[] Deflate(byte[] data)
    {
        using var memory = new MemoryStream();
        using (var zlib = new ZLibStream(memory, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(data);
        }

        return memory.ToArray();
    }

    /// <summary>Packs values of 1, 2 or 4 bits into rows, most significant bits first (8 bits: a copy).</summary>
    public static byte[] Pack(byte[] values, int width, int height, int depth)
    {
        var rowBytes = ((width * depth) + 7) / 8;
        var packed = new byte[rowBytes * height];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var bit = x * depth;
                packed[(y * rowBytes) + (bit / 8)] |= (byte)(values[(y * width) + x] << (8 - depth - (bit % 8)));
            }
        }

        return packed;
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        png.Write(length);
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        png.Write(typed);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, BitwiseCrc.Compute(typed));
        png.Write(crc);
    }

    private static int PaethPredictor(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
