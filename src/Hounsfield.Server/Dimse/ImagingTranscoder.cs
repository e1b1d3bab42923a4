using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Transcoding;
using Hounsfield.Network;

namespace Hounsfield.Server.Dimse;

/// <summary>
/// Hounsfield.Imaging's decoders behind the network library's <see cref="IDicomTranscoder"/>: instances stored compressed
/// go uncompressed to peers that accept nothing else (stores to DICOM nodes, C-MOVE and C-GET sub-operations).
/// </summary>
internal sealed class ImagingTranscoder : IDicomTranscoder
{
    public static readonly ImagingTranscoder Instance = new();

    private ImagingTranscoder()
    {
    }

    /// <summary>Only decompression: from an encapsulated syntax whose decoder is available to a native one.</summary>
    public bool CanTranscode(DicomTransferSyntax source, DicomTransferSyntax target) =>
        target.IsNative && target.IsKnown && source.IsKnown && !source.IsNative && FrameCodecs.IsAvailable(source.Uid);

    public DicomDataset Transcode(DicomDataset dataset, DicomTransferSyntax source, DicomTransferSyntax target) =>
        Transcoder.Transcode(dataset, source, target);
}
