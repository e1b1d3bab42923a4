using System.Buffers.Binary;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Frames;
using Hounsfield.Imaging.Transcoding;
using Xunit.Abstractions;

namespace Hounsfield.Imaging.Tests;

/// <summary>
/// <see cref="Transcoder"/>: native corpus images through every lossless encapsulated syntax and back are bit-exact,
/// encapsulated corpus files become native files with the oracle's pixels, the written files are valid Part 10 with a
/// correct Basic Offset Table, and DCMTK reads what we write.
/// </summary>
public sealed class TranscoderTests(ITestOutputHelper output)
{
    private static readonly DicomTransferSyntax[] LosslessSyntaxes =
    [
        DicomTransferSyntax.RleLossless,
        DicomTransferSyntax.JpegLosslessSV1,
        DicomTransferSyntax.JpegLSLossless,
        DicomTransferSyntax.Jpeg2000Lossless,
        DicomTransferSyntax.DeflatedImageFrameCompression,
    ];

    public static TheoryData<string> NativeImages => NativeCodecTests.NativeImages;

    public static TheoryData<string> EncapsulatedWithHashes => Corpus.Names(f =>
        f.Status != "malformed" && DicomTransferSyntax.TryLookup(f.TransferSyntaxUid, out var syntax) && syntax.IsEncapsulated && !syntax.IsLossy
        && (f.FrameHashes() ?? f.FrameHashes("reference_from_uncompressed_original")) is not null);

    [CorpusTheory]
    [MemberData(nameof(NativeImages))]
    public void NativeImagesRoundTripThroughEveryLosslessSyntax(string name)
    {
        var original = DicomFile.Open(Corpus.Get(name).Path);
        var originalReader = PixelDataReader.Create(original)!;
        var frames = Enumerable.Range(0, originalReader.FrameCount).Select(i => originalReader.ReadFrame(i).Data).ToArray();
        var report = new List<string>();
        foreach (var syntax in LosslessSyntaxes.Where(s => CanEncode(s, originalReader.Description)))
        {
            // Through Part 10 bytes both ways, as a file on disk would go.
            var encoded = DicomFile.Read(Transcoder.Transcode(original, syntax).ToBytes());
            Assert.Equal(syntax, encoded.TransferSyntax);
            var sequence = Assert.IsType<DicomFragmentSequence>(encoded.Dataset[DicomTag.PixelData]);
            Assert.Equal(frames.Length, sequence.Fragments.Count);
            AssertBasicOffsetTable(sequence);

            var decoded = DicomFile.Read(Transcoder.Transcode(encoded, DicomTransferSyntax.ExplicitVRLittleEndian).ToBytes());
            var reader = PixelDataReader.Create(decoded)!;
            Assert.False(reader.IsEncapsulated);
            Assert.Equal(originalReader.Description.PhotometricInterpretation, reader.Description.PhotometricInterpretation);
            Assert.Equal(frames.Length, reader.FrameCount);
            for (var i = 0; i < frames.Length; i++)
            {
                Assert.True(frames[i].AsSpan().SequenceEqual(InOriginalLayout(reader.ReadFrame(i), originalReader.Description)), $"{name} via {syntax.Name}: frame {i + 1} differs");
            }

            report.Add($"{syntax.Name} {sequence.Fragments.Sum(f => f.Length)} bytes");
        }

        output.WriteLine($"{name}: " + string.Join("; ", report));
    }

    [CorpusTheory]
    [MemberData(nameof(EncapsulatedWithHashes))]
    public void EncapsulatedFilesBecomeNativeFilesWithTheOraclePixels(string name)
    {
        var corpusFile = Corpus.Get(name);
        var expected = corpusFile.FrameHashes() ?? corpusFile.FrameHashes("reference_from_uncompressed_original")!;
        var native = DicomFile.Read(Transcoder.Transcode(DicomFile.Open(corpusFile.Path), DicomTransferSyntax.ExplicitVRLittleEndian).ToBytes());
        Assert.Equal(DicomTransferSyntax.ExplicitVRLittleEndian, native.TransferSyntax);
        var reader = PixelDataReader.Create(native)!;
        Assert.False(reader.IsEncapsulated);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(expected[i] == TestImages.Sha256(reader.ReadFrame(i).Data), $"{name} frame {i + 1} differs from the oracle");
        }

