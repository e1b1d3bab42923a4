using Hounsfield.Dicom;

namespace Hounsfield.Server.Tests;

/// <summary>Synthetic instances for archive tests: a secondary capture with the given UIDs, and whatever else a test adds.</summary>
internal static class SecondaryCapture
{
    public const string SopClassUid = "1.2.840.10008.5.1.4.1.1.7";

    /// <summary>The Part 10 bytes of a secondary capture of these UIDs; <paramref name="complete"/> adds the test's own elements.</summary>
    public static byte[] Bytes(string studyInstanceUid, string seriesInstanceUid, string sopInstanceUid, Action<DicomDataset>? complete = null)
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTag.SOPClassUID, DicomVR.UI, SopClassUid)
            .AddOrUpdate(DicomTag.SOPInstanceUID, DicomVR.UI, sopInstanceUid)
            .AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, studyInstanceUid)
            .AddOrUpdate(DicomTag.SeriesInstanceUID, DicomVR.UI, seriesInstanceUid);
        complete?.Invoke(dataset);
        return new DicomFile(dataset).ToBytes();
    }
}
