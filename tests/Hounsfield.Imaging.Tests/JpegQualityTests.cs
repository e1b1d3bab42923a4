using Hounsfield.Dicom;
using Hounsfield.Imaging.Encoders;
using Hounsfield.Imaging.Rendering;
using Xunit.Abstractions;

namespace Hounsfield.Imaging.Tests;

/// <summary>
/// Our JFIF encoder against libjpeg-turbo's cjpeg at the same quality: on a CT-like phantom and on every corpus image we
/// render, decoding (djpeg) our file gives a mean absolute error within 10 % of cjpeg's and the file is within 10 % of
/// cjpeg's size (typical Huffman tables against cjpeg's default, optimal ones against cjpeg -optimize).
/// </summary>
public sealed class JpegQualityTests(ITestOutputHelper output)
{
    public static TheoryData<string> CorpusImages => Corpus.Names(f =>
        f.Status != "malformed" && f.FrameHashes() is { Length: > 0 } && Dimension(f, "rows") >= 32 && Dimension(f, "columns") >= 32
        && (!DicomTransferSyntax.TryLookup(f.TransferSyntaxUid, out var syntax) || syntax.IsNative || Codecs.FrameCodecs.IsAvailable(syntax.Uid)));

    private static int Dimension(CorpusFile file, string name) =>
        file.Manifest.TryGetProperty(name, out var value) && value.ValueKind == System.Text.Json.JsonValueKind.Number ? value.GetInt32() : 0;

