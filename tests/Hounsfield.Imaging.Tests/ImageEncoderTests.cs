using System.Diagnostics;
using System.Text;
using Hounsfield.Imaging.Decoders;
using Hounsfield.Imaging.Encoders;
using Hounsfield.Imaging.Rendering;

namespace Hounsfield.Imaging.Tests;

/// <summary>The PNG, GIF and JPEG writers: decoded back by independent readers (ours in the tests, djpeg) to their input.</summary>
public sealed class ImageEncoderTests
{
    public static TheoryData<int, int> Sizes => new() { { 1, 1 }, { 7, 3 }, { 64, 64 }, { 301, 203 } };

    [Fact]
    public void Crc32MatchesTheCheckValueAndABitwiseComputation()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        var random = new Random(7);
        var data = new byte[1031];
        random.NextBytes(data);
        Assert.Equal(BitwiseCrc.Compute(data), Crc32.Compute(data));
        Assert.Equal(BitwiseCrc.Compute(data), Crc32.Append(Crc32.Compute(data.AsSpan(0, 500)), data.AsSpan(500)));
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void PngGrayAndRgbRoundTrip(int width, int height)
    {
        foreach (var channels in new[] { 1, 3 })
        {
            var image = Synthetic(width, height, channels, seed: width + channels);
            var decoded = PngDecoder.Decode(PngEncoder.Encode(image));
            Assert.Equal((width, height, channels, 8), (decoded.Width, decoded.Height, decoded.Channels, decoded.BitDepth));
            Assert.Equal(image.Pixels, decoded.Samples);
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Png16BitGrayRoundTripsBigEndian(int width, int height)
    {
        var samples = new ushort[width * height];
        var random = new Random(width * height);
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = (ushort)(i % 5 == 0 ? random.Next(65536) : (i * 37) & 0xFFFF);
        }

        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(samples.AsSpan()).ToArray();
        using var memory = new MemoryStream();
        PngEncoder.Encode(memory, width, height, PngPixelFormat.Gray16, bytes);
        var decoded = PngDecoder.Decode(memory.ToArray());
        Assert.Equal((1, 16), (decoded.Channels, decoded.BitDepth));
        Assert.Equal(bytes, decoded.Samples); // the decoder reads PNG's big-endian samples back to little-endian
    }

    [Fact]
    public void PngSplitsLargeImagesIntoSeveralIdatChunks()
    {
        var image = Synthetic(700, 500, 3, seed: 3, noise: true);
        var png = PngEncoder.Encode(image, System.IO.Compression.CompressionLevel.NoCompression);
        Assert.True(CountChunks(png, "IDAT") > 1);
        Assert.Equal(image.Pixels, PngDecoder.Decode(png).Samples);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void GifGrayRoundTripsExactly(int width, int height)
    {
        var image = Synthetic(width, height, 1, seed: 11, noise: true);
        var gif = GifReader.Read(GifEncoder.Encode(image));
        Assert.Equal((width, height), (gif.Width, gif.Height));
        var frame = Assert.Single(gif.Frames);
        Assert.Equal(image.Pixels, frame.Indices);
        Assert.Equal(Expand(image.Pixels), frame.ToRgb());
    }

    [Fact]
    public void GifLzwHandlesRunsAndFullCodeTables()
    {
        // A uniform image (long runs: the KwKwK case) and random noise (the table fills: clear codes).
        var uniform = new RenderedImage(500, 400, 1, Enumerable.Repeat((byte)77, 200_000).ToArray());
        Assert.Equal(uniform.Pixels, GifReader.Read(GifEncoder.Encode(uniform)).Frames[0].Indices);

        var noise = Synthetic(640, 480, 1, seed: 5, noise: true, noiseOnly: true);
        Assert.Equal(noise.Pixels, GifReader.Read(GifEncoder.Encode(noise)).Frames[0].Indices);
    }

    [Fact]
    public void GifRgbWithFewColoursIsExact()
    {
        var palette = new[] { (255, 0, 0), (0, 128, 255), (12, 34, 56), (255, 255, 255), (0, 0, 0) };
        var pixels = new byte[120 * 80 * 3];
        for (var i = 0; i < 120 * 80; i++)
        {
            var (r, g, b) = palette[(i / 7 + i / 120) % palette.Length];
            pixels[i * 3] = (byte)r;
            pixels[(i * 3) + 1] = (byte)g;
            pixels[(i * 3) + 2] = (byte)b;
        }

        var image = new RenderedImage(120, 80, 3, pixels);
        Assert.Equal(pixels, GifReader.Read(GifEncoder.Encode(image)).Frames[0].ToRgb());
    }

    [Theory]
    [InlineData(GifQuantizer.MedianCut, 30)]
    [InlineData(GifQuantizer.Fixed676, 24)]
    public void GifQuantizesTrueColourImages(GifQuantizer quantizer, double minimumPsnr)
    {
        var image = Synthetic(256, 192, 3, seed: 9);
        var decoded = GifReader.Read(GifEncoder.Encode(image, new GifOptions { Quantizer = quantizer })).Frames[0].ToRgb();
        Assert.True(Psnr(image.Pixels, decoded) >= minimumPsnr, $"PSNR {Psnr(image.Pixels, decoded):F1} dB");
    }

    [Fact]
    public void AnimatedGifKeepsFramesDelayAndLooping()
    {
        var frames = Enumerable.Range(0, 4).Select(i => Synthetic(33, 21, 1, seed: i, noise: true)).ToList();
        var gif = GifReader.Read(GifEncoder.Encode(frames, new GifOptions { DelayCentiseconds = 7, LoopCount = 0 }));
        Assert.Equal(0, gif.LoopCount);
        Assert.Equal(4, gif.Frames.Count);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(7, gif.Frames[i].DelayCentiseconds);
            Assert.Equal(frames[i].Pixels, gif.Frames[i].Indices);
        }
    }

    [Fact]
    public void GrayFramesWrittenOneAtATimeMakeTheSameGifAsTheListEncoder()
    {
        var frames = Enumerable.Range(0, 5).Select(i => Synthetic(40, 24, 1, seed: i, noise: true)).ToList();
        var options = new GifOptions { DelayCentiseconds = 4 };
        using var streamed = new MemoryStream();
        var writer = GifEncoder.BeginAnimation(streamed, [frames[0]], options);
        foreach (var frame in frames)
        {
            writer.Write(frame);
        }

        writer.Finish();

        Assert.Equal(GifEncoder.Encode(frames, options), streamed.ToArray());
    }

    [Fact]
    public void ColourFramesWrittenOneAtATimeMapColoursTheFirstFrameLacksToNearbyEntries()
    {
        // The palette comes from the first frame (mostly red and green); the last frame is blue, a colour the first lacks.
        var first = Synthetic(64, 48, 3, seed: 3);
        var later = new RenderedImage(64, 48, 3, Enumerable.Range(0, 64 * 48).SelectMany(i => new[] { (byte)(i % 64), (byte)(i / 64), (byte)(160 + (i % 80)) }).ToArray());
        using var streamed = new MemoryStream();
        var writer = GifEncoder.BeginAnimation(streamed, [first]);
        writer.Write(first);
        writer.Write(later);
        writer.Finish();

        var gif = GifReader.Read(streamed.ToArray());
        Assert.Equal(2, gif.Frames.Count);
        Assert.True(Psnr(first.Pixels, gif.Frames[0].ToRgb()) >= 30, $"first frame PSNR {Psnr(first.Pixels, gif.Frames[0].ToRgb()):F1} dB");
        var decoded = gif.Frames[1].ToRgb();
        var worst = Enumerable.Range(0, decoded.Length).Max(i => Math.Abs(decoded[i] - later.Pixels[i]));
        // Mapped to the nearest entry: 108 levels off at worst, 13.2 dB (each such colour to entry 0 instead: 199, 8.6 dB).
        Assert.True(worst < 128, $"a colour of the later frame came back {worst} levels off");
        Assert.True(Psnr(later.Pixels, decoded) >= 12, $"later frame PSNR {Psnr(later.Pixels, decoded):F1} dB");
    }

    [Fact]
    public void ColourFramesAmongThePaletteSamplesComeBackAsWellAsWithAWholeAnimationPalette()
    {
        var first = Synthetic(64, 48, 3, seed: 3);
        var later = new RenderedImage(64, 48, 3, Enumerable.Range(0, 64 * 48).SelectMany(i => new[] { (byte)(i % 64), (byte)(i / 64), (byte)(160 + (i % 80)) }).ToArray());
        using var streamed = new MemoryStream();
        var writer = GifEncoder.BeginAnimation(streamed, [first, later]);
        writer.Write(first);
        writer.Write(later);
        writer.Finish();

        var frames = GifReader.Read(streamed.ToArray()).Frames;
        var whole = GifReader.Read(GifEncoder.Encode([first, later])).Frames;
        for (var i = 0; i < 2; i++)
        {
            var source = i == 0 ? first.Pixels : later.Pixels;
            Assert.True(Psnr(source, frames[i].ToRgb()) >= Psnr(source, whole[i].ToRgb()) - 0.5,
                $"frame {i}: {Psnr(source, frames[i].ToRgb()):F1} dB against {Psnr(source, whole[i].ToRgb()):F1} dB with the whole animation's palette");
        }
    }

    [Theory]
    [InlineData(1, JpegSubsampling.Yuv420, 90, 38, false)]
    [InlineData(3, JpegSubsampling.Yuv420, 90, 27, false)] // saturated colour bars: 4:2:0 loses chroma edges (cjpeg -quality 90 -sample 2x2 scores the same)
    [InlineData(3, JpegSubsampling.Yuv444, 90, 40, false)]
    [InlineData(1, JpegSubsampling.Yuv420, 50, 33, false)]
    [InlineData(1, JpegSubsampling.Yuv420, 90, 38, true)]
    [InlineData(3, JpegSubsampling.Yuv420, 90, 27, true)]
    [InlineData(3, JpegSubsampling.Yuv444, 90, 40, true)]
    public void JpegIsReadByDjpegWithinAPsnrBound(int channels, JpegSubsampling subsampling, int quality, double minimumPsnr, bool optimizeCoding)
    {
        Assert.True(TestImages.HasTool("djpeg"), "djpeg is missing: run scripts/install-prerequisites (Debian package libjpeg-turbo-progs)");
        foreach (var (width, height) in new[] { (1, 1), (13, 9), (256, 192), (301, 203) })
        {
            var image = Synthetic(width, height, channels, seed: 4);
            var jpeg = JpegEncoder.Encode(image, new JpegOptions { Quality = quality, Subsampling = subsampling, OptimizeCoding = optimizeCoding });
            var decoded = Djpeg(jpeg);
            Assert.Equal((width, height, channels), (decoded.Width, decoded.Height, decoded.Channels));
            if (width >= 64)
            {
                var psnr = Psnr(image.Pixels, decoded.Samples);
                Assert.True(psnr >= minimumPsnr, $"{width}x{height}: PSNR {psnr:F1} dB < {minimumPsnr}");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void JpegOptimalHuffmanTablesCodeTheSameCoefficientsInFewerBytes(int channels)
    {
        var image = Synthetic(320, 240, channels, seed: 9, noise: true);
        var typical = JpegEncoder.Encode(image, new JpegOptions { Quality = 80 });
        var optimal = JpegEncoder.Encode(image, new JpegOptions { Quality = 80, OptimizeCoding = true });
        Assert.True(optimal.Length < typical.Length, $"optimal {optimal.Length} bytes, typical {typical.Length}");
        Assert.Equal(Djpeg(typical).Samples, Djpeg(optimal).Samples);
    }

    [Fact]
    public void JpegQualityTradesSizeForFidelity()
    {
        var image = Synthetic(256, 256, 3, seed: 8, noise: true);
        var low = JpegEncoder.Encode(image, new JpegOptions { Quality = 30 });
        var high = JpegEncoder.Encode(image, new JpegOptions { Quality = 95 });
        Assert.True(low.Length < high.Length);
        Assert.True(Psnr(image.Pixels, Djpeg(low).Samples) < Psnr(image.Pixels, Djpeg(high).Samples));
    }

    // ---- helpers ----

    /// <summary>Smooth gradients with a disc and a bar (and optionally noise): realistic for JPEG, with detail for PNG/GIF.</summary>
    internal static RenderedImage Synthetic(int width, int height, int channels, int seed, bool noise = false, bool noiseOnly = false)
    {
        var random = new Random(seed);
        var pixels = new byte[width * height * channels];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var dx = x - (width / 2.0);
                var dy = y - (height / 2.0);
                var inside = (dx * dx) + (dy * dy) < Math.Pow(Math.Min(width, height) / 3.0, 2);
                for (var c = 0; c < channels; c++)
                {
                    double value = noiseOnly ? 0 : (((x * (c + 1) * 255.0) / Math.Max(1, width - 1)) + ((y * 128.0) / Math.Max(1, height - 1))) / 1.5;
                    if (inside && !noiseOnly)
                    {
                        value = 255 - value;
                    }

                    if (!noiseOnly && x % 50 < 4)
                    {
                        value = c == 1 ? 30 : 220;
                    }

                    if (noise)
                    {
                        value += random.Next(noiseOnly ? 256 : 16);
                    }

                    pixels[(((y * width) + x) * channels) + c] = (byte)Math.Clamp(noiseOnly ? value : value, 0, 255);
                }
            }
        }

        return new RenderedImage(width, height, channels, pixels);
    }

    private static byte[] Expand(byte[] gray) => [.. gray.SelectMany(g => new[] { g, g, g })];

    private static double Psnr(byte[] expected, byte[] actual)
    {
        double sum = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            var d = expected[i] - actual[i];
            sum += d * d;
        }

        var mse = sum / expected.Length;
        return mse == 0 ? 99 : 10 * Math.Log10(255 * 255 / mse);
    }

    private static int CountChunks(byte[] png, string type)
    {
        var count = 0;
        var position = 8;
        while (position < png.Length)
        {
            var length = (png[position] << 24) | (png[position + 1] << 16) | (png[position + 2] << 8) | png[position + 3];
            count += Encoding.ASCII.GetString(png, position + 4, 4) == type ? 1 : 0;
            position += 12 + length;
        }

        return count;
    }

    /// <summary>Decodes a JPEG with libjpeg-turbo's djpeg to PNM and parses it.</summary>
    internal static DecodedImage Djpeg(byte[] jpeg)
    {
        var start = new ProcessStartInfo("djpeg")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-pnm");
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        using var stdout = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        process.StandardInput.BaseStream.Write(jpeg);
        process.StandardInput.Close();
        copy.Wait(TimeSpan.FromMinutes(1));
        Assert.True(process.WaitForExit(60_000), "djpeg timed out");
        Assert.True(process.ExitCode == 0, $"djpeg failed: {stderr.Result}");
        Assert.True(stderr.Result.Length == 0, $"djpeg warned: {stderr.Result}");
        var pnm = Pnm.Read(stdout.ToArray());
        return new DecodedImage(pnm.Width, pnm.Height, pnm.Channels, 8, pnm.Samples);
    }
}
