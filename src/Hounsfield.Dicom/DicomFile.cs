using Hounsfield.Dicom.IO;

namespace Hounsfield.Dicom;

/// <summary>A DICOM file (PS3.10): optional preamble, file meta information (group 0002) and the data set.</summary>
public sealed class DicomFile
{
    public DicomFile(DicomDataset meta, DicomDataset dataset, DicomTransferSyntax transferSyntax, byte[]? preamble = null, IReadOnlyList<string>? warnings = null)
    {
        Meta = meta;
        Dataset = dataset;
        TransferSyntax = transferSyntax;
        Preamble = preamble;
        Warnings = warnings ?? [];
    }

    /// <summary>A new file for a data set, to be written in <paramref name="transferSyntax"/> (default explicit VR little endian).</summary>
    public DicomFile(DicomDataset dataset, DicomTransferSyntax? transferSyntax = null)
        : this(new DicomDataset(), dataset, transferSyntax ?? DicomTransferSyntax.ExplicitVRLittleEndian)
    {
    }

    /// <summary>The file meta information elements as read (the writer completes and corrects them).</summary>
    public DicomDataset Meta { get; }

    public DicomDataset Dataset { get; }

    /// <summary>The transfer syntax the data set was read in.</summary>
    public DicomTransferSyntax TransferSyntax { get; }

    /// <summary>The 128-byte preamble, or null when the input had none.</summary>
    public byte[]? Preamble { get; }

    /// <summary>What a lenient read tolerated (no meta information, a stray delimiter, ...).</summary>
    public IReadOnlyList<string> Warnings { get; }

    public static DicomFile Open(string path, DicomReadOptions? options = null) => DicomReader.ReadFile(path, options);

    public static DicomFile Read(Stream stream, DicomReadOptions? options = null) => DicomReader.Read(stream, options);

    public static DicomFile Read(ReadOnlyMemory<byte> bytes, DicomReadOptions? options = null) => DicomReader.Read(bytes, options);

    public void Save(string path, DicomTransferSyntax? transferSyntax = null, DicomWriteOptions? options = null)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1);
        Write(stream, transferSyntax, options);
    }

    public void Write(Stream stream, DicomTransferSyntax? transferSyntax = null, DicomWriteOptions? options = null) =>
        DicomWriter.WriteFile(stream, this, transferSyntax ?? TransferSyntax, options);

    public byte[] ToBytes(DicomTransferSyntax? transferSyntax = null, DicomWriteOptions? options = null)
    {
        using var memory = new MemoryStream();
        Write(memory, transferSyntax, options);
        return memory.ToArray();
    }
}
