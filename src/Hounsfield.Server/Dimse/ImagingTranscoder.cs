using System.Globalization;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Transcoding;
using Hounsfield.Network;

namespace Hounsfield.Server.Dimse;

/// <summary>
/// Hounsfield.Imaging's decoders behind the network library's <see cref="IDicomTranscoder"/>: instances stored compressed
/// go uncompressed to peers that accept nothing else (stores to DICOM nodes, C-MOVE and C-GET sub-operations). The
/// decoded data set is held in memory, so an instance whose pixel data would decode to more than
/// <paramref name="maxDecodedLength"/> bytes is refused (that one sub-operation fails, saying why).
/// </summary>
internal sealed class ImagingTranscoder(long maxDecodedLength) : IDicomTranscoder
{
    /// <summary>Only decompression: from an encapsulated syntax whose decoder is available to a native one.</summary>
    public bool CanTranscode(DicomTransferSyntax source, DicomTransferSyntax target) =>
        target.IsNative && target.IsKnown && source.IsKnown && !source.IsNative && FrameCodecs.IsAvailable(source.Uid);

    public DicomDataset Transcode(DicomDataset dataset, DicomTransferSyntax source, DicomTransferSyntax target)
    {
        var decoded = DecodedLength(dataset);
        if (decoded > maxDecodedLength)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"Decompressing this instance from {source.Name} would hold {decoded} bytes of pixel data in memory, over Dimse:MaxDecompressedLength ({maxDecodedLength})."));
        }

        return Transcoder.Transcode(dataset, source, target);
    }

    /// <summary>Rows × Columns × Samples per Pixel × bytes per sample × frames (PS3.5 §8.1.1), from the image pixel attributes.</summary>
    private static long DecodedLength(DicomDataset dataset)
    {
        long rows = dataset.GetValueOrDefault<ushort>(DicomTag.Rows) ?? 0;
        long columns = dataset.GetValueOrDefault<ushort>(DicomTag.Columns) ?? 0;
        long samples = dataset.GetValueOrDefault<ushort>(DicomTag.SamplesPerPixel) ?? 1;
        long bits = dataset.GetValueOrDefault<ushort>(DicomTag.BitsAllocated) ?? 8;
        var frames = long.TryParse(dataset.GetString(DicomTag.NumberOfFrames), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 1;
        return rows * columns * samples * ((bits + 7) / 8) * frames;
    }
}
