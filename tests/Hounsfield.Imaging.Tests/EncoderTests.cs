using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Hounsfield.Imaging.Codecs;
using Xunit.Abstractions;

namespace Hounsfield.Imaging.Tests;

/// <summary>The RLE and JPEG lossless encoders: round trips through our decoders, and JPEG lossless through DCMTK's.</summary>
public sealed class EncoderTests(ITestOutputHelper output)
{
    /// <summary>Components as coded: a YBR_FULL image stays YBR_FULL (our encoder applies no colour transform).</summary>
    private static readonly JpegDecoder RawDecoder = new(new JpegDecoderOptions { ConvertYbrToRgb = false });

    public static TheoryData<int, int, int, int> Layouts => new()
    {
        // samples, bits allocated, bits stored, planar configuration
        { 1, 8, 8, 0 },
        { 1, 16, 12, 0 },
        { 1, 16, 16, 0 },
        { 3, 8, 8, 0 },
        { 3, 8, 8, 1 },
        { 3, 16, 16, 1 },
    };

    public static TheoryData<string> NativeFiles => Corpus.Names(f =>
        f.TransferSyntaxUid is "1.2.840.10008.1.2.1" or "1.2.840.10008.1.2" && f.Status == "valid" && f.FrameHashes() is not null
        && f.Manifest.TryGetProperty("bits_allocated", out var bits) && bits.ValueKind == System.Text.Json.JsonValueKind.Number
        && bits.GetInt32() is 8 or 16 && f.Manifest.GetProperty("photometric_interpretation").GetString() != "YBR_FULL_422");

    [Theory]
    [MemberData(nameof(Layouts))]
    public void RleRoundTripsGeneratedFrames(int samples, int bitsAllocated, int bitsStored, int planar)
    {
        var info = new FrameInfo(23, 29, samples, bitsAllocated, bitsStored, 0, samples == 1 ? "MONOCHROME2" : "RGB", planar);
        var native = Generate(info, seed: samples + bitsAllocated + planar);
        var encoded = RleEncoder.Instance.Encode(native, info);
        Assert.Equal(native, RleDecoder.Instance.Decode(encoded, info));
    }

    [Fact]
    public void PackBitsFollowsAnnexG()
    {
        Span<byte> buffer = stackalloc byte[300];

        // A run of three or more is a replicate run; others are literals; rows never merge.
        var written = RleEncoder.PackBits([1, 2, 2, 2, 3], buffer);
        Assert.Equal(new byte[] { 0, 1, 0xFE, 2, 0, 3 }, buffer[..written].ToArray());

        // 200 equal bytes: runs of at most 128.
        written = RleEncoder.PackBits(Enumerable.Repeat((byte)9, 200).ToArray(), buffer);
        Assert.Equal(new byte[] { 0x81, 9, 0xB9, 9 }, buffer[..written].ToArray());

        // -128 is a no-op for the decoder.
        var decoded = new byte[3];
        RleDecoder.DecodeSegment([0x80, 0x02, 7, 8, 9], decoded, 0);
        Assert.Equal(new byte[] { 7, 8, 9 }, decoded);
    }

    [Theory]
    [InlineData(1, 0, 0)]
    [InlineData(2, 0, 3)]
    [InlineData(3, 0, 0)]
    [InlineData(4, 0, 1)]
    [InlineData(5, 0, 0)]
    [InlineData(6, 0, 7)]
    [InlineData(7, 0, 0)]
    [InlineData(1, 2, 2)]
    public void JpegLosslessRoundTripsGeneratedFrames(int predictor, int pointTransform, int restartRows)
    {
        var encoder = new JpegLosslessEncoder(new JpegLosslessEncoderOptions
        {
            Predictor = predictor,
            PointTransform = pointTransform,
            RestartIntervalRows = restartRows,
        });
        foreach (var (samples, bitsAllocated, bitsStored, planar) in Layouts.Select(row => ((int)row[0], (int)row[1], (int)row[2], (int)row[3])))
        {
            var info = new FrameInfo(19, 31, samples, bitsAllocated, bitsStored, 0, samples == 1 ? "MONOCHROME2" : "RGB", planar);
            var native = Generate(info, seed: predictor);
            var encoded = encoder.Encode(native, info);
            var decoded = JpegDecoder.Instance.Decode(encoded, encoder.GetEncodedInfo(info));
            var expected = ToColorByPixel(native, info);
            if (pointTransform > 0)
            {
                DropLowBits(expected, info.BitsAllocated, pointTransform);
            }

            Assert.True(expected.AsSpan().SequenceEqual(decoded), $"{samples}x{bitsAllocated}-bit planar {planar}: round trip differs");
        }
    }

