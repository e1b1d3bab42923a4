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

    /// <summary>A large value whose bytes must never be asked for.</summary>
    private sealed class UnreadableBuffer(long length) : DicomBuffer
    {
        public override long Length => length;

        public override bool IsInMemory => false;

        public override ReadOnlyMemory<byte> GetMemory() => throw new InvalidOperationException("the value was read");

        public override int Read(long offset, Span<byte> destination) => throw new InvalidOperationException("the value was read");
    }
}
