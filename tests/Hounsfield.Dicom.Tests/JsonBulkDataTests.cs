using System.Text.Json;
using Hounsfield.Dicom.IO;
using Hounsfield.Dicom.Json;

namespace Hounsfield.Dicom.Tests;

public sealed class JsonBulkDataTests
{
    private static readonly DicomJsonOptions UriAboveOneKilobyte = new() { BulkDataThreshold = 1024, BulkDataUri = (path, _) => "bulk/" + path };

    [Fact]
    public void Encapsulated_pixel_data_is_OB_in_json_even_when_the_file_says_OW()
    {
        var dataset = new DicomDataset().Add(new DicomFragmentSequence(DicomTag.PixelData, DicomVR.OW, DicomBuffer.Empty, [DicomBuffer.FromBytes(new byte[] { 0xFF, 0xD8, 0xFF, 0xD9 })]));

        var pixelData = JsonDocument.Parse(DicomJsonWriter.Serialize(dataset)).RootElement.GetProperty("7FE00010");

        Assert.Equal("OB", pixelData.GetProperty("vr").GetString());
        Assert.True(pixelData.TryGetProperty("InlineBinary", out _));
    }

    [Fact]
    public void Encapsulated_pixel_data_over_the_threshold_becomes_a_uri_without_reading_a_fragment()
    {
        // An ingest writes the metadata of multi-gigabyte compressed instances: their fragments must stay on disk.
        var fragments = Enumerable.Range(0, 3).Select(_ => (DicomBuffer)new UnreadableBuffer(1L << 30)).ToList();
        var dataset = new DicomDataset().Add(new DicomFragmentSequence(DicomTag.PixelData, DicomVR.OB, DicomBuffer.Empty, fragments));

        var pixelData = JsonDocument.Parse(DicomJsonWriter.Serialize(dataset, UriAboveOneKilobyte)).RootElement.GetProperty("7FE00010");

        Assert.Equal("bulk/7FE00010", pixelData.GetProperty("BulkDataURI").GetString());
    }

    [Fact]
    public void A_native_value_over_the_threshold_becomes_a_uri_without_being_read()
    {
        var dataset = new DicomDataset().Add(new DicomValueElement(DicomTag.PixelData, DicomVR.OW, new UnreadableBuffer(1L << 31)));

        var pixelData = JsonDocument.Parse(DicomJsonWriter.Serialize(dataset, UriAboveOneKilobyte)).RootElement.GetProperty("7FE00010");

        Assert.Equal("bulk/7FE00010", pixelData.GetProperty("BulkDataURI").GetString());
    }

    [Fact]
    public void Unresolved_bulk_data_read_from_json_is_written_back_as_its_uris_in_json_and_xml_with_a_negative_threshold()
    {
        const string Json = """
            {"00081115":{"vr":"SQ","Value":[{"00283006":{"vr":"OW","BulkDataURI":"b/2"}}]},
             "00091010":{"vr":"OB"},"00091011":{"vr":"OB","InlineBinary":"AQI="},"7FE00010":{"vr":"OW","BulkDataURI":"b/1"}}
            """;
        var uris = new Dictionary<string, string>();
        var dataset = DicomJsonReader.Read(Json, new DicomJsonReadOptions { UnresolvedBulkData = r => uris[r.Path.ToString()] = r.Uri });
        var backAsUris = new DicomJsonOptions { BulkDataThreshold = -1, BulkDataUri = (path, _) => uris.TryGetValue(path.ToString(), out var uri) ? "https://host/" + uri : null };

        var json = JsonDocument.Parse(DicomJsonWriter.Serialize(dataset, backAsUris)).RootElement;
        var xml = System.Xml.Linq.XDocument.Parse(Hounsfield.Dicom.Xml.DicomXmlWriter.Serialize(dataset, backAsUris));

        Assert.Equal("https://host/b/1", json.GetProperty("7FE00010").GetProperty("BulkDataURI").GetString());
        Assert.Equal("https://host/b/2", json.GetProperty("00081115").GetProperty("Value")[0].GetProperty("00283006").GetProperty("BulkDataURI").GetString());
        Assert.Equal("""{"vr":"OB"}""", json.GetProperty("00091010").GetRawText());
        Assert.Equal("AQI=", json.GetProperty("00091011").GetProperty("InlineBinary").GetString());
        System.Xml.Linq.XNamespace ns = Hounsfield.Dicom.Xml.DicomXmlWriter.Namespace;
        Assert.Equal(["https://host/b/2", "https://host/b/1"], xml.Descendants(ns + "BulkData").Select(b => (string)b.Attribute("uri")!));
        Assert.Empty(xml.Root!.Elements().Single(e => (string?)e.Attribute("tag") == "00091010").Elements());
        Assert.Equal("AQI=", xml.Root!.Elements().Single(e => (string?)e.Attribute("tag") == "00091011").Element(ns + "InlineBinary")!.Value);

        // With the default threshold, an empty value is written as empty, whatever the factory would say.
        var unchanged = JsonDocument.Parse(DicomJsonWriter.Serialize(dataset, UriAboveOneKilobyte)).RootElement;
        Assert.Equal("""{"vr":"OW"}""", unchanged.GetProperty("7FE00010").GetRawText());
    }

    /// <summary>A large value whose bytes must never be asked for.</summary>
    private sealed class UnreadableBuffer(long length) : DicomBuffer
    {
        public override long Length => length;

        public override bool IsInMemory => false;

        public override ReadOnlyMemory<byte> GetMemory() => throw new InvalidOperationException("the value was read");

        public override int Read(long offset, Span<byte> destination) => throw new InvalidOperationException("the value was read");
    }
}
