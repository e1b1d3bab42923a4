using System.Buffers.Binary;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Codecs.Native;
using Hounsfield.Imaging.Frames;
using Xunit.Abstractions;

namespace Hounsfield.Imaging.Tests;

/// <summary>
/// JPEG-LS (CharLS), JPEG 2000 / HTJ2K (OpenJPEG) and deflated image frames: the corpus against the oracle's hashes
/// (DCMTK's decode, or the uncompressed original's pixels), lossy files against their tolerance, round trips of every
/// lossless-capable native corpus image, malformed streams, and a missing library.
/// </summary>
public sealed class NativeCodecTests(ITestOutputHelper output)
{
    private const string JpegLSLossless = "1.2.840.10008.1.2.4.80";
    private const string JpegLSNear = "1.2.840.10008.1.2.4.81";
    private const string J2kLossless = "1.2.840.10008.1.2.4.90";
    private const string J2k = "1.2.840.10008.1.2.4.91";
    private const string Htj2kLossless = "1.2.840.10008.1.2.4.201";
    private const string DeflatedFrames = "1.2.840.10008.1.2.8.1";

    /// <summary>JPEG-LS files DCMTK decoded: lossless and near-lossless are both exactly specified, so the hashes must match.</summary>
    public static TheoryData<string> JpegLsFiles => Corpus.Names(f => f.TransferSyntaxUid is JpegLSLossless or JpegLSNear && f.FrameHashes() is not null);

    /// <summary>Lossless files DCMTK cannot decode, with the hashes of their uncompressed originals.</summary>
    public static TheoryData<string> ReferenceFiles => Corpus.Names(f =>
        f.TransferSyntaxUid is J2kLossless or Htj2kLossless or DeflatedFrames && f.FrameHashes("reference_from_uncompressed_original") is not null);

    /// <summary>Native corpus images (integer pixel data) to round-trip through the lossless encoders.</summary>
    public static TheoryData<string> NativeImages => Corpus.Names(f =>
        f.FrameHashes() is not null && f.Status != "malformed"
        && DicomTransferSyntax.TryLookup(f.TransferSyntaxUid, out var syntax) && syntax.IsNative
        && f.Manifest.TryGetProperty("pixel_data_element", out var element) && element.GetString() == "PixelData");

    [Theory]
    [InlineData(JpegLSLossless, typeof(JpegLsDecoder), typeof(JpegLsEncoder))]
    [InlineData(JpegLSNear, typeof(JpegLsDecoder), typeof(JpegLsEncoder))]
    [InlineData(J2kLossless, typeof(Jpeg2000Decoder), typeof(Jpeg2000Encoder))]
    [InlineData(J2k, typeof(Jpeg2000Decoder), typeof(Jpeg2000Encoder))]
    [InlineData(Htj2kLossless, typeof(Jpeg2000Decoder), null)]
    [InlineData("1.2.840.10008.1.2.4.202", typeof(Jpeg2000Decoder), null)]
    [InlineData("1.2.840.10008.1.2.4.203", typeof(Jpeg2000Decoder), null)]
    [InlineData(DeflatedFrames, typeof(DeflatedFrameCodec), typeof(DeflatedFrameCodec))]
    public void NativeCodecsAreFoundByTransferSyntax(string uid, Type decoder, Type? encoder)
    {
        Assert.Equal(decoder, FrameCodecs.GetDecoder(uid)?.GetType());
        Assert.Equal(encoder, FrameCodecs.GetEncoder(uid)?.GetType());
        Assert.True(FrameCodecs.IsAvailable(uid), $"{uid}: the native library is not installed (scripts/install-prerequisites installs it)");
    }

    [Fact]
    public void EncodersNameTheirTransferSyntax()
    {
        Assert.Equal(JpegLSLossless, JpegLsEncoder.Lossless.TransferSyntaxUid);
        Assert.Equal(JpegLSNear, JpegLsEncoder.NearLossless.TransferSyntaxUid);
        Assert.Equal(J2kLossless, Jpeg2000Encoder.Lossless.TransferSyntaxUid);
        Assert.Equal(J2k, Jpeg2000Encoder.Lossy.TransferSyntaxUid);
    }

