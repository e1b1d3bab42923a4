using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Decoders;
using Hounsfield.Imaging.Frames;
using Hounsfield.Imaging.Rendering;
using Hounsfield.Server.Developer;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hounsfield.Server.Tests;

/// <summary>
/// /api/dicom/read/file/ in process: the metadata against DCMTK's dcm2json, every frame against the imaging pipeline's
/// render of it, and the limits that keep hostile uploads (zip bombs, 100k-entry archives) cheap.
/// </summary>
public sealed class DicomReadServiceTests
{
    private static readonly HashSet<DicomVR> ComparableTextVRs = [DicomVR.AE, DicomVR.CS, DicomVR.DA, DicomVR.LO, DicomVR.LT, DicomVR.SH, DicomVR.ST, DicomVR.TM, DicomVR.UI, DicomVR.UT];

    public static TheoryData<string> ReadableFiles => Corpus.Names(f => !f.IsMalformed);

    [CorpusTheory]
    [MemberData(nameof(ReadableFiles))]
    public void EveryFrameIsThePipelinesRenderOfThatFrameAsPng(string name)
    {
        var bytes = File.ReadAllBytes(Corpus.Get(name).Path);

        var response = Service().Read(bytes, null, "png", CancellationToken.None);

        Assert.False(response.IsArchive);
        var result = Assert.Single(response.Files);
        Assert.Equal(ReadImageFormat.Png, result.ImageFormat);
        var expected = RenderAll(bytes);
        if (expected is null)
        {
            Assert.Empty(result.Images);
            return;
        }

        Assert.Null(result.ImageError);
        Assert.Equal(expected.Count, result.Images.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var png = PngDecoder.Decode(result.Images[i]);
            Assert.Equal((expected[i].Width, expected[i].Height, expected[i].Channels), (png.Width, png.Height, png.Channels));
            Assert.True(expected[i].Pixels.AsSpan().SequenceEqual(png.Samples), $"frame {i + 1} differs from the pipeline's render");
        }
    }

    [CorpusTheory]
    [MemberData(nameof(ReadableFiles))]
    public void MetadataTextEqualsDcm2json(string name)
    {
        var corpusFile = Corpus.Get(name);
        var oracleFile = File.Exists(corpusFile.OraclePath("pydicom.json")) ? corpusFile.OraclePath("pydicom.json") : corpusFile.OraclePath("dcm2json.json");
        var oracle = JsonDocument.Parse(File.ReadAllBytes(oracleFile)).RootElement;

        var metadata = Assert.Single(Service().Read(File.ReadAllBytes(corpusFile.Path), null, null, CancellationToken.None).Files).Metadata.ToDictionary();

        var compared = 0;
        foreach (var property in oracle.EnumerateObject())
        {
            // DICOM JSON is UTF-8 whatever the file declared: the declared Specific Character Set is not compared.
            var tag = new DicomTag(Convert.ToUInt32(property.Name, 16));
            if (tag.IsPrivate || tag.IsGroupLength || tag == DicomTag.SpecificCharacterSet || DicomDictionary.Find(tag) is not { Keyword.Length: > 0 } entry || tag == DicomMetadataText.RetiredImageFormat
                || (entry.IsMask && oracle.EnumerateObject().Any(p => p.Name != property.Name && DicomDictionary.Find(new DicomTag(Convert.ToUInt32(p.Name, 16))) == entry && string.CompareOrdinal(p.Name, property.Name) < 0)))
            {
                // Only the first element of a repeating group (6000 before 6002) appears under the shared keyword.
                continue;
            }

            Assert.True(metadata.ContainsKey(entry.Keyword), $"{entry.Keyword} {tag} is missing");
            var vr = DicomVRInfo.Parse(property.Value.GetProperty("vr").GetString()!);
            if (vr == DicomVR.SQ)
            {
                var items = property.Value.TryGetProperty("Value", out var sequence) ? sequence.GetArrayLength() : 0;
                Assert.Equal(items == 1 ? "<sequence of 1 item>" : $"<sequence of {items} items>", metadata[entry.Keyword]);
                compared++;
            }
            else if (ComparableTextVRs.Contains(vr) && property.Value.TryGetProperty("Value", out var values))
            {
                Assert.Equal(string.Join('\\', values.EnumerateArray().Select(v => v.GetString())), metadata[entry.Keyword]);
                compared++;
            }
            else if (vr == DicomVR.PN && property.Value.TryGetProperty("Value", out var names) && names[0].TryGetProperty("Alphabetic", out var alphabetic) && names.GetArrayLength() == 1
                && !names[0].TryGetProperty("Ideographic", out _) && !names[0].TryGetProperty("Phonetic", out _))
            {
                // The oracle drops empty trailing name components ("OB^^^^" is "OB"); read/file returns the value as stored.
                Assert.Equal(alphabetic.GetString()!.TrimEnd('^'), metadata[entry.Keyword]!.TrimEnd('^'));
                compared++;
            }
            else if (vr is DicomVR.US or DicomVR.UL or DicomVR.SS or DicomVR.SL && property.Value.TryGetProperty("Value", out var numbers))
            {
                Assert.Equal(string.Join('\\', numbers.EnumerateArray().Select(v => v.GetInt64())), metadata[entry.Keyword]);
                compared++;
            }
        }

        Assert.True(compared > 0 || oracle.EnumerateObject().Count() < 3, "nothing was compared");
    }

