// A data set without file meta information, in a transfer syntax known from elsewhere (PS3.5 §10; in DIMSE,
// the transfer syntax negotiated for the presentation context, PS3.7 §6.3.1 and PS3.8 §9.3.5).
using System.IO.Compression;

namespace Hounsfield.Dicom.IO;

public sealed partial class DicomReader
{
    /// <summary>Reads a raw data set encoded in <paramref name="transferSyntax"/>; values are slices of <paramref name="bytes"/>.</summary>
    public static DicomDataset ReadDataSet(ReadOnlyMemory<byte> bytes, DicomTransferSyntax transferSyntax, DicomReadOptions? options = null)
    {
        using var input = new DicomInput(bytes);
        return ReadDataSet(input, transferSyntax, options ?? DicomReadOptions.Default);
    }

    /// <summary>Reads a raw data set encoded in <paramref name="transferSyntax"/> from a stream, which is consumed but not disposed.</summary>
    public static DicomDataset ReadDataSet(Stream stream, DicomTransferSyntax transferSyntax, DicomReadOptions? options = null)
    {
        using var input = new DicomInput(stream, stream.CanSeek ? stream.Position : 0);
        return ReadDataSet(input, transferSyntax, options ?? DicomReadOptions.Default);
    }

    private static DicomDataset ReadDataSet(DicomInput input, DicomTransferSyntax transferSyntax, DicomReadOptions options)
    {
        var reader = new DicomReader(input, options, null);
        try
        {
            var dataset = new DicomDataset();
            if (transferSyntax.IsDeflated)
            {
                using var inflated = new LimitedReadStream(new DeflateStream(input.RemainderAsStream(), CompressionMode.Decompress), options.MaxInflatedLength);
                using var inflatedInput = new DicomInput(inflated);
                var inner = new DicomReader(inflatedInput, options, null);
                inner.ReadDataSet(dataset, Syntax.ExplicitLittle, end: -1, depth: 0, topLevel: true);
            }
            else
            {
                reader.ReadDataSet(dataset, new Syntax(transferSyntax.IsExplicitVR, transferSyntax.IsBigEndian), end: -1, depth: 0, topLevel: true);
            }

            return dataset;
        }
        catch (DicomFormatException)
        {
            throw;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or OverflowException or ArgumentException or InvalidOperationException or IndexOutOfRangeException or FormatException or OutOfMemoryException)
        {
            throw new DicomFormatException($"Unreadable DICOM data set: {ex.Message}", input.Position, reader.currentTag, ex);
        }
    }
}
