// Conversion of an instance stored compressed into a syntax the peer accepts, when it accepts no compressed one (PS3.5
// §8.2 and §10; PS3.4 B.4.1: a storage SCU may send in any transfer syntax negotiated). The network library has no
// codecs (it depends on the BCL only), so whoever has them supplies this.
using Hounsfield.Dicom;

namespace Hounsfield.Network;

/// <summary>Decodes the pixel data of a data set into another transfer syntax, for C-STORE to a peer that refuses the stored one.</summary>
public interface IDicomTranscoder
{
    /// <summary>Whether a data set stored in <paramref name="source"/> can be converted to <paramref name="target"/> here and now.</summary>
    bool CanTranscode(DicomTransferSyntax source, DicomTransferSyntax target);

    /// <summary>A copy of <paramref name="dataset"/> (read in <paramref name="source"/>) with its pixel data in <paramref name="target"/>.</summary>
    DicomDataset Transcode(DicomDataset dataset, DicomTransferSyntax source, DicomTransferSyntax target);
}