    [Theory]
    [InlineData(90, false)]
    [InlineData(90, true)]
    [InlineData(75, false)]
    public void CtPhantomCodesAsCjpegDoes(int quality, bool optimize)
    {
        Assert.True(TestImages.HasTool("cjpeg") && TestImages.HasTool("djpeg"), "cjpeg/djpeg are missing: run scripts/install-prerequisites (Debian package libjpeg-turbo-progs)");
        CompareWithCjpeg("CT phantom", CtPhantom(512, 512, seed: 1), quality, optimize);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ScalarTransformCodesAsTheVectorOne(int channels)
    {
        // The path of machines without AVX2: the same image within float rounding of a few coefficients.
        var image = channels == 1 ? CtPhantom(301, 203, seed: 2) : ImageEncoderTests.Synthetic(301, 203, 3, seed: 6, noise: true);
        byte[] Encode(bool vector)
        {
            using var memory = new MemoryStream();
            JpegEncoder.Encode(memory, image, new JpegOptions(), vector);
            return memory.ToArray();
        }

        var vectorJpeg = Encode(vector: true);
        var scalarJpeg = Encode(vector: false);
        var fromVector = ImageEncoderTests.Djpeg(vectorJpeg).Samples;
        var fromScalar = ImageEncoderTests.Djpeg(scalarJpeg).Samples;
        var pixels = image.Pixels.AsSpan(0, image.Length).ToArray();
        var differing = fromVector.Zip(fromScalar).Count(p => p.First != p.Second);
        output.WriteLine($"vector {vectorJpeg.Length} bytes, scalar {scalarJpeg.Length} bytes; {differing} of {pixels.Length} samples differ");
        Assert.True(Math.Abs(vectorJpeg.Length - scalarJpeg.Length) <= vectorJpeg.Length / 100, $"{vectorJpeg.Length} against {scalarJpeg.Length} bytes");
        Assert.True(differing <= pixels.Length / 100, $"{differing} samples differ");
        Assert.True(Math.Abs(MeanAbsoluteError(pixels, fromVector) - MeanAbsoluteError(pixels, fromScalar)) < 0.01);
    }

    [CorpusTheory]
    [MemberData(nameof(CorpusImages))]
    public void CorpusRendersCodeAsCjpegDoes(string name)
    {
        Assert.True(TestImages.HasTool("cjpeg") && TestImages.HasTool("djpeg"), "cjpeg/djpeg are missing: run scripts/install-prerequisites (Debian package libjpeg-turbo-progs)");
        var image = FrameRenderer.Render(DicomFile.Open(Corpus.Get(name).Path), 0, new RenderOptions { Voi = VoiMode.First });
        CompareWithCjpeg(name, image, 90, optimize: false);
    }

    private void CompareWithCjpeg(string name, RenderedImage image, int quality, bool optimize)
    {
        using var temp = new TestImages.TempDirectory();
        var pixels = image.Pixels.AsSpan(0, image.Length).ToArray();
        File.WriteAllBytes(temp.File("in.pnm"), Pnm.Write(image.Width, image.Height, image.IsColor ? 3 : 1, pixels));
        TestImages.Run("cjpeg", [.. optimize ? ["-optimize"] : Array.Empty<string>(), "-quality", quality.ToString(System.Globalization.CultureInfo.InvariantCulture), "-outfile", temp.File("cjpeg.jpg"), temp.File("in.pnm")]);
        var reference = File.ReadAllBytes(temp.File("cjpeg.jpg"));
        var ours = JpegEncoder.Encode(image, new JpegOptions { Quality = quality, OptimizeCoding = optimize });

        var referenceError = MeanAbsoluteError(pixels, ImageEncoderTests.Djpeg(reference).Samples);
        var ourError = MeanAbsoluteError(pixels, ImageEncoderTests.Djpeg(ours).Samples);
        output.WriteLine($"{name} {image.Width}x{image.Height}x{image.Channels} q{quality}{(optimize ? " optimized" : string.Empty)}: "
            + $"ours {ours.Length} bytes, MAE {ourError:F4}; cjpeg {reference.Length} bytes, MAE {referenceError:F4}");

        // A small absolute allowance for images (nearly) coded without loss, where 10 % of almost nothing is noise.
        Assert.True(ourError <= (referenceError * 1.10) + 0.01, $"MAE {ourError:F4} against cjpeg's {referenceError:F4}");
        Assert.True(ours.Length <= (reference.Length * 1.10) + 64, $"{ours.Length} bytes against cjpeg's {reference.Length}");
        Assert.True(ours.Length >= (reference.Length * 0.90) - 64, $"{ours.Length} bytes against cjpeg's {reference.Length}");
    }

    private static double MeanAbsoluteError(byte[] expected, byte[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        long sum = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            sum += Math.Abs(expected[i] - actual[i]);
        }

        return (double)sum / expected.Length;
    }

    /// <summary>
    /// A windowed CT slice as the renderer makes it: air (0) around an elliptic body of soft tissue (mid gray, noisy),
    /// organs of other levels, a saturated bone ring and spine.
    /// </summary>
    internal static RenderedImage CtPhantom(int width, int height, int seed)
    {
        var random = new Random(seed);
        var pixels = new byte[width * height];
        double cx = width / 2.0, cy = height / 2.0;
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var bx = (x - cx) / (width * 0.42);
                var by = (y - cy) / (height * 0.34);
                var body = (bx * bx) + (by * by);
                double value;
                if (body > 1)
                {
                    value = random.Next(3);
                }
                else
                {
                    value = 128 + (20 * Math.Sin(x / 23.0) * Math.Cos(y / 31.0)) + (Gaussian(random) * 6);
                    var ox = (x - (cx * 0.7)) / (width * 0.12);
                    var oy = (y - cy) / (height * 0.1);
                    if ((ox * ox) + (oy * oy) < 1)
                    {
                        value += 35;
                    }

                    if (body > 0.86)
                    {
                        value = 140 + ((body - 0.86) * 1000);
                    }

                    var sx = (x - cx) / (width * 0.05);
                    var sy = (y - (cy + (height * 0.22))) / (height * 0.05);
                    if ((sx * sx) + (sy * sy) < 1)
                    {
                        value = 255;
                    }
                }

                pixels[(y * width) + x] = (byte)Math.Clamp(Math.Round(value), 0, 255);
            }
        }

        return new RenderedImage(width, height, 1, pixels);

        static double Gaussian(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
    }
}