    [CorpusTheory]
    [MemberData(nameof(JpegLsFiles))]
    public void JpegLsFramesEqualTheOracle(string name) => AssertFramesMatch(name, JpegLsDecoder.Instance, "default");

    [CorpusTheory]
    [MemberData(nameof(ReferenceFiles))]
    public void LosslessFramesEqualTheUncompressedOriginal(string name) =>
        AssertFramesMatch(name, FrameCodecs.GetDecoder(Corpus.Get(name).TransferSyntaxUid)!, "reference_from_uncompressed_original");

    /// <summary>
    /// DCMTK fails on this file and there is no reference: the decode must succeed and hold 7-bit samples that vary
    /// (pydicom's JLSL_08_07_0_1F, a 7-bit image).
    /// </summary>
    [CorpusFact]
    public void JpegLsSevenBitImageDecodesToSevenBitSamples()
    {
        var (info, frames) = Compressed("jpegls_lossless_u8_7bit");
        var decoded = JpegLsDecoder.Instance.Decode(frames[0], info);
        Assert.Equal(128 * 128, decoded.Length);
        Assert.All(decoded, b => Assert.True(b < 128));
        Assert.True(decoded.Distinct().Count() > 16, "the image is flat");
        output.WriteLine($"jpegls_lossless_u8_7bit: samples {decoded.Min()}..{decoded.Max()}, {decoded.Distinct().Count()} distinct values.");
    }

    /// <summary>
    /// No oracle and no uncompressed original for the HTJ2K file (it is not the US1 image of j2k_lossless_us_ybr_rct):
    /// the decode must succeed and give a plausible RGB photograph (varied, not flat, colour channels that differ).
    /// </summary>
    [CorpusFact]
    public void Htj2kLosslessDecodesToAPlausibleRgbImage()
    {
        var (info, frames) = Compressed("htj2k_lossless_rgb");
        var decoder = Jpeg2000Decoder.Instance;
        Assert.Equal("RGB", decoder.GetDecodedInfo(info).PhotometricInterpretation);
        var decoded = decoder.Decode(frames[0], info);
        Assert.Equal(640 * 480 * 3, decoded.Length);
        var channels = Enumerable.Range(0, 3).Select(c => decoded.Where((_, i) => i % 3 == c).Select(b => (double)b).ToArray()).ToArray();
        foreach (var channel in channels)
        {
            Assert.True(channel.Distinct().Count() > 64, "a channel is nearly flat");
        }

        Assert.True(channels[0].Zip(channels[2]).Count(p => p.First != p.Second) > decoded.Length / 6, "red and blue are the same: not a colour image");
        output.WriteLine($"htj2k_lossless_rgb: channel means {string.Join(", ", channels.Select(c => c.Average().ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))}.");
    }

    /// <summary>
    /// The codestream is unsigned 13-bit, the data set signed (PixelRepresentation 1, BitsStored 13). As pydicom and
    /// GDCM do, samples are read as 13-bit two's complement: the CT's air reads -2000, not 6192.
    /// </summary>
    [CorpusFact]
    public void J2kUnsignedCodestreamInASignedDataSetIsSignExtendedAtTheCodestreamPrecision()
    {
        var (info, frames) = Compressed("j2k_pixelrep_mismatch");
        var decoded = Jpeg2000Decoder.Instance.Decode(frames[0], info);
        var values = Int16(decoded);
        Assert.All(values, v => Assert.InRange(v, -4096, 4095));
        Assert.Equal(-2000, values[0]);
        Assert.True(values.Count(v => v < 0) > values.Length / 10, "no negative values: the sign was not corrected");
        Assert.True(values.Max() > 0);
        output.WriteLine($"j2k_pixelrep_mismatch: values {values.Min()}..{values.Max()}, first {values[0]}.");
    }

