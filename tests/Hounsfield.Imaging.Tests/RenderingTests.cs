using System.Text.Json;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Decoders;
using Hounsfield.Imaging.Frames;
using Hounsfield.Imaging.Rendering;
using Xunit.Abstractions;

namespace Hounsfield.Imaging.Tests;

/// <summary>The display pipeline (PS3.4 N.2) against dcm2pnm's renders of the corpus, and on generated data sets.</summary>
public sealed class RenderingTests(ITestOutputHelper output)
{
    /// <summary>(file, oracle PNG) for every render oracle of a file whose frames we can read (native, or a managed decoder).</summary>
    public static TheoryData<string, string> RenderOracles
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var file in Corpus.Files)
            {
                foreach (var render in RenderEntries(file))
                {
                    var png = render.GetProperty("file").GetString()!;
                    if (png is "frame1.png" or "frame1_voi.png" && IsReadable(file))
                    {
                        data.Add(file.Name, png);
                    }
                }
            }

            if (data.Count == 0)
            {
                data.Add("(corpus missing)", "frame1.png");
            }

            return data;
        }
    }

    [CorpusTheory]
    [MemberData(nameof(RenderOracles))]
    public void RenderMatchesDcm2pnmWithinOne(string name, string oracle)
    {
        var corpusFile = Corpus.Get(name);
        var render = RenderEntries(corpusFile).Single(r => r.GetProperty("file").GetString() == oracle);
        var command = render.GetProperty("command").GetString()!;
        var voi = command.Contains("+Wi 1", StringComparison.Ordinal) ? VoiMode.First
            : command.Contains("+Wm", StringComparison.Ordinal) ? VoiMode.MinMax
            : VoiMode.None;

        var expected = PngDecoder.Decode(File.ReadAllBytes(Path.Combine(Corpus.Directory!, "oracle", name, oracle)));
        var file = DicomFile.Open(corpusFile.Path);
        var image = FrameRenderer.Render(file, 0, new RenderOptions { Voi = voi });

        // The server's path (pooled frame and image buffers, possibly longer than the image) gives the same pixels.
        using (var frame = PixelDataReader.Create(file)!.RentFrame(0))
        using (var pooled = FrameRenderer.RenderPooled(file.Dataset, frame, 0, new RenderOptions { Voi = voi }))
        {
            Assert.True(pooled.Pixels.AsSpan(0, pooled.Length).SequenceEqual(image.Pixels.AsSpan(0, image.Length)), "pooled render differs");
        }

        Assert.Equal((expected.Width, expected.Height, expected.Channels), (image.Width, image.Height, image.Channels));
        var (maxDifference, beyondOne, exact) = Compare(expected.Samples, image.Pixels);
        output.WriteLine($"{name} {oracle} ({voi}): max |difference| {maxDifference}, {beyondOne} samples beyond ±1, {exact} of {expected.Samples.Length} exact");
        Assert.True(beyondOne == 0, $"{beyondOne} samples differ by more than 1 (max {maxDifference})");
    }

    [CorpusFact]
    public void OracleSampleHashesDescribeTheOraclePngs()
    {
        // The PNG reader decodes the oracle PNGs to the samples whose SHA-256 the manifest records.
        var checkedCount = 0;
        foreach (var file in Corpus.Files)
        {
            foreach (var render in RenderEntries(file))
            {
                var png = render.GetProperty("file").GetString()!;
                if (!render.TryGetProperty("pixels", out var pixels) || pixels.ValueKind != JsonValueKind.Object
                    || !pixels.TryGetProperty("sha256_of_8bit_samples", out var hash))
                {
                    continue;
                }

                var decoded = PngDecoder.Decode(File.ReadAllBytes(Path.Combine(Corpus.Directory!, "oracle", file.Name, png)));
                Assert.Equal(hash.GetString(), TestImages.Sha256(decoded.Samples));
                checkedCount++;
            }
        }

        Assert.True(checkedCount > 40);
    }

    // ---- generated data sets rendered by dcm2pnm (DCMTK as the oracle) ----

    public static TheoryData<string> GeneratedCases => [.. GeneratedImages.Keys];

    private static readonly Dictionary<string, (Func<DicomDataset> Build, string[] Dcm2pnm, RenderOptions Options)> GeneratedImages = new()
    {
        ["window 12-bit"] = (() => Ramp12(), ["+Ww", "1000", "301"], new RenderOptions { Voi = VoiMode.Window, WindowCenter = 1000, WindowWidth = 301 }),
        ["signed rescaled min-max"] = (() => SignedRescaled(), ["+Wm"], new RenderOptions { Voi = VoiMode.MinMax }),
        ["signed rescaled no VOI"] = (() => SignedRescaled(), [], new RenderOptions { Voi = VoiMode.None }),
        ["MONOCHROME1 window"] = (() => With(Ramp12(), d => d.AddOrUpdate(DicomTag.PhotometricInterpretation, "MONOCHROME1")), ["+Ww", "2000", "1000"], new RenderOptions { Voi = VoiMode.Window, WindowCenter = 2000, WindowWidth = 1000 }),
        ["MONOCHROME1 no VOI"] = (() => With(Ramp12(), d => d.AddOrUpdate(DicomTag.PhotometricInterpretation, "MONOCHROME1")), [], new RenderOptions { Voi = VoiMode.None }),
        ["SIGMOID window of the data set"] = (() => With(Ramp12(), d =>
        {
            d.AddOrUpdate(DicomTag.WindowCenter, "2000");
            d.AddOrUpdate(DicomTag.WindowWidth, "1000");
            d.AddOrUpdate(DicomTag.VOILUTFunction, "SIGMOID");
        }), ["+Wi", "1"], new RenderOptions { Voi = VoiMode.First }),
        ["VOI LUT Sequence"] = (() => With(Ramp12(), d =>
        {
            var item = new DicomDataset();
            item.AddOrUpdate<ushort>(DicomTag.LUTDescriptor, DicomVR.US, 3000, 500, 12);
            item.AddOrUpdate(DicomTag.LUTData, DicomVR.OW, Enumerable.Range(0, 3000).Select(i => (ushort)Math.Round(4095 * Math.Sqrt(i / 2999.0))).ToArray());
            d.Add(new DicomSequence(DicomTag.VOILUTSequence, item));
        }), ["+Wl", "1"], new RenderOptions { Voi = VoiMode.First }),
        ["10 of 16 bits, high bits set"] = (() => Masked10(), ["+Wm"], new RenderOptions { Voi = VoiMode.MinMax }),
        ["VOI LUT Sequence, MONOCHROME1"] = (() => With(Ramp12(), d =>
        {
            var item = new DicomDataset();
            item.AddOrUpdate<ushort>(DicomTag.LUTDescriptor, DicomVR.US, 3000, 500, 12);
            item.AddOrUpdate(DicomTag.LUTData, DicomVR.OW, Enumerable.Range(0, 3000).Select(i => (ushort)Math.Round(4095 * Math.Sqrt(i / 2999.0))).ToArray());
            d.Add(new DicomSequence(DicomTag.VOILUTSequence, item));
            d.AddOrUpdate(DicomTag.PhotometricInterpretation, "MONOCHROME1");
        }), ["+Wl", "1"], new RenderOptions { Voi = VoiMode.First }),
        ["YBR_FULL"] = (() => Ybr("YBR_FULL"), [], new RenderOptions { Voi = VoiMode.None }),
        ["YBR_FULL_422"] = (() => Ybr422(), [], new RenderOptions { Voi = VoiMode.None }),
        ["RGB 12-bit"] = (() => Rgb12(), [], new RenderOptions { Voi = VoiMode.None }),
    };

    [Theory]
    [MemberData(nameof(GeneratedCases))]
    public void RenderMatchesDcm2pnmOnGeneratedImages(string name)
    {
        Assert.True(TestImages.HasTool("dcm2pnm"), "dcm2pnm is missing: run scripts/install-prerequisites (Debian package dcmtk)");
        var (build, arguments, options) = GeneratedImages[name];
        var dataset = build();
        dataset.AddOrUpdate(DicomTag.SOPClassUID, "1.2.840.10008.5.1.4.1.1.7");
        dataset.AddOrUpdate(DicomTag.SOPInstanceUID, "1.2.826.0.1.3680043.10.1.1");
        using var directory = new TestImages.TempDirectory();
        var path = directory.File("image.dcm");
        new DicomFile(dataset).Save(path);
        var pnm = directory.File("image.pnm");
        TestImages.Run("dcm2pnm", [.. arguments, "+op", path, pnm]);
        var expected = Pnm.Read(File.ReadAllBytes(pnm));

        var image = FrameRenderer.Render(DicomFile.Open(path), 0, options);
        Assert.Equal((expected.Width, expected.Height, expected.Channels), (image.Width, image.Height, image.Channels));
        var (maxDifference, beyondOne, exact) = Compare(expected.Samples, image.Pixels);
        output.WriteLine($"{name}: max |difference| {maxDifference}, {exact} of {expected.Samples.Length} exact");
        Assert.True(beyondOne == 0, $"{beyondOne} samples differ by more than 1 (max {maxDifference})");
    }

    // ---- generated data sets: the standard's formulas ----

    [Theory]
    [InlineData(12, true, 4, 1, 0, 200)] // a narrow window: one 128-entry chunk
    [InlineData(12, true, 4, 1, 1000, 1400)] // several chunks, both ends saturated
    [InlineData(12, true, 4, 5, 1500, 2400)] // 901 entries: 15 word chunks
    [InlineData(12, false, 0, 2047, 0, 4095)] // the whole 12-bit range varies: 32 chunks
    [InlineData(16, false, 0, 65535, 30000, 30100)] // 16 bits, a window far inside
    [InlineData(10, true, 2, 3, 0, 1023)] // high bit below the top, other bits set
    public void VectorTableLookupMatchesTheTable(int bitsStored, bool signed, int shift, int seed, int windowLow, int windowHigh)
    {
        // A table constant below windowLow and above windowHigh, random in between, and samples with stray bits outside Bits Stored.
        var random = new Random(seed);
        var count = 1 << bitsStored;
        var table = new byte[count];
        for (var i = 0; i < count; i++)
        {
            table[i] = i < windowLow ? (byte)3 : i > windowHigh ? (byte)250 : (byte)random.Next(256);
        }

        var mask = count - 1;
        var signFlip = signed ? count / 2 : 0;
        var samples = new ushort[512 + 37];
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = (ushort)random.Next(65536);
        }

        int IndexOf(ushort raw) => ((raw >> shift) & mask) ^ signFlip;
        var first = samples.Min(IndexOf);
        var last = samples.Max(IndexOf);
        if (!ByteTableLookup.IsSupported)
        {
            Assert.Null(ByteTableLookup.Create(table, first, last));
            output.WriteLine("No AVX-512: the scalar table lookup renders (covered by the render tests).");
            return;
        }

        // Byte permutes (VBMI; word permutes where it is missing) and word permutes (AVX-512 BW), up to 1024 entries.
        foreach (var bytePermutes in new[] { true, false })
        {
            var lookup = ByteTableLookup.Create(table, first, last, bytePermutes);
            if (lookup is null)
            {
                Assert.True(windowHigh - windowLow > 1000, $"no lookup for a table of {windowHigh - windowLow} varying entries");
                output.WriteLine($"bytePermutes {bytePermutes}: the table is too long, the scalar lookup serves.");
                continue;
            }

            var target = new byte[samples.Length];
            lookup.Map(samples, shift, mask, signFlip, target);
            Assert.Equal(samples.Select(raw => table[IndexOf(raw)]).ToArray(), target);
        }
    }

    [Fact]
    public void LinearWindowFollowsC11212()
    {
        // c = 100, w = 21: x <= 89.5 -> 0, x > 109.5 -> 255, else ((x - 99.5) / 20 + 0.5) * 255, truncated.
        var image = RenderRamp(0, 200, new RenderOptions { Voi = VoiMode.Window, WindowCenter = 100, WindowWidth = 21 });
        Assert.Equal(0, image.Pixels[89]);
        Assert.Equal(6, image.Pixels[90]);    // 6.375
        Assert.Equal(133, image.Pixels[100]); // 133.875
        Assert.Equal(248, image.Pixels[109]); // 248.625
        Assert.Equal(255, image.Pixels[110]);
    }

    [Fact]
    public void LinearExactWindowFollowsC112132()
    {
        var image = RenderRamp(0, 200, new RenderOptions { Voi = VoiMode.Window, WindowCenter = 100, WindowWidth = 20, Function = VoiFunction.LinearExact });
        Assert.Equal(0, image.Pixels[90]);
        Assert.Equal(12, image.Pixels[91]);  // 12.75
        Assert.Equal(127, image.Pixels[100]); // 127.5
        Assert.Equal(255, image.Pixels[110]);
        Assert.Equal(255, image.Pixels[111]);
    }

    [Fact]
    public void SigmoidWindowFollowsC112131()
    {
        var image = RenderRamp(0, 200, new RenderOptions { Voi = VoiMode.Window, WindowCenter = 100, WindowWidth = 40, Function = VoiFunction.Sigmoid });
        for (var x = 0; x <= 200; x += 10)
        {
            var expected = 255 / (1 + Math.Exp(-4 * (x - 100) / 40.0));
            Assert.Equal(Math.Floor(expected), image.Pixels[x]);
        }
    }

    [Fact]
    public void VoiLutFunctionOfTheDataSetAppliesToItsWindow()
    {
        var dataset = Ramp(0, 200);
        dataset.AddOrUpdate(DicomTag.WindowCenter, "100");
        dataset.AddOrUpdate(DicomTag.WindowWidth, "40");
        dataset.AddOrUpdate(DicomTag.VOILUTFunction, "SIGMOID");
        var image = Render(dataset, new RenderOptions { Voi = VoiMode.First });
        Assert.Equal(127, image.Pixels[100]);
        Assert.Equal(30, image.Pixels[80]); // 255 / (1 + e^2) = 30.5
    }

    [Fact]
    public void RescaleAppliesBeforeTheWindow()
    {
        // Stored 0..200, slope 2, intercept -100: the window 100 ± 10 selects stored values 95..105.
        var dataset = Ramp(0, 200);
        dataset.AddOrUpdate(DicomTag.RescaleSlope, "2");
        dataset.AddOrUpdate(DicomTag.RescaleIntercept, "-100");
        var image = Render(dataset, new RenderOptions { Voi = VoiMode.Window, WindowCenter = 100, WindowWidth = 20, Function = VoiFunction.LinearExact });
        Assert.Equal(0, image.Pixels[94]);
        Assert.Equal(127, image.Pixels[100]);
        Assert.Equal(255, image.Pixels[106]);
    }

    [Fact]
    public void ModalityLutSequenceReplacesRescale()
    {
        // LUT: 256 entries from stored value 0, entry = 255 - x (an inverting LUT), 8 bits.
        var dataset = Ramp(0, 255);
        dataset.AddOrUpdate(DicomTag.RescaleSlope, "5");
        var lut = new DicomDataset();
        lut.AddOrUpdate<ushort>(DicomTag.LUTDescriptor, DicomVR.US, 256, 0, 8);
        lut.AddOrUpdate(DicomTag.LUTData, DicomVR.OW, Enumerable.Range(0, 256).Select(x => (ushort)(255 - x)).ToArray());
        dataset.Add(new DicomSequence(DicomTag.ModalityLUTSequence, lut));
        var image = Render(dataset, new RenderOptions { Voi = VoiMode.MinMax });
        Assert.Equal(255, image.Pixels[0]);
        Assert.Equal(0, image.Pixels[255]);
    }

    [Fact]
    public void VoiLutSequenceIsScaledFromItsEntryDepth()
    {
        var dataset = Ramp(0, 255);
        var lut = new DicomDataset();
        lut.AddOrUpdate<ushort>(DicomTag.LUTDescriptor, DicomVR.US, 128, 64, 12);
        lut.AddOrUpdate(DicomTag.LUTData, DicomVR.OW, Enumerable.Range(0, 128).Select(x => (ushort)(x * 4095 / 127)).ToArray());
        dataset.Add(new DicomSequence(DicomTag.VOILUTSequence, lut));
        var image = Render(dataset, new RenderOptions { Voi = VoiMode.Auto });
        Assert.Equal(0, image.Pixels[10]);    // below the first mapped value: first entry
        Assert.Equal(0, image.Pixels[64]);
        Assert.Equal(255, image.Pixels[191]);
        Assert.Equal(255, image.Pixels[250]); // past the last entry: last entry
        Assert.Equal(128, image.Pixels[128]); // entry 2063 of 12 bits: 2063 × 256 / 4096 = 128.9
    }

    [Fact]
    public void Monochrome1IsInvertedUnlessPresentationLutShapeSaysIdentity()
    {
        var dataset = Image(256, 1, 8, 8, false, Enumerable.Range(0, 256).Select(v => (byte)v).ToArray());
        dataset.AddOrUpdate(DicomTag.PhotometricInterpretation, "MONOCHROME1");
        var window = new RenderOptions { Voi = VoiMode.Window, WindowCenter = 128, WindowWidth = 256 };
        var inverted = Render(dataset, window);
        Assert.Equal(255, inverted.Pixels[0]);
        Assert.Equal(127, inverted.Pixels[128]); // 255 - 128 × 255 / 255 ... floor(255 - 128) = 127
        Assert.Equal(0, inverted.Pixels[255]);

        // Without VOI, dcm2pnm's descending ramp stops one level short of black: 255 - 255 × 254 / 256 = 1.99 → 1.
        Assert.Equal(1, Render(dataset, new RenderOptions { Voi = VoiMode.None }).Pixels[255]);

        dataset.AddOrUpdate(DicomTag.PresentationLUTShape, "IDENTITY");
        Assert.Equal(0, Render(dataset, window).Pixels[0]);

        dataset.AddOrUpdate(DicomTag.PhotometricInterpretation, "MONOCHROME2");
        dataset.AddOrUpdate(DicomTag.PresentationLUTShape, "INVERSE");
        Assert.Equal(255, Render(dataset, window).Pixels[0]);
    }

    [Fact]
    public void SignedStoredValuesAreMaskedAndSignExtended()
    {
        // 12 bits stored in 16 allocated, signed; garbage in the top four bits must be ignored.
        var values = new short[] { -2048, -1, 0, 2047 };
        var raw = values.Select(v => (ushort)((v & 0x0FFF) | 0xA000)).ToArray();
        var dataset = Image(4, 1, bitsAllocated: 16, bitsStored: 12, signed: true, System.Runtime.InteropServices.MemoryMarshal.AsBytes(raw.AsSpan()).ToArray());
        var image = Render(dataset, new RenderOptions { Voi = VoiMode.MinMax });
        // min-max window: centre 0, width 4096: -1 → 2047 × 255 / 4095 = 127.47, 0 → 127.53.
        Assert.Equal(new byte[] { 0, 127, 127, 255 }, image.Pixels);
    }

    [Fact]
    public void FloatPixelDataIsWindowedByItsValueRange()
    {
        var values = new float[] { -1.5f, 0, 1.5f, 3f };
        var dataset = new DicomDataset();
        dataset.AddOrUpdate<ushort>(DicomTag.Rows, DicomVR.US, 1);
        dataset.AddOrUpdate<ushort>(DicomTag.Columns, DicomVR.US, 4);
        dataset.AddOrUpdate<ushort>(DicomTag.SamplesPerPixel, DicomVR.US, 1);
        dataset.AddOrUpdate<ushort>(DicomTag.BitsAllocated, DicomVR.US, 32);
        dataset.AddOrUpdate(DicomTag.PhotometricInterpretation, "MONOCHROME2");
        dataset.AddOrUpdate(DicomTag.FloatPixelData, DicomVR.OF, values);
        var image = Render(dataset, new RenderOptions { Voi = VoiMode.Auto });
        Assert.Equal(0, image.Pixels[0]);
        Assert.InRange(image.Pixels[1], 84, 85);
        Assert.InRange(image.Pixels[2], 169, 170);
        Assert.InRange(image.Pixels[3], 254, 255);
    }

    [Fact]
    public void SegmentedPaletteExpandsDiscreteLinearAndIndirectSegments()
    {
        // discrete [0, 100], linear 4 entries to 200, indirect: copy 1 segment at byte offset 0 (the discrete one).
        ushort[] data = [0, 2, 0, 100, 1, 4, 200, 2, 1, 0, 0];
        var expanded = LookupTable.ExpandSegmented(data, 9);
        Assert.Equal(new ushort[] { 0, 100, 125, 150, 175, 200, 0, 100, 100 }, expanded);
    }

    [Fact]
    public void PaletteColorMapsThroughSixteenBitPalettes()
    {
        var dataset = Image(3, 1, 8, 8, false, [0, 1, 2]);
        dataset.AddOrUpdate(DicomTag.PhotometricInterpretation, "PALETTE COLOR");
        foreach (var (descriptor, data, values) in new[]
        {
            (DicomTag.RedPaletteColorLookupTableDescriptor, DicomTag.RedPaletteColorLookupTableData, new ushort[] { 0x0000, 0xFFFF, 0x8000 }),
            (DicomTag.GreenPaletteColorLookupTableDescriptor, DicomTag.GreenPaletteColorLookupTableData, new ushort[] { 0xFFFF, 0x0000, 0x8000 }),
            (DicomTag.BluePaletteColorLookupTableDescriptor, DicomTag.BluePaletteColorLookupTableData, new ushort[] { 0x1000, 0x2000, 0x3000 }),
        })
        {
            dataset.AddOrUpdate<ushort>(descriptor, DicomVR.US, 3, 0, 16);
            dataset.AddOrUpdate(data, DicomVR.OW, values);
        }

        var image = Render(dataset, RenderOptions.Default);
        Assert.Equal(new byte[] { 0, 255, 0x10, 255, 0, 0x20, 0x80, 0x80, 0x30 }, image.Pixels);
    }

    [Fact]
    public void YbrFullIsConvertedToRgb()
    {
        // Y 128, Cb 128, Cr 255: R = 128 + 1.402 * 127 (clipped 255), G = 128 - 0.714136 * 127 = 37.3, B = 128.
        var dataset = Image(1, 1, 8, 8, false, [128, 128, 255], samples: 3);
        dataset.AddOrUpdate(DicomTag.PhotometricInterpretation, "YBR_FULL");
        var image = Render(dataset, RenderOptions.Default);
        Assert.Equal(new byte[] { 255, 37, 128 }, image.Pixels);
    }

    [Fact]
    public void RegionAndDownscalingAverageAreas()
    {
        // 4x2 image: left half 0, right half 200 → 2x1 output averages each 2x2 block.
        var dataset = Image(4, 2, 8, 8, false, [0, 0, 200, 200, 0, 0, 200, 200]);
        var image = Render(dataset, new RenderOptions { Voi = VoiMode.None, OutputWidth = 2, OutputHeight = 1 });
        Assert.Equal(new byte[] { 0, 200 }, image.Pixels);

        // 3:1 downscale of a 0/90/180 stripe pattern keeps the mean (90), which nearest sampling would not.
        var stripes = Image(6, 1, 8, 8, false, [0, 90, 180, 0, 90, 180]);
        var scaled = Render(stripes, new RenderOptions { Voi = VoiMode.None, OutputWidth = 2, OutputHeight = 1 });
        Assert.Equal(new byte[] { 90, 90 }, scaled.Pixels);

        var region = Render(dataset, new RenderOptions { Voi = VoiMode.None, Region = new PixelRegion(1, 1, 2, 1) });
        Assert.Equal((2, 1), (region.Width, region.Height));
        Assert.Equal(new byte[] { 0, 200 }, region.Pixels);
    }

    // ---- helpers ----

    internal static IEnumerable<JsonElement> RenderEntries(CorpusFile file) =>
        file.Manifest.TryGetProperty("oracles", out var oracles) && oracles.TryGetProperty("render", out var renders) && renders.ValueKind == JsonValueKind.Array
            ? renders.EnumerateArray().Where(r => r.TryGetProperty("file", out var f) && f.ValueKind == JsonValueKind.String)
            : [];

    private static bool IsReadable(CorpusFile file) =>
        file.Status != "malformed"
        && (!DicomTransferSyntax.TryLookup(file.TransferSyntaxUid, out var syntax) || syntax.IsNative
            || Codecs.FrameCodecs.IsAvailable(syntax.Uid));

    private static (int Max, int BeyondOne, int Exact) Compare(byte[] expected, byte[] actual)
    {
        int max = 0, beyond = 0, exact = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            var difference = Math.Abs(expected[i] - actual[i]);
            max = Math.Max(max, difference);
            beyond += difference > 1 ? 1 : 0;
            exact += difference == 0 ? 1 : 0;
        }

        return (max, beyond, exact);
    }

    private static DicomDataset With(DicomDataset dataset, Action<DicomDataset> change)
    {
        change(dataset);
        return dataset;
    }

    private static DicomDataset Ramp12()
    {
        var values = Enumerable.Range(0, 4096).Select(v => (ushort)v).ToArray();
        return Image(64, 64, 16, 12, false, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
    }

    private static DicomDataset SignedRescaled()
    {
        var values = Enumerable.Range(0, 4096).Select(v => (short)((v * 7 % 4096) - 2048)).ToArray();
        var dataset = Image(64, 64, 16, 16, true, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        dataset.AddOrUpdate(DicomTag.RescaleSlope, "2");
        dataset.AddOrUpdate(DicomTag.RescaleIntercept, "-1024");
        return dataset;
    }

    private static DicomDataset Masked10()
    {
        var values = Enumerable.Range(0, 4096).Select(v => (ushort)((v % 1024) | ((v * 13) & 0xFC00))).ToArray();
        return Image(64, 64, 16, 10, false, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
    }

    private static DicomDataset Ybr(string photometric)
    {
        var pixels = new byte[64 * 64 * 3];
        for (var i = 0; i < 64 * 64; i++)
        {
            pixels[i * 3] = (byte)(i * 13);
            pixels[(i * 3) + 1] = (byte)(i / 16 * 17);
            pixels[(i * 3) + 2] = (byte)(i * 7 + 40);
        }

        var dataset = Image(64, 64, 8, 8, false, pixels, samples: 3);
        dataset.AddOrUpdate(DicomTag.PhotometricInterpretation, photometric);
        return dataset;
    }

    private static DicomDataset Ybr422()
    {
        var pixels = new byte[64 * 32 * 4];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)((i * 29) + (i / 64 * 3));
        }

        var dataset = Image(64, 64, 8, 8, false, pixels, samples: 3);
        dataset.AddOrUpdate(DicomTag.PhotometricInterpretation, "YBR_FULL_422");
        return dataset;
    }

    private static DicomDataset Rgb12()
    {
        var values = Enumerable.Range(0, 64 * 64 * 3).Select(v => (ushort)(v * 37 % 4096)).ToArray();
        return Image(64, 64, 16, 12, false, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), samples: 3);
    }

    private static DicomDataset Ramp(int from, int to)
    {
        var values = Enumerable.Range(from, to - from + 1).Select(v => (ushort)v).ToArray();
        return Image(values.Length, 1, 16, 16, false, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
    }

    private static RenderedImage RenderRamp(int from, int to, RenderOptions options) => Render(Ramp(from, to), options);

    internal static DicomDataset Image(int columns, int rows, int bitsAllocated, int bitsStored, bool signed, byte[] pixels, int samples = 1)
    {
        var dataset = new DicomDataset();
        dataset.AddOrUpdate<ushort>(DicomTag.SamplesPerPixel, DicomVR.US, (ushort)samples);
        dataset.AddOrUpdate(DicomTag.PhotometricInterpretation, samples == 3 ? "RGB" : "MONOCHROME2");
        dataset.AddOrUpdate<ushort>(DicomTag.Rows, DicomVR.US, (ushort)rows);
        dataset.AddOrUpdate<ushort>(DicomTag.Columns, DicomVR.US, (ushort)columns);
        dataset.AddOrUpdate<ushort>(DicomTag.BitsAllocated, DicomVR.US, (ushort)bitsAllocated);
        dataset.AddOrUpdate<ushort>(DicomTag.BitsStored, DicomVR.US, (ushort)bitsStored);
        dataset.AddOrUpdate<ushort>(DicomTag.HighBit, DicomVR.US, (ushort)(bitsStored - 1));
        dataset.AddOrUpdate<ushort>(DicomTag.PixelRepresentation, DicomVR.US, (ushort)(signed ? 1 : 0));
        if (samples > 1)
        {
            dataset.AddOrUpdate<ushort>(DicomTag.PlanarConfiguration, DicomVR.US, 0);
        }

        dataset.Add(new DicomValueElement(DicomTag.PixelData, bitsAllocated > 8 ? DicomVR.OW : DicomVR.OB, pixels));
        return dataset;
    }

    private static RenderedImage Render(DicomDataset dataset, RenderOptions options)
    {
        var reader = PixelDataReader.Create(dataset)!;
        return FrameRenderer.Render(dataset, reader.ReadFrame(0), 0, options);
    }
}
