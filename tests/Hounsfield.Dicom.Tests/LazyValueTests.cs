using Hounsfield.Dicom.IO;

namespace Hounsfield.Dicom.Tests;

public sealed class LazyValueTests
{
    public static TheoryData<string> FilesWithPixelData => Corpus.Names(f => !f.IsMalformed && f.Manifest.TryGetProperty("pixel_data_element", out var e) && e.ValueKind == System.Text.Json.JsonValueKind.String);

    [CorpusTheory]
    [MemberData(nameof(FilesWithPixelData))]
    public void Lazily_read_values_equal_the_values_read_into_memory(string name)
    {
        var path = Corpus.Get(name).Path;
        var lazy = DicomFile.Open(path, DicomReadOptions.Default with { LazyValueThreshold = 16 }).Dataset;
        var eager = DicomFile.Read(File.ReadAllBytes(path)).Dataset;

        var lazyBytes = new MemoryStream();
        var eagerBytes = new MemoryStream();
        // An encapsulated syntax accepts both native and encapsulated pixel data, so every file can be written in it.
        DicomWriter.WriteDataSet(lazyBytes, lazy, DicomTransferSyntax.JpegBaseline);
        DicomWriter.WriteDataSet(eagerBytes, eager, DicomTransferSyntax.JpegBaseline);
        Assert.Equal(eagerBytes.ToArray(), lazyBytes.ToArray());
    }
}