    /// <summary>
    /// The lossy JPEG 2000 file has no oracle. It is NEMA's NM1 image at the declared Lossy Image Compression Ratio of
    /// 2097:1; the lossless JPEG version of the same source image (same Referenced SOP Instance UID) is in the corpus
    /// (jpeg_lossless_sv1_s16_nm, equal to DCMTK's decode). At that ratio the noise is gone but the image is kept:
    /// PSNR above 30 dB over the 0..278 range and the same mean within half a count.
    /// </summary>
    [CorpusFact]
    public void J2kLossyIsCloseToTheLosslessVersionOfTheSameImage()
    {
        var lossyFile = DicomFile.Open(Corpus.Get("j2k_lossy_nm").Path);
        var losslessFile = DicomFile.Open(Corpus.Get("jpeg_lossless_sv1_s16_nm").Path);
        Assert.Equal(SourceImage(losslessFile.Dataset), SourceImage(lossyFile.Dataset));
        Assert.Equal("2097", lossyFile.Dataset.GetString(new DicomTag(0x0028, 0x2112))?.Trim());

        var (info, frames) = Compressed("j2k_lossy_nm");
        var decoded = Int16(Jpeg2000Decoder.Instance.Decode(frames[0], info));
        var (referenceInfo, referenceFrames) = Compressed("jpeg_lossless_sv1_s16_nm");
        var referenceBytes = JpegDecoder.Instance.Decode(referenceFrames[0], referenceInfo);
        Assert.Equal(Corpus.Get("jpeg_lossless_sv1_s16_nm").FrameHashes()![0], TestImages.Sha256(referenceBytes));
        var reference = Int16(referenceBytes);

        Assert.Equal(reference.Length, decoded.Length);
        var (psnr, maxError) = Compare(decoded, reference, reference.Max() - reference.Min());
        var meanDifference = decoded.Average(v => (double)v) - reference.Average(v => (double)v);
        output.WriteLine($"j2k_lossy_nm vs the lossless NM1: PSNR {psnr:F1} dB, max error {maxError}, mean difference {meanDifference:F2} (range {reference.Min()}..{reference.Max()}, ratio {info.FrameLength / frames[0].Length}:1).");
        Assert.True(psnr > 30, $"PSNR {psnr:F1} dB");
        Assert.InRange(meanDifference, -0.5, 0.5);
    }

    /// <summary>
    /// pydicom's file whose fragment holds the bytes FE FF DD E0: the reader keeps the 250-byte fragment whole; those
    /// bytes overwrite the codestream's SIZ (Rsiz and the top of Xsiz), so decoding fails cleanly, naming the problem.
    /// </summary>
    [CorpusFact]
    public void J2kFragmentHoldingDelimiterBytesIsReadWholeAndItsDamagedHeaderRejected()
    {
        var (info, frames) = Compressed("j2k_embedded_seq_delimiter");
        var (_, intactFrames) = Compressed("j2k_lossy_nm");
        Assert.Equal(intactFrames[0].Length, frames[0].Length);
        Assert.Equal(4, frames[0].Zip(intactFrames[0]).Count(p => p.First != p.Second));
        var exception = Assert.Throws<ImageCodecException>(() => Jpeg2000Decoder.Instance.Decode(frames[0], info));
        Assert.Contains("tiles", exception.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The file ends 8 bytes early: its Sequence Delimitation Item is missing (the last fragment is whole). The
    /// toolkit's reader rejects the file; the ten codestreams, taken by their item lengths as a lenient reader would,
    /// decode to the uncompressed original of the same image.
    /// </summary>
    [CorpusFact]
    public void J2kFramesOfAFileWithoutItsSequenceDelimiterDecodeExactly()
    {
        var path = Corpus.Get("j2k_fragment_too_short").Path;
        Assert.Throws<DicomFormatException>(() => DicomFile.Open(path));
        var bytes = File.ReadAllBytes(path);
        byte[] emptyTable = [0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0];
        var position = bytes.AsSpan().IndexOf(emptyTable) + emptyTable.Length;
        var expected = Corpus.Get("j2k_lossless_emri_10frame").FrameHashes("reference_from_uncompressed_original")!;
        var info = new FrameInfo(64, 64, 1, 16, 12, 0, "MONOCHROME2", 0);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(0xE000FFFEu, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(position)));
            var length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(position + 4));
            var frame = bytes.AsSpan(position + 8, length);
            Assert.Equal(expected[i], TestImages.Sha256(Jpeg2000Decoder.Instance.Decode(frame, info)));
            position += 8 + length;
        }

