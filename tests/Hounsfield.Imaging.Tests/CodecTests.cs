using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;
using Xunit.Abstractions;

namespace Hounsfield.Imaging.Tests;

/// <summary>The managed RLE and JPEG decoders against DCMTK's decoding of the corpus.</summary>
public sealed class CodecTests(ITestOutputHelper output)
{
    private const string Rle = "1.2.840.10008.1.2.5";
    private const string JpegBaseline = "1.2.840.10008.1.2.4.50";
    private const string JpegExtended = "1.2.840.10008.1.2.4.51";
    private const string JpegLossless = "1.2.840.10008.1.2.4.57";
    private const string JpegLosslessSV1 = "1.2.840.10008.1.2.4.70";

    public static TheoryData<string> RleFiles => Corpus.Names(f => f.TransferSyntaxUid == Rle && f.FrameHashes() is not null);

    public static TheoryData<string> LosslessJpegFiles => Corpus.Names(f =>
        f.TransferSyntaxUid is JpegLossless or JpegLosslessSV1 && f.FrameHashes() is not null);

    public static TheoryData<string> LossyJpegFiles => Corpus.Names(f =>
        f.TransferSyntaxUid is JpegBaseline or JpegExtended && f.FrameHashes() is not null);

    public static TheoryData<string> LossyYbrJpegFiles => Corpus.Names(f =>
        f.TransferSyntaxUid is JpegBaseline or JpegExtended && f.FrameHashes("no_color_conversion") is not null);

    [Theory]
    [InlineData("1.2.840.10008.1.2.5", typeof(RleDecoder), typeof(RleEncoder))]
    [InlineData("1.2.840.10008.1.2.4.50", typeof(JpegDecoder), typeof(JpegBaselineEncoder))]
    [InlineData("1.2.840.10008.1.2.4.51", typeof(JpegDecoder), null)]
    [InlineData("1.2.840.10008.1.2.4.57", typeof(JpegDecoder), typeof(JpegLosslessEncoder))]
    [InlineData("1.2.840.10008.1.2.4.70", typeof(JpegDecoder), typeof(JpegLosslessEncoder))]
    [InlineData("1.2.840.10008.1.2.4.110", null, null)] // JPEG XL: no codec
    public void CodecsAreFoundByTransferSyntax(string uid, Type? decoder, Type? encoder)
    {
        Assert.Equal(decoder, FrameCodecs.GetDecoder(uid)?.GetType());
        Assert.Equal(encoder, FrameCodecs.GetEncoder(uid)?.GetType());
    }

    [CorpusTheory]
    [MemberData(nameof(RleFiles))]
    public void RleFramesEqualTheOracle(string name) => AssertFramesMatchHashes(name, RleDecoder.Instance, "default");

    [CorpusTheory]
    [MemberData(nameof(LosslessJpegFiles))]
    public void LosslessJpegFramesEqualTheOracle(string name) => AssertFramesMatchHashes(name, JpegDecoder.Instance, "default");

    [CorpusFact]
    public void LosslessPredictor6WorkaroundRestoresTheOverflowedImage()
    {
        var decoder = new JpegDecoder(new JpegDecoderOptions { Predictor6Workaround = true });
        AssertFramesMatchHashes("jpeg_lossless_p14_s16_bad", decoder, "workaround_pred6");
    }

    /// <summary>Our lossy decode reproduces the IJG library's arithmetic, so it equals DCMTK's bit for bit (stricter than the ±2 allowed).</summary>
    [CorpusTheory]
    [MemberData(nameof(LossyJpegFiles))]
    public void LossyJpegFramesEqualTheOracleExactly(string name) => AssertFramesMatchHashes(name, JpegDecoder.Instance, "default");

    [CorpusTheory]
    [MemberData(nameof(LossyJpegFiles))]
    public void LossyJpegFramesAreWithinTwoOfDcmtk(string name) => AssertLossyMatchesDcmtk(name, JpegDecoder.Instance, []);

    [CorpusTheory]
    [MemberData(nameof(LossyYbrJpegFiles))]
    public void LossyJpegWithoutColorConversionIsWithinTwoOfDcmtk(string name) =>
        AssertLossyMatchesDcmtk(name, new JpegDecoder(new JpegDecoderOptions { ConvertYbrToRgb = false }), ["+cn"]);

    [CorpusTheory]
    [MemberData(nameof(RleFiles))]
    public void RleEncoderRoundTripsCorpusFrames(string name)
    {
        var file = DicomFile.Open(Corpus.Get(name).Path);
        var info = TestImages.GetFrameInfo(file.Dataset);
        foreach (var compressed in TestImages.GetCompressedFrames(file.Dataset, TestImages.GetNumberOfFrames(file.Dataset)))
        {
            var native = RleDecoder.Instance.Decode(compressed, info);
            var encoded = RleEncoder.Instance.Encode(native, info);
            Assert.Equal(native, RleDecoder.Instance.Decode(encoded, info));
        }
    }

