using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Hounsfield.Imaging.Frames;

namespace Hounsfield.Imaging.Tests;

/// <summary>Native frame access (PS3.5 §8.1): every frame of the corpus's native files against the oracle's hashes.</summary>
public sealed class FrameTests
{
    /// <summary>Native files (read in a native transfer syntax, incl. deflated and big endian) whose frames DCMTK hashed.</summary>
    public static TheoryData<string> NativeFiles => Corpus.Names(f =>
        f.FrameHashes() is not null
        && (string.IsNullOrEmpty(f.TransferSyntaxUid) || (DicomTransferSyntax.TryLookup(f.TransferSyntaxUid, out var syntax) && syntax.IsNative)));

    [CorpusTheory]
    [MemberData(nameof(NativeFiles))]
    public void NativeFramesEqualTheOracle(string name)
    {
        var corpusFile = Corpus.Get(name);
        var expected = corpusFile.FrameHashes()!;
        var reader = PixelDataReader.Create(DicomFile.Open(corpusFile.Path));
        Assert.NotNull(reader);
        Assert.Equal(expected.Length, reader.FrameCount);
        for (var i = 0; i < expected.Length; i++)
        {
            var frame = reader.ReadFrame(i);
            Assert.Equal(reader.Description.FrameLength, frame.Data.Length);
            Assert.True(expected[i] == TestImages.Sha256(frame.Data), $"frame {i + 1} differs from the oracle");
        }
    }

    /// <summary>Encapsulated files whose decoder is available here, against DCMTK's (or the uncompressed original's) hashes.</summary>
    public static TheoryData<string> EncapsulatedFiles => Corpus.Names(f =>
        f.Status != "malformed" && FrameHashesOrReference(f) is not null
        && DicomTransferSyntax.TryLookup(f.TransferSyntaxUid, out var syntax) && syntax.IsEncapsulated
        && !syntax.IsLossy && Codecs.FrameCodecs.IsAvailable(syntax.Uid));