    /// <summary>Our lossless streams (any predictor, restart intervals) decode in DCMTK to the original pixels, and in ours.</summary>
    [CorpusTheory]
    [MemberData(nameof(NativeFiles))]
    public void JpegLosslessStreamsDecodeInDcmtkToTheOriginal(string name)
    {
        var source = DicomFile.Open(Corpus.Get(name).Path);
        var info = TestImages.GetFrameInfo(source.Dataset);
        var frames = TestImages.GetNumberOfFrames(source.Dataset);
        var native = Assert.IsType<DicomValueElement>(source.Dataset[TestImages.PixelData]).Span.ToArray();
        var frameLength = (int)info.FrameLength;
        Assert.True(native.Length >= frameLength * frames);

        var predictor = 1 + (name.Length % 7);
        var encoder = new JpegLosslessEncoder(new JpegLosslessEncoderOptions { Predictor = predictor, RestartIntervalRows = info.Columns <= 512 ? 3 : 0 });
        var encodedInfo = encoder.GetEncodedInfo(info);
        var fragments = new List<DicomBuffer>();
        var expected = new List<byte[]>();
        for (var f = 0; f < frames; f++)
        {
            var frame = native.AsSpan(f * frameLength, frameLength);
            var encoded = encoder.Encode(frame, info);
            var colorByPixel = ToColorByPixel(frame.ToArray(), info);
            Assert.True(colorByPixel.AsSpan().SequenceEqual(RawDecoder.Decode(encoded, encodedInfo)), $"frame {f + 1}: our round trip differs");
            fragments.Add(DicomBuffer.FromBytes(encoded.Length % 2 == 0 ? encoded : [.. encoded, 0]));
            expected.Add(colorByPixel);
        }

        if (!TestImages.HasTool("dcmdjpeg"))
        {
            output.WriteLine("dcmdjpeg (DCMTK) is not installed: the interoperability check is not run.");
            return;
        }

        var dataset = source.Dataset.Clone();
        dataset.Add(new DicomFragmentSequence(TestImages.PixelData, DicomVR.OB, DicomBuffer.Empty, fragments));
        if (info.SamplesPerPixel > 1)
        {
            dataset.AddOrUpdate(new DicomTag(0x0028, 0x0006), DicomVR.US, (ushort)0);
        }

        var transferSyntax = predictor == 1 ? DicomTransferSyntax.JpegLosslessSV1 : DicomTransferSyntax.JpegLossless;
        using var temp = new TestImages.TempDirectory();
        new DicomFile(dataset, transferSyntax).Save(temp.File("ours.dcm"), transferSyntax);
        TestImages.Run("dcmdjpeg", "+cn", "+te", "+px", temp.File("ours.dcm"), temp.File("dcmtk.dcm"));
        var decoded = Assert.IsType<DicomValueElement>(DicomFile.Open(temp.File("dcmtk.dcm")).Dataset[TestImages.PixelData]).Span;
        for (var f = 0; f < frames; f++)
        {
            Assert.True(expected[f].AsSpan().SequenceEqual(decoded.Slice(f * frameLength, frameLength)), $"frame {f + 1}: DCMTK's decode of our stream differs");
        }

        output.WriteLine($"{name}: predictor {predictor}, restart every {encoder.Options.RestartIntervalRows} rows, {frames} frame(s): DCMTK decodes our stream to the original.");
    }

    public static TheoryData<string, string> BaselineCases => new()
    {
        { "us_rgb_planar0", "422" },
        { "us_rgb_planar0", "420" },
        { "us_rgb_planar1", "444" },
        { "us_rgb_planar0", "rgb" },
        { "us_rgb_planar0", "420 restart=1" },
        { "us_rgb_planar0", "422 restart=5" },
        { "us_rgb_planar0", "420 restart=3 separate" },
        { "us_rgb_planar0", "444 separate" },
        { "rgb_odd_3x3", "420" },
        { "rgb_odd_3x3", "422 restart=1" },
        { "ybr_full_uncompressed", "420" },
        { "voi_lut_sequence", "mono restart=7" },
        { "charset_arabic", "mono quality=30" },
    };