        Assert.Equal(bytes.Length, position);
    }

    /// <summary>OpenJPEG decodes in strict mode: a codestream cut short is an error, never a partial image.</summary>
    [CorpusTheory]
    [InlineData("j2k_lossless_mr_small")]
    [InlineData("j2k_lossless_us_ybr_rct")]
    [InlineData("htj2k_lossless_rgb")]
    public void TruncatedJ2kCodestreamsAreRejected(string name)
    {
        var (info, frames) = Compressed(name);
        var frame = frames[0];
        foreach (var cut in new[] { 2, 3, 10, 100, frame.Length / 4, frame.Length / 2, frame.Length * 9 / 10 })
        {
            var exception = Assert.Throws<ImageCodecException>(() => Jpeg2000Decoder.Instance.Decode(frame[..^cut], info));
            Assert.True(exception.Message.Contains("too short", StringComparison.Ordinal) || exception.Message.Contains("inconsistent with stream length", StringComparison.Ordinal), exception.Message);
        }
    }

    /// <summary>Regression: CharLS 2.4 spent 10-20 s on a truncated stream without an EOI before failing.</summary>
    [CorpusFact]
    public void TruncatedJpegLsStreamsAreRejectedAtOnce()
    {
        var (info, frames) = Compressed("jpegls_lossless_mr_small");
        var started = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 1; i < 16; i++)
        {
            var cut = frames[0][..(frames[0].Length * i / 16)];
            Assert.Contains("EOI", Assert.Throws<ImageCodecException>(() => JpegLsDecoder.Instance.Decode(cut, info)).Message, StringComparison.Ordinal);
        }

        Assert.True(started.Elapsed < TimeSpan.FromSeconds(1), $"{started.Elapsed}");
    }

    [CorpusTheory]
    [MemberData(nameof(NativeImages))]
    public void LosslessEncodersRoundTripNativeCorpusImages(string name)
    {
        var reader = PixelDataReader.Create(DicomFile.Open(Corpus.Get(name).Path))!;
        var info = reader.Description.ToFrameInfo();
        var codecs = new List<(string Name, IFrameEncoder Encoder, IFrameDecoder Decoder)> { ("deflate", DeflatedFrameCodec.Instance, DeflatedFrameCodec.Instance) };
        if (IsLosslessCapable(reader.Description))
        {
            codecs.Add(("JPEG-LS", JpegLsEncoder.Lossless, JpegLsDecoder.Instance));
            codecs.Add(("JPEG 2000", Jpeg2000Encoder.Lossless, Jpeg2000Decoder.Instance));
        }

        var sizes = new long[codecs.Count];
        for (var f = 0; f < reader.FrameCount; f++)
        {
            var native = reader.ReadFrame(f).Data;
            for (var c = 0; c < codecs.Count; c++)
            {
                var (codec, encoder, decoder) = codecs[c];
                var encoded = encoder.Encode(native, info);
                var encodedInfo = encoder.GetEncodedInfo(info);
                var decoded = decoder.Decode(encoded, encodedInfo);
                sizes[c] += encoded.Length;
                Assert.True(native.AsSpan().SequenceEqual(ToLayout(decoded, decoder.GetDecodedInfo(encodedInfo), info)), $"{name} frame {f + 1}: {codec} round trip differs");
            }
        }

        output.WriteLine($"{name} ({info.Columns}x{info.Rows}x{info.SamplesPerPixel}, {info.BitsAllocated}/{info.BitsStored} bits, {reader.FrameCount} frame(s), {reader.Description.FrameLength * reader.FrameCount} bytes): "
            + string.Join(", ", codecs.Select((c, i) => $"{c.Name} {sizes[i]}")));
    }

    [CorpusTheory]
    [InlineData("evrle_ct_small", 3)]
    [InlineData("us_rgb_planar0", 2)]
    [InlineData("jpegls_lossless_emri_10frame", 5)]
    public void JpegLsNearLosslessStaysWithinNear(string name, int near)
    {
        var encoder = new JpegLsEncoder(new JpegLsEncoderOptions { NearLossless = near });
        Assert.Equal(JpegLSNear, encoder.TransferSyntaxUid);
        var reader = PixelDataReader.Create(DicomFile.Open(Corpus.Get(name).Path))!;
        var info = reader.Description.ToFrameInfo();
        var frame = reader.ReadFrame(0).Data;
        var encoded = encoder.Encode(frame, info);
        var decoded = JpegLsDecoder.Instance.Decode(encoded, encoder.GetEncodedInfo(info));
        var worst = CodecTests.MaxAbsoluteDifference(frame, decoded, info.BitsAllocated);
        output.WriteLine($"{name}: NEAR {near}, {frame.Length} → {encoded.Length} bytes, max difference {worst}.");
        Assert.InRange(worst, 1, near);
    }

    [CorpusTheory]
    [InlineData("evrle_ct_small", 10f, 45)]
    [InlineData("us_rgb_planar0", 10f, 30)]
    public void J2kLossyRoundTripKeepsTheImage(string name, float ratio, double minimumPsnr)
    {
        var encoder = new Jpeg2000Encoder(new Jpeg2000EncoderOptions { Lossless = false, CompressionRatio = ratio });
        var reader = PixelDataReader.Create(DicomFile.Open(Corpus.Get(name).Path))!;
        var info = reader.Description.ToFrameInfo();
        var frame = reader.ReadFrame(0).Data;
        var encoded = encoder.Encode(frame, info);
        var encodedInfo = encoder.GetEncodedInfo(info);
        Assert.Equal(info.SamplesPerPixel == 3 ? "YBR_ICT" : info.PhotometricInterpretation, encodedInfo.PhotometricInterpretation);
        var decoded = Jpeg2000Decoder.Instance.Decode(encoded, encodedInfo);
        Assert.Equal(info.PhotometricInterpretation, Jpeg2000Decoder.Instance.GetDecodedInfo(encodedInfo).PhotometricInterpretation);
        Assert.InRange(encoded.Length, 1, frame.Length / ratio * 1.1);
        var (original, result, range) = info.BitsAllocated == 16
            ? (Int16(frame).Select(v => (int)v).ToArray(), Int16(decoded).Select(v => (int)v).ToArray(), 0)
            : (frame.Select(v => (int)v).ToArray(), decoded.Select(v => (int)v).ToArray(), 255);
        var (psnr, maxError) = Compare(result, original, range > 0 ? range : original.Max() - original.Min());
        output.WriteLine($"{name}: ratio {ratio}, {frame.Length} → {encoded.Length} bytes, PSNR {psnr:F1} dB, max error {maxError}.");
        Assert.True(psnr > minimumPsnr, $"PSNR {psnr:F1} dB");
    }

    [Fact]
    public void SignedImagesWithBitsAboveBitsStoredRoundTripLosslessly()
    {
        // 12 bits stored, signed: sign-extended negative values, then raw 12-bit patterns (no extension) in the next frame.
        var info = new FrameInfo(17, 23, 1, 16, 12, 1, "MONOCHROME2", 0);
        var extended = new byte[info.FrameLength];
        var raw = new byte[info.FrameLength];
        for (var i = 0; i < extended.Length / 2; i++)
        {
            var value = (short)((i * 37 % 4096) - 2048);
            BinaryPrimitives.WriteInt16LittleEndian(extended.AsSpan(i * 2), value);
            BinaryPrimitives.WriteUInt16LittleEndian(raw.AsSpan(i * 2), (ushort)(value & 0x0FFF));
        }

        foreach (var frame in new[] { extended, raw })
        {
            Assert.Equal(frame, JpegLsDecoder.Instance.Decode(JpegLsEncoder.Lossless.Encode(frame, info), info));
            Assert.Equal(frame, Jpeg2000Decoder.Instance.Decode(Jpeg2000Encoder.Lossless.Encode(frame, info), info));
        }
    }

    [Fact]
    public void PlanarColourFramesAreEncodedColourByPixel()
    {
        var info = new FrameInfo(5, 7, 3, 8, 8, 0, "RGB", 1);
        var planar = new byte[info.FrameLength];
        new Random(3).NextBytes(planar);
        var byPixel = ToLayout(planar, info, info with { PlanarConfiguration = 0 });

        var jls = JpegLsEncoder.Lossless;
        Assert.Equal(0, jls.GetEncodedInfo(info).PlanarConfiguration);
        Assert.Equal(byPixel, JpegLsDecoder.Instance.Decode(jls.Encode(planar, info), jls.GetEncodedInfo(info)));
        Assert.Equal(planar, JpegLsDecoder.Instance.Decode(jls.Encode(planar, info), info)); // the data set's planar configuration is restored

        var j2k = Jpeg2000Encoder.Lossless;
        Assert.Equal("YBR_RCT", j2k.GetEncodedInfo(info).PhotometricInterpretation);
        Assert.Equal(byPixel, Jpeg2000Decoder.Instance.Decode(j2k.Encode(planar, info), j2k.GetEncodedInfo(info)));
    }

    [Fact]
    public void DeflatedFramesAreRawDeflate()
    {
        var info = new FrameInfo(3, 5, 1, 1, 1, 0, "MONOCHROME2", 0);
        byte[] frame = [0b1010_1010, 0x0F];
        var encoded = DeflatedFrameCodec.Instance.Encode(frame, info);
        using var inflater = new System.IO.Compression.DeflateStream(new MemoryStream(encoded), System.IO.Compression.CompressionMode.Decompress);
        var inflated = new MemoryStream();
        inflater.CopyTo(inflated);
        Assert.Equal(frame, inflated.ToArray());
        Assert.Equal(frame, DeflatedFrameCodec.Instance.Decode(encoded, info));
    }

    public static TheoryData<string, byte[]> DegenerateStreams => new()
    {
        { JpegLSLossless, [] },
        { JpegLSLossless, [0xFF, 0xD8] },
        { JpegLSLossless, [0xFF, 0xD8, 0xFF, 0xD9] },
        { JpegLSLossless, [0xFF, 0xD8, 0xFF, 0xF7, 0x00, 0x0B, 8, 0, 1, 0, 1, 1, 1, 0x11, 0, 0xFF, 0xD9] },
        { JpegLSLossless, [0xFF, 0xD8, 0xFF, 0xF7, 0x00, 0x0B, 8, 0, 2, 0, 2, 1, 1, 0x11, 0, 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 0, 0, 0xFF, 0xD9] },
        { JpegLSLossless, [0x00, 0x01, 0x02, 0x03, 0x04] },
        { J2kLossless, [] },
        { J2kLossless, [0xFF, 0x4F] },
        { J2kLossless, [0xFF, 0x4F, 0xFF, 0x51] },
        { J2kLossless, [0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x29, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 7, 1, 1, 0xFF, 0xD9] },
        { J2kLossless, [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A, 0, 0, 0, 0] },
        { J2kLossless, [0x12, 0x34, 0x56, 0x78] },
        { DeflatedFrames, [] },
        { DeflatedFrames, [0x00] },
        { DeflatedFrames, [0xFF, 0xFF, 0xFF] },
        { DeflatedFrames, [0x03, 0x00] },
    };

    [Theory]
    [MemberData(nameof(DegenerateStreams))]
    public void DegenerateStreamsRaiseImageCodecException(string uid, byte[] stream)
    {
        var info = new FrameInfo(1, 1, 1, 8, 8, 0, "MONOCHROME2", 0);
        var exception = Assert.ThrowsAny<ImageCodecException>(() => FrameCodecs.GetDecoder(uid)!.Decode(stream, info));
        Assert.IsNotType<CodecUnavailableException>(exception);
    }

    /// <summary>Random bytes after a valid codestream start go through OpenJPEG's and CharLS's parsers: errors, not crashes.</summary>
    [Fact]
    public void GarbageAfterAValidStartRaisesImageCodecException()
    {
        var info = new FrameInfo(64, 64, 1, 16, 16, 1, "MONOCHROME2", 0);
        var random = new Random(1);
        var frame = new byte[info.FrameLength];
        random.NextBytes(frame);
        var rejected = 0;
        foreach (var (encoder, decoder) in new (IFrameEncoder, IFrameDecoder)[] { (JpegLsEncoder.Lossless, JpegLsDecoder.Instance), (Jpeg2000Encoder.Lossless, Jpeg2000Decoder.Instance) })
        {
            var valid = encoder.Encode(frame, info);
            for (var i = 0; i < 50; i++)
            {
                var garbage = new byte[random.Next(8, 4096)];
                random.NextBytes(garbage);
                valid.AsSpan(0, Math.Min(Math.Min(valid.Length, garbage.Length), random.Next(2, 200))).CopyTo(garbage);
                try
                {
                    decoder.Decode(garbage, info);
                }
                catch (ImageCodecException)
                {
                    rejected++;
                }
            }
        }

        Assert.True(rejected >= 90, $"only {rejected} of 100 garbage streams were rejected");
    }

    public static TheoryData<string> MutationSources => Corpus.Names(f => f.Name is
        "jpegls_lossless_mr_small" or "jpegls_near_rgb_line" or "j2k_lossless_mr_small" or "htj2k_lossless_rgb" or "j2k_lossy_nm" or "deflated_image_frame_seg");

    /// <summary>Truncations and corrupted bytes of corpus frames: decoded (to something) or rejected with ImageCodecException, never a crash.</summary>
    [CorpusTheory]
    [MemberData(nameof(MutationSources))]
    public void MutatedFramesDecodeOrRaiseImageCodecException(string name)
    {
        var (info, frames) = Compressed(name);
        var frame = frames[0];
        var decoder = FrameCodecs.GetDecoder(Corpus.Get(name).TransferSyntaxUid)!;
        var destination = new byte[decoder.GetDecodedInfo(info).FrameLength];
        var random = new Random(name.Length);
        var mutations = new List<byte[]>();
        for (var i = 0; i < 8; i++)
        {
            mutations.Add(frame[..(frame.Length * i / 8)]);
        }

        for (var i = 0; i < 40; i++)
        {
            var bytes = (byte[])frame.Clone();
            var position = random.Next(bytes.Length);
            var length = Math.Min(random.Next(1, 32), bytes.Length - position);
            random.NextBytes(bytes.AsSpan(position, length));
            mutations.Add(bytes);
        }

        var (decoded, rejected) = (0, 0);
        var started = System.Diagnostics.Stopwatch.StartNew();
        foreach (var bytes in mutations)
        {
            try
            {
                decoder.Decode(bytes, info, destination);
                decoded++;
            }
            catch (ImageCodecException ex) when (ex is not CodecUnavailableException)
            {
                rejected++;
            }
        }

        output.WriteLine($"{name}: {decoded} mutated frames decoded, {rejected} rejected, in {started.ElapsedMilliseconds} ms.");
        Assert.True(rejected > 0);
    }

    [Fact]
    public void AMissingLibraryRaisesCodecUnavailableExceptionNamingThePackage()
    {
        var info = new FrameInfo(1, 1, 1, 8, 8, 0, "MONOCHROME2", 0);
        var charls = new NativeCodecLibrary("CharLS", "libcharls-missing.so.99", "libcharls2");
        var openJpeg = new NativeCodecLibrary("OpenJPEG", "libopenjp2-missing.so.99", "libopenjp2-7");
        Assert.False(charls.IsAvailable);

        var jls = Assert.Throws<CodecUnavailableException>(() => new JpegLsDecoder(charls).Decode([0xFF, 0xD8, 0xFF, 0xF7, 0, 0], info));
        Assert.Contains("libcharls2", jls.Message, StringComparison.Ordinal);
        Assert.Equal("libcharls2", jls.PackageName);
        Assert.Contains("libcharls2", Assert.Throws<CodecUnavailableException>(() => new JpegLsEncoder(null, charls).Encode([0], info)).Message, StringComparison.Ordinal);

        var j2k = Assert.Throws<CodecUnavailableException>(() => new Jpeg2000Decoder(openJpeg).Decode([0xFF, 0x4F, 0xFF, 0x51, 0, 0], info));
        Assert.Contains("libopenjp2-7", j2k.Message, StringComparison.Ordinal);
        Assert.Contains("libopenjp2-7", Assert.Throws<CodecUnavailableException>(() => new Jpeg2000Encoder(null, openJpeg).Encode([0], info)).Message, StringComparison.Ordinal);

        // Everything else keeps working.
        Assert.Equal(new byte[] { 7 }, DeflatedFrameCodec.Instance.Decode(DeflatedFrameCodec.Instance.Encode([7], info), info));
    }

    private static bool IsLosslessCapable(PixelDataDescription description) =>
        description.BitsAllocated is 8 or 16 && description.SamplesPerPixel is 1 or 3 && !description.IsSubsampled422;

    private void AssertFramesMatch(string name, IFrameDecoder decoder, string variant)
    {
        var corpusFile = Corpus.Get(name);
        var expected = corpusFile.FrameHashes(variant)!;
        var (info, frames) = Compressed(name);
        var decodedInfo = decoder.GetDecodedInfo(info);
        if (corpusFile.PixelsProperty(variant, "photometric_interpretation") is { } photometric)
        {
            Assert.Equal(photometric.GetString(), decodedInfo.PhotometricInterpretation);
        }

        if (corpusFile.PixelsProperty(variant, "frame_length") is { } length)
        {
            Assert.Equal(length.GetInt64(), decodedInfo.FrameLength);
        }

        Assert.Equal(expected.Length, frames.Count);
        for (var i = 0; i < frames.Count; i++)
        {
            var decoded = decoder.Decode(frames[i], info);
            Assert.True(expected[i] == TestImages.Sha256(decoded), $"{name} frame {i + 1}: SHA-256 differs from the {variant} hash.");
        }

        output.WriteLine($"{name}: {frames.Count} frame(s) equal the {variant} hashes.");
    }

    private static (FrameInfo Info, List<byte[]> Frames) Compressed(string name)
    {
        var file = DicomFile.Open(Corpus.Get(name).Path);
        var info = TestImages.GetFrameInfo(file.Dataset);
        return (info, TestImages.GetCompressedFrames(file.Dataset, TestImages.GetNumberOfFrames(file.Dataset)));
    }

    /// <summary>A decoded frame in <paramref name="from"/>'s layout rearranged to <paramref name="to"/>'s planar configuration.</summary>
    private static byte[] ToLayout(byte[] frame, FrameInfo from, FrameInfo to)
    {
        if (from.SamplesPerPixel == 1 || from.PlanarConfiguration == to.PlanarConfiguration)
        {
            return frame;
        }

        var result = new byte[frame.Length];
        SampleLayout.Convert(frame, from.BytesPerSample, from.PlanarConfiguration == 1, result, to.BytesPerSample, to.PlanarConfiguration == 1, from.Rows * from.Columns, from.SamplesPerPixel);
        return result;
    }

    private static string? SourceImage(DicomDataset dataset) =>
        dataset.GetSequence(new DicomTag(0x0008, 0x2112))?.Items[0].GetString(new DicomTag(0x0008, 0x1155));

    private static short[] Int16(byte[] bytes)
    {
        var values = new short[bytes.Length / 2];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadInt16LittleEndian(bytes.AsSpan(i * 2));
        }

        return values;
    }

    private static (double Psnr, int MaxError) Compare(IReadOnlyList<short> actual, IReadOnlyList<short> expected, int range) =>
        Compare(actual.Select(v => (int)v).ToArray(), expected.Select(v => (int)v).ToArray(), range);

    private static (double Psnr, int MaxError) Compare(int[] actual, int[] expected, int range)
    {
        double squares = 0;
        var worst = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            var difference = actual[i] - expected[i];
            squares += (double)difference * difference;
            worst = Math.Max(worst, Math.Abs(difference));
        }

        var mse = squares / actual.Length;
        return (mse == 0 ? double.PositiveInfinity : 10 * Math.Log10((double)range * range / mse), worst);
    }
}