    private void AssertFramesMatchHashes(string name, IFrameDecoder decoder, string variant)
    {
        var corpusFile = Corpus.Get(name);
        var expected = corpusFile.FrameHashes(variant)!;
        var file = DicomFile.Open(corpusFile.Path);
        var info = TestImages.GetFrameInfo(file.Dataset);
        var decodedInfo = decoder.GetDecodedInfo(info);
        AssertLayoutMatchesOracle(corpusFile, variant, decodedInfo);

        var frames = TestImages.GetCompressedFrames(file.Dataset, expected.Length);
        for (var i = 0; i < frames.Count; i++)
        {
            var decoded = decoder.Decode(frames[i], info);
            Assert.True(expected[i] == TestImages.Sha256(decoded), $"{name} frame {i + 1}: SHA-256 differs from the oracle's.");
        }

        output.WriteLine($"{name}: {frames.Count} frame(s) equal the oracle ({variant}).");
    }

    private void AssertLossyMatchesDcmtk(string name, IFrameDecoder decoder, string[] options)
    {
        if (!TestImages.HasTool("dcmdjpeg"))
        {
            output.WriteLine("dcmdjpeg (DCMTK) is not installed: the lossy comparison is not run.");
            return;
        }

        var corpusFile = Corpus.Get(name);
        var variant = options.Length == 0 ? "default" : "no_color_conversion";
        var expectedHashes = corpusFile.FrameHashes(variant)!;
        using var temp = new TestImages.TempDirectory();
        var referencePath = temp.File("reference.dcm");
        TestImages.Run("dcmdjpeg", [.. options, "+te", "+px", corpusFile.Path, referencePath]);
        var reference = DicomFile.Open(referencePath).Dataset;
        var referencePixels = Assert.IsType<DicomValueElement>(reference[TestImages.PixelData]).Span;

        var file = DicomFile.Open(corpusFile.Path);
        var info = TestImages.GetFrameInfo(file.Dataset);
        var decodedInfo = decoder.GetDecodedInfo(info);
        AssertLayoutMatchesOracle(corpusFile, variant, decodedInfo);
        var frameLength = (int)decodedInfo.FrameLength;
        var frames = TestImages.GetCompressedFrames(file.Dataset, expectedHashes.Length);
        var exact = 0;
        var worst = 0;
        for (var i = 0; i < frames.Count; i++)
        {
            var decoded = decoder.Decode(frames[i], info);
            var expected = referencePixels.Slice(i * frameLength, frameLength);
            Assert.Equal(expectedHashes[i], TestImages.Sha256(expected)); // the reference is the oracle's decode
            var difference = MaxAbsoluteDifference(decoded, expected, decodedInfo.BitsAllocated);
            worst = Math.Max(worst, difference);
            Assert.True(difference <= 2, $"{name} frame {i + 1}: a sample differs from DCMTK's by {difference} (> 2).");
            exact += expectedHashes[i] == TestImages.Sha256(decoded) ? 1 : 0;
        }

        output.WriteLine($"{name}: {exact}/{frames.Count} frame(s) bit-exact with DCMTK, max difference {worst}.");
    }

    private static void AssertLayoutMatchesOracle(CorpusFile file, string variant, FrameInfo decoded)
    {
        if (file.PixelsProperty(variant, "photometric_interpretation") is { } photometric)
        {
            Assert.Equal(photometric.GetString(), decoded.PhotometricInterpretation);
        }

        if (decoded.SamplesPerPixel > 1 && file.PixelsProperty(variant, "planar_configuration") is { ValueKind: System.Text.Json.JsonValueKind.Number } planar)
        {
            Assert.Equal(planar.GetInt32(), decoded.PlanarConfiguration);
        }

        if (file.PixelsProperty(variant, "frame_length") is { } length)
        {
            Assert.Equal(length.GetInt64(), decoded.FrameLength);
        }
    }

    internal static int MaxAbsoluteDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, int bitsAllocated)
    {
        Assert.Equal(a.Length, b.Length);
        var worst = 0;
        if (bitsAllocated == 16)
        {
            for (var i = 0; i + 1 < a.Length; i += 2)
            {
                worst = Math.Max(worst, Math.Abs((a[i] | (a[i + 1] << 8)) - (b[i] | (b[i + 1] << 8))));
            }
        }
        else
        {
            for (var i = 0; i < a.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
            }
        }

        return worst;
    }
}
