using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;
using Xunit.Abstractions;

namespace Hounsfield.Imaging.Tests;

/// <summary>
/// JPEG streams the test makes with DCMTK's dcmcjpeg from native corpus images (every lossless predictor, point
/// transforms, 12-bit extended, 4:2:2 / 4:1:1 / 4:4:4 sampling, RGB without transform, standard Huffman tables,
/// frames split over several fragments), decoded by us and by dcmdjpeg: lossless exactly equal, lossy within 2.
/// </summary>
public sealed class GeneratedJpegTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> Cases => new()
    {
        { "evrle_ct_small", "+el +sv 1" },
        { "evrle_ct_small", "+el +sv 2" },
        { "evrle_ct_small", "+el +sv 3" },
        { "evrle_ct_small", "+el +sv 4" },
        { "evrle_ct_small", "+el +sv 5" },
        { "evrle_ct_small", "+el +sv 6" },
        { "evrle_ct_small", "+el +sv 7" },
        { "evrle_ct_small", "+el +sv 7 +pt 3" },
        { "ivrle_mr_small", "+e1 +pt 1" },
        { "emri_10frame", "+e1 +fs 1" },
        { "modality_lut_sequence", "+el +sv 5" },
        { "mono1_cr_chest", "+el +sv 4 +pt 2" },
        { "us_rgb_planar0", "+e1" },
        { "us_rgb_planar1", "+el +sv 7" },
        { "rgb_odd_3x3", "+el +sv 4" },
        { "charset_arabic", "+el +sv 2 +pt 4" },
        { "voi_lut_sequence", "+eb" },
        { "voi_lut_sequence", "+eb -ho +q 50" },
        { "emri_10frame", "+ee" },
        { "mono1_cr_chest", "+ee +q 75" },
        { "modality_lut_sequence", "+ee" },
        { "us_rgb_planar0", "+eb" },
        { "us_rgb_planar0", "+eb +n1" },
        { "us_rgb_planar0", "+eb +s4 -ho" },
        { "us_rgb_planar1", "+eb +cr" },
        { "us_rgb_planar0", "+ee +np" },
        { "rgb_odd_3x3", "+eb" },
        { "rgb_odd_3x3", "+eb +n1" },
        { "ybr_full_uncompressed", "+eb" },
    };

    [CorpusTheory]
    [MemberData(nameof(Cases))]
    public void DecodesLikeDcmtk(string source, string encodeOptions)
    {
        if (!TestImages.HasTool("dcmcjpeg") || !TestImages.HasTool("dcmdjpeg"))
        {
            output.WriteLine("DCMTK (dcmcjpeg, dcmdjpeg) is not installed: not run.");
            return;
        }

        using var temp = new TestImages.TempDirectory();
        var compressedPath = temp.File("compressed.dcm");
        var referencePath = temp.File("reference.dcm");
        TestImages.Run("dcmcjpeg", [.. encodeOptions.Split(' '), Corpus.Get(source).Path, compressedPath]);
        TestImages.Run("dcmdjpeg", ["+te", "+px", compressedPath, referencePath]);

        var compressed = DicomFile.Open(compressedPath).Dataset;
        var reference = DicomFile.Open(referencePath).Dataset;
        var info = TestImages.GetFrameInfo(compressed);
        var decoder = JpegDecoder.Instance;
        var decodedInfo = decoder.GetDecodedInfo(info);
        var referenceInfo = TestImages.GetFrameInfo(reference);
        Assert.Equal(referenceInfo.PhotometricInterpretation, decodedInfo.PhotometricInterpretation);
        Assert.Equal(referenceInfo.BitsAllocated, decodedInfo.BitsAllocated);
        if (referenceInfo.SamplesPerPixel > 1)
        {
            Assert.Equal(referenceInfo.PlanarConfiguration, decodedInfo.PlanarConfiguration);
        }

        var lossless = encodeOptions.StartsWith("+el", StringComparison.Ordinal) || encodeOptions.StartsWith("+e1", StringComparison.Ordinal);
        var frames = TestImages.GetCompressedFrames(compressed, TestImages.GetNumberOfFrames(compressed));
        var referencePixels = Assert.IsType<DicomValueElement>(reference[TestImages.PixelData]).Span;
        var frameLength = (int)decodedInfo.FrameLength;
        var exact = 0;
        var worst = 0;
        for (var i = 0; i < frames.Count; i++)
        {
            var decoded = decoder.Decode(frames[i], info);
            var expected = referencePixels.Slice(i * frameLength, frameLength);
            if (lossless)
            {
                Assert.True(expected.SequenceEqual(decoded), $"frame {i + 1} differs from DCMTK's lossless decode");
            }

            var difference = CodecTests.MaxAbsoluteDifference(decoded, expected, decodedInfo.BitsAllocated);
            Assert.True(difference <= 2, $"frame {i + 1}: a sample differs from DCMTK's by {difference} (> 2).");
            worst = Math.Max(worst, difference);
            exact += expected.SequenceEqual(decoded) ? 1 : 0;
        }

        output.WriteLine($"{source} {encodeOptions}: {exact}/{frames.Count} frame(s) bit-exact with DCMTK, max difference {worst}.");
    }
}