    /// <summary>
    /// Our baseline streams (4:2:0, 4:2:2, 4:4:4, RGB, restart intervals, one scan per component) decode in DCMTK
    /// as in our decoder, and close to the original: exercises the decoder's h2v2 upsampling, restarts and
    /// non-interleaved scans, which DCMTK's encoder does not produce.
    /// </summary>
    [CorpusTheory]
    [MemberData(nameof(BaselineCases))]
    public void JpegBaselineStreamsDecodeAlikeInDcmtkAndOurs(string name, string variant)
    {
        var source = DicomFile.Open(Corpus.Get(name).Path);
        var info = TestImages.GetFrameInfo(source.Dataset);
        var native = Assert.IsType<DicomValueElement>(source.Dataset[TestImages.PixelData]).Span[..(int)info.FrameLength].ToArray();
        var words = variant.Split(' ');
        var options = new JpegBaselineEncoderOptions
        {
            Quality = words.FirstOrDefault(w => w.StartsWith("quality=", StringComparison.Ordinal)) is { } q ? int.Parse(q[8..], System.Globalization.CultureInfo.InvariantCulture) : 90,
            Subsampling = words[0] switch { "420" => JpegSubsampling.HorizontalAndVertical, "422" => JpegSubsampling.Horizontal, _ => JpegSubsampling.None },
            ConvertRgbToYbr = words[0] != "rgb",
            RestartInterval = words.FirstOrDefault(w => w.StartsWith("restart=", StringComparison.Ordinal)) is { } r ? int.Parse(r[8..], System.Globalization.CultureInfo.InvariantCulture) : 0,
            Interleaved = !words.Contains("separate"),
        };
        var encoder = new JpegBaselineEncoder(options);
        var encoded = encoder.Encode(native, info);
        var encodedInfo = encoder.GetEncodedInfo(info);
        var ours = JpegDecoder.Instance.Decode(encoded, encodedInfo);

        // Close to the original (in RGB, or in the original YCbCr when the source is YBR_FULL).
        var original = ToColorByPixel(native, info);
        var reference = info.IsYbr ? RawDecoder.Decode(encoded, encodedInfo) : ours;
        var meanError = original.Zip(reference, (a, b) => Math.Abs(a - b)).Average();
        if (info.Rows >= 16 && info.Columns >= 16)
        {
            // (A tiny image of saturated single-pixel colours loses much to chroma subsampling; not checked.)
            Assert.True(meanError < (options.Quality >= 90 ? 4 : 8), $"mean absolute error {meanError:F2} against the original");
        }

        if (!TestImages.HasTool("dcmdjpeg"))
        {
            output.WriteLine("dcmdjpeg (DCMTK) is not installed: the interoperability check is not run.");
            return;
        }

        var dataset = source.Dataset.Clone();
        dataset.Add(new DicomFragmentSequence(TestImages.PixelData, DicomVR.OB, DicomBuffer.Empty, [DicomBuffer.FromBytes(encoded.Length % 2 == 0 ? encoded : [.. encoded, 0])]));
        dataset.AddOrUpdate(new DicomTag(0x0028, 0x0004), encodedInfo.PhotometricInterpretation);
        if (info.SamplesPerPixel > 1)
        {
            dataset.AddOrUpdate(new DicomTag(0x0028, 0x0006), DicomVR.US, (ushort)0);
        }

        using var temp = new TestImages.TempDirectory();
        new DicomFile(dataset, DicomTransferSyntax.JpegBaseline).Save(temp.File("ours.dcm"), DicomTransferSyntax.JpegBaseline);
        TestImages.Run("dcmdjpeg", "+te", "+px", temp.File("ours.dcm"), temp.File("dcmtk.dcm"));
        var dcmtk = DicomFile.Open(temp.File("dcmtk.dcm")).Dataset;
        Assert.Equal(TestImages.GetFrameInfo(dcmtk).PhotometricInterpretation, JpegDecoder.Instance.GetDecodedInfo(encodedInfo).PhotometricInterpretation);
        var expected = Assert.IsType<DicomValueElement>(dcmtk[TestImages.PixelData]).Span[..ours.Length];
        var difference = CodecTests.MaxAbsoluteDifference(ours, expected, 8);
        Assert.True(difference <= 2, $"a sample differs from DCMTK's decode by {difference}");
        output.WriteLine($"{name} {variant}: {encoded.Length} bytes, mean error {meanError:F2}; {(expected.SequenceEqual(ours) ? "bit-exact with" : $"within {difference} of")} DCMTK's decode.");
    }

    private static byte[] Generate(FrameInfo info, int seed)
    {
        var random = new Random(seed);
        var native = new byte[info.FrameLength];
        var max = (1 << info.BitsStored) - 1;
        var sampleCount = info.Rows * info.Columns * info.SamplesPerPixel;
        var value = max / 2;
        for (var i = 0; i < sampleCount; i++)
        {
            // Smooth areas, edges and the extremes, so that every difference category occurs.
            value = (i % 53) switch
            {
                0 => 0,
                1 => max,
                < 20 => value,
                _ => Math.Clamp(value + random.Next(-300, 301), 0, max),
            };
            if (info.BitsAllocated == 8)
            {
                native[i] = (byte)value;
            }
            else
            {
                native[2 * i] = (byte)value;
                native[(2 * i) + 1] = (byte)(value >> 8);
            }
        }

        return native;
    }

    private static byte[] ToColorByPixel(byte[] native, FrameInfo info)
    {
        if (info.SamplesPerPixel == 1 || info.PlanarConfiguration == 0)
        {
            return native;
        }

        var bytes = info.BitsAllocated / 8;
        var pixels = info.Rows * info.Columns;
        var result = new byte[native.Length];
        for (var p = 0; p < pixels; p++)
        {
            for (var c = 0; c < info.SamplesPerPixel; c++)
            {
                native.AsSpan(((c * pixels) + p) * bytes, bytes).CopyTo(result.AsSpan(((p * info.SamplesPerPixel) + c) * bytes));
            }
        }

        return result;
    }

    private static void DropLowBits(byte[] samples, int bitsAllocated, int bits)
    {
        if (bitsAllocated == 8)
        {
            for (var i = 0; i < samples.Length; i++)
            {
                samples[i] = (byte)(samples[i] >> bits << bits);
            }
        }
        else
        {
            for (var i = 0; i + 1 < samples.Length; i += 2)
            {
                var value = (ushort)((samples[i] | (samples[i + 1] << 8)) >> bits << bits);
                samples[i] = (byte)value;
                samples[i + 1] = (byte)(value >> 8);
            }
        }
    }
}