        var photometric = corpusFile.PixelsProperty("default", "photometric_interpretation") ?? corpusFile.PixelsProperty("reference_from_uncompressed_original", "photometric_interpretation");
        Assert.Equal(photometric?.GetString(), native.Dataset.GetString(DicomTag.PhotometricInterpretation)?.Trim());
    }

    [CorpusFact]
    public void LossyTargetsMarkTheDataSetLossy()
    {
        var original = DicomFile.Open(Corpus.Get("evrle_ct_small").Path);
        var lossy = Transcoder.Transcode(original, DicomTransferSyntax.Jpeg2000);
        Assert.Equal("01", lossy.Dataset.GetString(DicomTag.LossyImageCompression));
        Assert.Equal("ISO_15444_1", lossy.Dataset.GetString(DicomTag.LossyImageCompressionMethod)?.Trim());
        var ratio = double.Parse(lossy.Dataset.GetString(DicomTag.LossyImageCompressionRatio)!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(ratio, 8, 12);

        // A lossless encoder writing the lossy syntax loses nothing and marks nothing.
        var lossless = Transcoder.Transcode(original.Dataset, original.TransferSyntax, DicomTransferSyntax.Jpeg2000, Jpeg2000Encoder.Lossless);
        Assert.Null(lossless.GetString(DicomTag.LossyImageCompression));
    }

    [CorpusFact]
    public void RgbThroughJpeg2000IsRecordedAsYbrRctAndComesBackRgb()
    {
        var original = DicomFile.Open(Corpus.Get("us_rgb_planar1").Path);
        var encoded = Transcoder.Transcode(original, DicomTransferSyntax.Jpeg2000Lossless);
        Assert.Equal("YBR_RCT", encoded.Dataset.GetString(DicomTag.PhotometricInterpretation));
        Assert.Equal(0, encoded.Dataset.GetValue<int>(DicomTag.PlanarConfiguration));
        var decoded = Transcoder.Transcode(encoded, DicomTransferSyntax.ExplicitVRLittleEndian);
        Assert.Equal("RGB", decoded.Dataset.GetString(DicomTag.PhotometricInterpretation));
        Assert.Equal(0, decoded.Dataset.GetValue<int>(DicomTag.PlanarConfiguration));
    }

    [CorpusFact]
    public void NativeToNativeKeepsThePixelDataAndUnknownTargetsAreRefused()
    {
        var original = DicomFile.Open(Corpus.Get("evrbe_mr_small").Path);
        var implicitLe = Transcoder.Transcode(original, DicomTransferSyntax.ImplicitVRLittleEndian);
        Assert.Same(original.Dataset[DicomTag.PixelData], implicitLe.Dataset[DicomTag.PixelData]);
        Assert.Throws<NotSupportedException>(() => Transcoder.Transcode(original, DicomTransferSyntax.HtJpeg2000Lossless));
    }

    /// <summary>DCMTK (dcmdjpls, dcmdrle) decodes the JPEG-LS and RLE files we write to the original pixels.</summary>
    [CorpusTheory]
    [InlineData("emri_10frame", "1.2.840.10008.1.2.4.80", "dcmdjpls")]
    [InlineData("us_rgb_planar1", "1.2.840.10008.1.2.4.80", "dcmdjpls")] // recorded colour-by-pixel: dcmdjpls restores that
    [InlineData("ybr_full_uncompressed", "1.2.840.10008.1.2.4.80", "dcmdjpls")]
    [InlineData("evrle_ct_small", "1.2.840.10008.1.2.5", "dcmdrle")]
    public void DcmtkDecodesWhatWeWrite(string name, string uid, string tool)
    {
        if (!TestImages.HasTool(tool))
        {
            output.WriteLine($"{tool} (DCMTK) is not installed: not run.");
            return;
        }

        using var temp = new TestImages.TempDirectory();
        var corpusFile = Corpus.Get(name);
        Transcoder.Transcode(DicomFile.Open(corpusFile.Path), DicomTransferSyntax.Lookup(uid)).Save(temp.File("encoded.dcm"));
        TestImages.Run(tool, "+te", temp.File("encoded.dcm"), temp.File("decoded.dcm"));
        var original = PixelDataReader.Create(DicomFile.Open(corpusFile.Path))!;
        var decoded = PixelDataReader.Create(DicomFile.Open(temp.File("decoded.dcm")))!;
        Assert.Equal(original.Description.PhotometricInterpretation, decoded.Description.PhotometricInterpretation);
        Assert.Equal(original.FrameCount, decoded.FrameCount);
        for (var i = 0; i < original.FrameCount; i++)
        {
            Assert.True(original.ReadFrame(i).Data.AsSpan().SequenceEqual(InOriginalLayout(decoded.ReadFrame(i), original.Description)), $"{tool} frame {i + 1} differs");
        }
    }

    private static bool CanEncode(DicomTransferSyntax syntax, PixelDataDescription description)
    {
        if (description.IsSubsampled422)
        {
            return syntax == DicomTransferSyntax.DeflatedImageFrameCompression;
        }

        return syntax.Uid switch
        {
            FrameCodecs.DeflatedImageFrameCompression => true,
            FrameCodecs.RleLossless => description.BitsAllocated % 8 == 0,

            // The JPEG decoder turns YBR into RGB, lossless processes included: YBR_FULL does not come back as stored.
            FrameCodecs.JpegLosslessSV1 => description.BitsAllocated is 8 or 16 && description.SamplesPerPixel is 1 or 3 && !description.PhotometricInterpretation.StartsWith("YBR", StringComparison.Ordinal),
            _ => description.BitsAllocated is 8 or 16 && description.SamplesPerPixel is 1 or 3,
        };
    }

    /// <summary>A decoded frame rearranged to the original planar configuration (the encoders record colour-by-pixel).</summary>
    private static byte[] InOriginalLayout(PixelFrame frame, PixelDataDescription original)
    {
        if (original.SamplesPerPixel == 1 || frame.Description.PlanarConfiguration == original.PlanarConfiguration)
        {
            return frame.Data;
        }

        var result = new byte[frame.Data.Length];
        SampleLayout.Convert(frame.Data, original.BytesPerSample, frame.Description.PlanarConfiguration == 1, result, original.BytesPerSample, original.PlanarConfiguration == 1, original.Rows * original.Columns, original.SamplesPerPixel);
        return result;
    }

    /// <summary>One offset per fragment, each the position of that fragment's item measured from the first fragment's item.</summary>
    private static void AssertBasicOffsetTable(DicomFragmentSequence sequence)
    {
        var offsets = sequence.GetBasicOffsets();
        Assert.Equal(sequence.Fragments.Count, offsets.Length);
        long position = 0;
        for (var i = 0; i < offsets.Length; i++)
        {
            Assert.Equal(position, offsets[i]);
            Assert.Equal(0, sequence.Fragments[i].Length % 2);
            position += 8 + sequence.Fragments[i].Length;
        }
    }
}