    [CorpusFact]
    public void RequestedFieldsAreReturnedExactlyInTheirOrder()
    {
        var corpusFile = Corpus.Get("evrle_ct_small");
        var oracle = JsonDocument.Parse(File.ReadAllBytes(corpusFile.OraclePath("dcm2json.json"))).RootElement;

        var result = Assert.Single(Service().Read(File.ReadAllBytes(corpusFile.Path), " Rows, PatientID,PixelData,ContrastBolusAgentSequence,TransferSyntaxUID,Rows, SOPClassUID ", "jpeg", CancellationToken.None).Files);

        Assert.Equal(["Rows", "PatientID", "PixelData", "ContrastBolusAgentSequence", "TransferSyntaxUID", "SOPClassUID"], result.Metadata.Select(m => m.Key));
        var values = result.Metadata.ToDictionary();
        Assert.Equal(oracle.GetProperty("00280010").GetProperty("Value")[0].GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture), values["Rows"]);
        Assert.Equal(oracle.GetProperty("00100020").GetProperty("Value")[0].GetString(), values["PatientID"]);
        Assert.Equal(oracle.GetProperty("00080016").GetProperty("Value")[0].GetString(), values["SOPClassUID"]);
        Assert.Matches(@"^<O[BW], \d+ bytes>$", values["PixelData"]);
        Assert.Null(values["ContrastBolusAgentSequence"]); // a keyword the file does not have
        Assert.Equal(DicomTransferSyntax.ExplicitVRLittleEndian.Uid, values["TransferSyntaxUID"]); // from the file meta information
        Assert.Equal(ReadImageFormat.Jpeg, result.ImageFormat);
        var jpeg = JpegFileDecoder.Decode(Assert.Single(result.Images));
        Assert.Equal(int.Parse(values["Rows"]!, System.Globalization.CultureInfo.InvariantCulture), jpeg.Height);
    }

    [CorpusFact]
    public void BinaryValuesAndSequencesAreSummarised()
    {
        var encapsulated = Assert.Single(Service().Read(File.ReadAllBytes(Corpus.Get("jpeg_baseline_mono8").Path), "PixelData", null, CancellationToken.None).Files);
        Assert.Matches(@"^<OB, encapsulated, \d+ fragments, \d+ bytes>$", encapsulated.Metadata[0].Value);

        var sr = Assert.Single(Service().Read(File.ReadAllBytes(Corpus.Get("sr_nested").Path), null, null, CancellationToken.None).Files);
        Assert.Matches(@"^<sequence of \d+ items?>$", sr.Metadata.ToDictionary()["ContentSequence"]);
        Assert.Empty(sr.Images);
        Assert.Null(sr.ImageError);
    }

    [CorpusFact]
    public void AMultiFrameFileGivesOneImagePerFrameOrOneAnimatedGif()
    {
        var bytes = File.ReadAllBytes(Corpus.Get("emri_10frame").Path);
        var expected = RenderAll(bytes)!;

        var jpegs = Assert.Single(Service().Read(bytes, null, "JPG", CancellationToken.None).Files).Images;
        Assert.Equal(10, jpegs.Count);
        Assert.All(jpegs, j => Assert.Equal((expected[0].Width, expected[0].Height), (JpegFileDecoder.Decode(j).Width, JpegFileDecoder.Decode(j).Height)));

        var gif = GifReader.Read(Assert.Single(Assert.Single(Service().Read(bytes, null, "gif", CancellationToken.None).Files).Images));
        Assert.Equal(10, gif.Frames.Count);
        for (var i = 0; i < 10; i++)
        {
            // Gray frames: at most 256 levels, so the GIF palette holds each exactly.
            var gray = gif.Frames[i].ToRgb().Where((_, k) => k % 3 == 0).ToArray();
            Assert.Equal(expected[i].Pixels, gray);
        }

        Assert.Equal(CineTiming.GetGifDelayCentiseconds(DicomFile.Read(bytes).Dataset), gif.Frames[0].DelayCentiseconds);
    }

    [Fact]
    public void UnknownFieldsAreRefusedTogether()
    {
        var error = Assert.Throws<DicomServiceException>(() => Service().Read(new byte[200], "PatientName,Foo,patientname,Bar", null, CancellationToken.None));
        Assert.Equal(400, error.StatusCode);
        Assert.Equal(["Invalid fields: Foo, patientname, Bar"], error.FieldErrors!["fields"]);
    }

    [Fact]
    public void AnUnknownReturnFormatIsAFieldError()
    {
        var error = Assert.Throws<DicomServiceException>(() => Service().Read(new byte[200], null, "bmp", CancellationToken.None));
        Assert.Contains("bmp", Assert.Single(error.FieldErrors!["return_format"]), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("png")]
    [InlineData("text")]
    [InlineData("random")]
    [InlineData("dicm-garbage")]
    public void NotDicomIsInvalidDicomFile(string kind)
    {
        byte[] bytes = kind switch
        {
            "png" => Hounsfield.Imaging.Encoders.PngEncoder.Encode(new RenderedImage(2, 2, 1, new byte[4])),
            "text" => "hello, this is not a DICOM file at all\n"u8.ToArray(),
            "random" => RandomBytes(4096, 1),
            _ => [.. new byte[128], .. "DICM"u8.ToArray(), .. RandomBytes(300, 2)],
        };

        var error = Assert.Throws<DicomServiceException>(() => Service().Read(bytes, null, null, CancellationToken.None));
        Assert.Equal(400, error.StatusCode);
        Assert.Equal(["Invalid DICOM file"], error.FieldErrors!["file"]);
    }

    [CorpusFact]
    public void AZipGivesOneObjectPerEntryNamedAfterIt()
    {
        string[] names = ["evrle_ct_small", "rgb_odd_3x3", "sr_nested"];
        var zip = Zip(names.Select(n => ($"study/{n}.dcm", File.ReadAllBytes(Corpus.Get(n).Path))), withDirectory: true);

        var response = Service().Read(zip, "SOPInstanceUID", null, CancellationToken.None);

        Assert.True(response.IsArchive);
        Assert.Equal(names.Select(n => $"study/{n}.dcm"), response.Files.Select(f => f.FileName));
        for (var i = 0; i < names.Length; i++)
        {
            var single = Assert.Single(Service().Read(File.ReadAllBytes(Corpus.Get(names[i]).Path), "SOPInstanceUID", null, CancellationToken.None).Files);
            Assert.Equal(single.Metadata, response.Files[i].Metadata);
            Assert.Equal(single.Images, response.Files[i].Images);
        }
    }

    [CorpusFact]
    public void AZipEntryThatIsNotDicomIsNamedInTheError()
    {
        var zip = Zip([("a.dcm", File.ReadAllBytes(Corpus.Get("rgb_odd_3x3").Path)), ("notes.txt", "not dicom"u8.ToArray())]);
        var error = Assert.Throws<DicomServiceException>(() => Service().Read(zip, null, null, CancellationToken.None));
        Assert.Equal(["Invalid DICOM file: zip entry 'notes.txt'"], error.FieldErrors!["file"]);
    }

    [CorpusFact]
    public void EveryCutOrBrokenZipIsA400OnFileNeverAnotherError()
    {
        var zip = Zip([("a.dcm", File.ReadAllBytes(Corpus.Get("rgb_odd_3x3").Path)), ("b.dcm", File.ReadAllBytes(Corpus.Get("rgb_odd_3x3").Path))]);
        byte[] headerThenZeros = [.. "PK\u0003\u0004"u8, .. new byte[100]];
        var broken = new List<byte[]> { "PK\u0003\u0004garbage"u8.ToArray(), "PK\u0005\u0006"u8.ToArray(), headerThenZeros };
        broken.AddRange(Enumerable.Range(4, zip.Length - 4).Where(length => length % 7 == 0 || length > zip.Length - 40).Select(length => zip[..length]));
        var flipped = (byte[])zip.Clone();
        flipped[^4] ^= 0xFF; // the central directory's offset, in the end record (22 bytes, no comment)
        broken.Add(flipped);

        foreach (var bytes in broken)
        {
            try
            {
                Service().Read(bytes, null, null, CancellationToken.None);
                Assert.Fail($"{bytes.Length} bytes of a broken zip ({zip.Length} whole) were read");
            }
            catch (DicomServiceException error)
            {
                Assert.True(error.FieldErrors!.ContainsKey("file"), $"{bytes.Length} bytes: {error.Message}");
            }
        }
    }

    [Fact]
    public void AHighlyCompressedHugeEntryIsRefusedQuicklyInBoundedMemory()
    {
        // 64 MiB of zeros deflate to about 64 KiB: a ratio of 1000:1, refused once 1 MiB has been inflated.
        var zip = Zip([("bomb.dcm", new byte[64 << 20])], level: CompressionLevel.SmallestSize);
        var (error, milliseconds, allocated) = Measure(() => Service().Read(zip, null, null, CancellationToken.None));
        Assert.Contains("MaxZipCompressionRatio", Assert.Single(error.FieldErrors!["file"]), StringComparison.Ordinal);
        Assert.True(milliseconds < 2000, $"took {milliseconds} ms");
        Assert.True(allocated < 8 << 20, $"allocated {allocated} bytes");
    }

    [Fact]
    public void EntrySizesAreCountedWhileInflatingNotTakenFromTheHeaders()
    {
        // Sizes patched to claim 100 bytes; the ratio check is off, so the inflated byte count is what stops it.
        var zip = Zip([("liar.dcm", new byte[64 << 20])], level: CompressionLevel.SmallestSize);
        PatchDeclaredSizes(zip, 100);
        var options = new DicomServicesOptions { MaxZipEntryBytes = 4 << 20, MaxZipCompressionRatio = double.MaxValue };
        var (error, milliseconds, allocated) = Measure(() => Service(options).Read(zip, null, null, CancellationToken.None));
        Assert.Equal(400, error.StatusCode);
        Assert.True(milliseconds < 2000, $"took {milliseconds} ms");
        Assert.True(allocated < 16 << 20, $"allocated {allocated} bytes: {error.Message}");
    }

    [Fact]
    public void TheTotalInflatedSizeOfAZipIsLimited()
    {
        var zip = Zip(Enumerable.Range(0, 5).Select(i => ($"{i}.dcm", DicomOfBytes(1 << 20, i))));
        var options = new DicomServicesOptions { MaxZipTotalBytes = 3 << 20 };
        var error = Assert.Throws<DicomServiceException>(() => Service(options).Read(zip, null, null, CancellationToken.None));
        Assert.Contains("MaxZipTotalBytes", Assert.Single(error.FieldErrors!["file"]), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AZipOf100000EntriesIsRefusedFromItsDirectoryRecord(bool lyingCount)
    {
        var zip = Zip(Enumerable.Range(0, 100_000).Select(i => ($"{i}", Array.Empty<byte>())));
        if (lyingCount)
        {
            PatchEndRecordCount(zip, 3);
        }

        var (error, milliseconds, _) = Measure(() => Service().Read(zip, null, null, CancellationToken.None));
        Assert.Equal(400, error.StatusCode);
        Assert.Contains(lyingCount ? "zip" : "100000 entries", Assert.Single(error.FieldErrors!["file"]), StringComparison.Ordinal);
        Assert.True(milliseconds < 3000, $"took {milliseconds} ms");
    }

    [CorpusFact]
    public void FramesBeyondTheRenderBudgetAreReportedNotRendered()
    {
        var options = new DicomServicesOptions { MaxFramesRendered = 12 };
        var zip = Zip([("a.dcm", File.ReadAllBytes(Corpus.Get("emri_10frame").Path)), ("b.dcm", File.ReadAllBytes(Corpus.Get("emri_10frame").Path))]);

        var response = Service(options).Read(zip, "Rows", null, CancellationToken.None);

        Assert.Equal(10, response.Files[0].Images.Count);
        Assert.Empty(response.Files[1].Images);
        Assert.Contains("MaxFramesRendered", response.Files[1].ImageError, StringComparison.Ordinal);
        Assert.Equal("Rows", Assert.Single(response.Files[1].Metadata).Key);
    }

    internal static DicomReadService Service(DicomServicesOptions? options = null) => new(options ?? new DicomServicesOptions(), NullLogger<DicomReadService>.Instance);

    internal static byte[] Zip(IEnumerable<(string Name, byte[] Content)> entries, bool withDirectory = false, CompressionLevel level = CompressionLevel.Fastest)
    {
        using var memory = new MemoryStream();
        using (var archive = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            if (withDirectory)
            {
                archive.CreateEntry("study/");
            }

            foreach (var (name, content) in entries)
            {
                using var stream = archive.CreateEntry(name, level).Open();
                stream.Write(content);
            }
        }

        return memory.ToArray();
    }

    /// <summary>The pipeline's render of every frame with the default options, or null when the file has no renderable pixel data.</summary>
    private static List<RenderedImage>? RenderAll(byte[] bytes)
    {
        var file = DicomFile.Read(bytes);
        try
        {
            var reader = PixelDataReader.Create(file);
            return reader is null ? null : [.. Enumerable.Range(0, reader.FrameCount).Select(i => FrameRenderer.Render(file.Dataset, reader.ReadFrame(i), i, RenderOptions.Default))];
        }
        catch (Exception ex) when (ex is NotSupportedException or Hounsfield.Imaging.Codecs.ImageCodecException or InvalidOperationException or DicomFormatException)
        {
            return null;
        }
    }

    private static (DicomServiceException Error, long Milliseconds, long Allocated) Measure(Action action)
    {
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<DicomServiceException>(action);
        return (error, clock.ElapsedMilliseconds, GC.GetAllocatedBytesForCurrentThread() - allocated);
    }

    /// <summary>A small DICOM file carrying <paramref name="length"/> random bytes (no image: it has no Rows and Columns).</summary>
    private static byte[] DicomOfBytes(int length, int seed)
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTag.SOPClassUID, DicomVR.UI, DicomUids.SecondaryCaptureImageStorage)
            .AddOrUpdate(DicomTag.SOPInstanceUID, DicomVR.UI, DicomUidGenerator.FromUuid())
            .Add(new DicomValueElement(DicomTag.PixelData, DicomVR.OB, RandomBytes(length, seed)));
        return new DicomFile(dataset).ToBytes();
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Rewrites the uncompressed size of every local and central directory header (APPNOTE §4.3.7, §4.3.12).</summary>
    private static void PatchDeclaredSizes(byte[] zip, uint size)
    {
        for (var i = 0; i + 46 <= zip.Length; i++)
        {
            var signature = BitConverter.ToUInt32(zip, i);
            if (signature == 0x04034B50)
            {
                BitConverter.TryWriteBytes(zip.AsSpan(i + 22), size);
            }
            else if (signature == 0x02014B50)
            {
                BitConverter.TryWriteBytes(zip.AsSpan(i + 24), size);
            }
        }
    }

    /// <summary>Makes the end records (zip64 too, APPNOTE §4.3.14) claim <paramref name="count"/> entries.</summary>
    private static void PatchEndRecordCount(byte[] zip, ushort count)
    {
        var end = zip.AsSpan().LastIndexOf([(byte)0x50, (byte)0x4B, (byte)0x05, (byte)0x06]);
        BitConverter.TryWriteBytes(zip.AsSpan(end + 8), count);
        BitConverter.TryWriteBytes(zip.AsSpan(end + 10), count);
        var zip64 = zip.AsSpan().LastIndexOf([(byte)0x50, (byte)0x4B, (byte)0x06, (byte)0x06]);
        if (zip64 >= 0)
        {
            BitConverter.TryWriteBytes(zip.AsSpan(zip64 + 24), (ulong)count);
            BitConverter.TryWriteBytes(zip.AsSpan(zip64 + 32), (ulong)count);
        }
    }
}