    [CorpusTheory]
    [MemberData(nameof(EncapsulatedFiles))]
    public void EncapsulatedFramesAreSplitAndDecodedLikeTheOracle(string name)
    {
        var corpusFile = Corpus.Get(name);
        var expected = FrameHashesOrReference(corpusFile)!;
        var reader = PixelDataReader.Create(DicomFile.Open(corpusFile.Path))!;
        Assert.True(reader.IsEncapsulated);
        Assert.Equal(expected.Length, reader.FrameCount);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(expected[i] == TestImages.Sha256(reader.ReadFrame(i).Data), $"frame {i + 1} differs from the oracle");
        }
    }

    [Fact]
    public void FragmentsAreGroupedIntoFramesByTheBasicOffsetTable()
    {
        // Two RLE frames, each split into two fragments; the Basic Offset Table points at each frame's first item.
        var dataset = RenderingTests.Image(16, 8, 8, 8, false, new byte[256]);
        dataset.AddOrUpdate(DicomTag.NumberOfFrames, "2");
        var info = PixelDataReader.Create(dataset)!.Description.ToFrameInfo();
        var frames = new[] { Pattern(128, 1), Pattern(128, 2) };
        var fragments = new List<DicomBuffer>();
        var offsets = new List<uint>();
        uint position = 0;
        foreach (var frame in frames)
        {
            offsets.Add(position);
            var encoded = Codecs.RleEncoder.Instance.Encode(frame, info);
            var half = encoded.Length / 2 & ~1;
            foreach (var part in new[] { encoded[..half], encoded[half..] })
            {
                fragments.Add(DicomBuffer.FromBytes(part));
                position += 8 + (uint)part.Length;
            }
        }

        var table = System.Runtime.InteropServices.MemoryMarshal.AsBytes(offsets.ToArray().AsSpan()).ToArray();
        dataset.Add(new DicomFragmentSequence(DicomTag.PixelData, DicomVR.OB, DicomBuffer.FromBytes(table), fragments));
        var reader = PixelDataReader.Create(dataset, DicomTransferSyntax.RleLossless)!;
        Assert.Equal(frames[0], reader.ReadFrame(0).Data);
        Assert.Equal(frames[1], reader.ReadFrame(1).Data);
    }

    [Fact]
    public void WithoutAnOffsetTableFramesStartAtEachCodestream()
    {
        // Three JPEG frames (our baseline encoder), each in two fragments, empty Basic Offset Table (PS3.5 A.4).
        var dataset = RenderingTests.Image(32, 16, 8, 8, false, new byte[512]);
        dataset.AddOrUpdate(DicomTag.NumberOfFrames, "3");
        var fragments = new List<DicomBuffer>();
        for (var f = 0; f < 3; f++)
        {
            var image = new Rendering.RenderedImage(32, 16, 1, Enumerable.Repeat((byte)(40 + (f * 80)), 512).ToArray());
            var jpeg = Encoders.JpegEncoder.Encode(image, new Encoders.JpegOptions { Quality = 95 });
            fragments.Add(DicomBuffer.FromBytes(jpeg[..100]));
            fragments.Add(DicomBuffer.FromBytes(jpeg[100..]));
        }

        dataset.Add(new DicomFragmentSequence(DicomTag.PixelData, DicomVR.OB, DicomBuffer.Empty, fragments));
        var reader = PixelDataReader.Create(dataset, DicomTransferSyntax.JpegBaseline)!;
        for (var f = 0; f < 3; f++)
        {
            Assert.All(reader.ReadFrame(f).Data, v => Assert.InRange(v, 39 + (f * 80), 41 + (f * 80)));
        }
    }

    [Fact]
    public void AnUndecodableTransferSyntaxIsReportedAsNotSupported()
    {
        var dataset = RenderingTests.Image(2, 2, 8, 8, false, new byte[4]);
        dataset.Remove(DicomTag.PixelData);
        dataset.Add(new DicomFragmentSequence(DicomTag.PixelData, DicomVR.OB, DicomBuffer.Empty, [DicomBuffer.FromBytes(new byte[4])]));
        var reader = PixelDataReader.Create(dataset, DicomTransferSyntax.Lookup("1.2.840.10008.1.2.4.100"))!;
        Assert.Throws<NotSupportedException>(() => reader.ReadFrame(0));
    }

    [CorpusFact]
    public void FramesAreReadLazilyFromTheFile()
    {
        // A lazily loaded Pixel Data value stays on disk: reading a frame does not load the value.
        var file = DicomFile.Open(Corpus.Get("emri_10frame").Path, new DicomReadOptions { LazyValueThreshold = 1024 });
        var element = Assert.IsType<DicomValueElement>(file.Dataset[DicomTag.PixelData]);
        Assert.False(element.Buffer.IsInMemory);
        var reader = PixelDataReader.Create(file)!;
        var last = reader.ReadFrame(reader.FrameCount - 1);
        Assert.Equal(Corpus.Get("emri_10frame").FrameHashes()![^1], TestImages.Sha256(last.Data));
    }

    [Fact]
    public void OneBitFramesThatAreNotByteAlignedAreRepackedFromBitZero()
    {
        // 3x3 frames of 1-bit samples: 9 bits each, so frame 2 starts at bit 1 of byte 1.
        var bits = new bool[27];
        for (var i = 0; i < bits.Length; i++)
        {
            bits[i] = i % 3 == 0 || i % 7 == 0;
        }

        var packed = new byte[4];
        for (var i = 0; i < bits.Length; i++)
        {
            if (bits[i])
            {
                packed[i / 8] |= (byte)(1 << (i % 8));
            }
        }

        var dataset = RenderingTests.Image(3, 3, 1, 1, false, packed);
        dataset.AddOrUpdate(DicomTag.NumberOfFrames, "3");
        var reader = PixelDataReader.Create(dataset)!;
        Assert.Equal(3, reader.FrameCount);
        for (var f = 0; f < 3; f++)
        {
            var frame = reader.ReadFrame(f);
            Assert.Equal(2, frame.Data.Length);
            for (var i = 0; i < 9; i++)
            {
                Assert.Equal(bits[(f * 9) + i], ((frame.Data[i / 8] >> (i % 8)) & 1) == 1);
            }

            Assert.Equal(0, frame.Data[1] >> 1); // padding bits are zero
        }
    }

    [Fact]
    public void PlanarConfigurationOneIsInterleavedForRendering()
    {
        // Two RGB pixels colour-by-plane: R R G G B B.
        var dataset = RenderingTests.Image(2, 1, 8, 8, false, [1, 2, 3, 4, 5, 6], samples: 3);
        dataset.AddOrUpdate<ushort>(DicomTag.PlanarConfiguration, DicomVR.US, 1);
        var frame = PixelDataReader.Create(dataset)!.ReadFrame(0);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, frame.Data);
        var interleaved = frame.ToColorByPixel();
        Assert.Equal(new byte[] { 1, 3, 5, 2, 4, 6 }, interleaved.Data);
        Assert.Equal(0, interleaved.Description.PlanarConfiguration);
    }

    [Fact]
    public void YbrFull422NativeHoldsTwoLumaAndOneChromaPairPerPixelPair()
    {
        // 4x1: Y1 Y2 Cb Cr  Y3 Y4 Cb Cr → frame of 8 bytes, expanded to 12.
        var dataset = RenderingTests.Image(4, 1, 8, 8, false, [10, 20, 100, 200, 30, 40, 110, 210], samples: 3);
        dataset.AddOrUpdate(DicomTag.PhotometricInterpretation, "YBR_FULL_422");
        var reader = PixelDataReader.Create(dataset)!;
        Assert.Equal(8, reader.Description.FrameLength);
        var expanded = reader.ReadFrame(0).ToColorByPixel();
        Assert.Equal("YBR_FULL", expanded.PhotometricInterpretation);
        Assert.Equal(new byte[] { 10, 100, 200, 20, 100, 200, 30, 110, 210, 40, 110, 210 }, expanded.Data);
    }

    [Fact]
    public void ATruncatedValueFailsWithTheFrameNumber()
    {
        var dataset = RenderingTests.Image(4, 4, 8, 8, false, new byte[24]);
        dataset.AddOrUpdate(DicomTag.NumberOfFrames, "2");
        var reader = PixelDataReader.Create(dataset)!;
        reader.ReadFrame(0);
        var error = Assert.Throws<DicomFormatException>(() => reader.ReadFrame(1));
        Assert.Contains("frame 2", error.Message, StringComparison.Ordinal);
    }

    private static string[]? FrameHashesOrReference(CorpusFile file)
    {
        if (file.FrameHashes() is { } hashes)
        {
            return hashes;
        }

        return file.Manifest.TryGetProperty("pixels", out var pixels) && pixels.ValueKind == System.Text.Json.JsonValueKind.Object
            && pixels.TryGetProperty("reference_from_uncompressed_original", out var reference)
            && reference.ValueKind == System.Text.Json.JsonValueKind.Object
            && reference.TryGetProperty("frame_sha256", out var frames)
            ? [.. frames.EnumerateArray().Select(h => h.GetString()!)]
            : null;
    }

    private static byte[] Pattern(int length, int seed) => [.. Enumerable.Range(0, length).Select(i => (byte)((i * seed * 7) + (i / 5)))];

    [Fact]
    public void AMalformedNumberOfFramesCountsAsOne()
    {
        var dataset = RenderingTests.Image(2, 2, 8, 8, false, new byte[4]);
        dataset.Add(new DicomValueElement(DicomTag.NumberOfFrames, DicomVR.IS, "1A"u8.ToArray()));
        Assert.Equal(1, PixelDataReader.Create(dataset)!.FrameCount);
    }
}
