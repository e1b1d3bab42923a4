using Hounsfield.Dicom;

namespace Hounsfield.Network.Tests;

/// <summary>Small secondary capture instances made by the tests themselves (no corpus needed).</summary>
internal static class SampleInstances
{
    public static DicomDataset Create(string sopInstanceUid, string patientName, string studyInstanceUid, int seriesNumber, int size = 16)
    {
        var dataset = new DicomDataset();
        dataset.AddOrUpdate(DicomTag.SOPClassUID, DicomVR.UI, DicomUids.SecondaryCaptureImageStorage);
        dataset.AddOrUpdate(DicomTag.SOPInstanceUID, DicomVR.UI, sopInstanceUid);
        dataset.AddOrUpdate(DicomTag.StudyDate, DicomVR.DA, "20240102");
        dataset.AddOrUpdate(DicomTag.Modality, DicomVR.CS, "OT");
        dataset.AddOrUpdate(DicomTag.PatientName, DicomVR.PN, patientName);
        dataset.AddOrUpdate(DicomTag.PatientID, DicomVR.LO, "ID-" + patientName.Split('^')[0]);
        dataset.AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, studyInstanceUid);
        dataset.AddOrUpdate(DicomTag.SeriesInstanceUID, DicomVR.UI, studyInstanceUid + "." + seriesNumber);
        dataset.AddOrUpdate(DicomTag.SeriesNumber, DicomVR.IS, seriesNumber.ToString(System.Globalization.CultureInfo.InvariantCulture));
        dataset.AddOrUpdate(DicomTag.SamplesPerPixel, DicomVR.US, (ushort)1);
        dataset.AddOrUpdate(DicomTag.PhotometricInterpretation, DicomVR.CS, "MONOCHROME2");
        dataset.AddOrUpdate(DicomTag.Rows, DicomVR.US, (ushort)size);
        dataset.AddOrUpdate(DicomTag.Columns, DicomVR.US, (ushort)size);
        dataset.AddOrUpdate(DicomTag.BitsAllocated, DicomVR.US, (ushort)8);
        dataset.AddOrUpdate(DicomTag.BitsStored, DicomVR.US, (ushort)8);
        dataset.AddOrUpdate(DicomTag.HighBit, DicomVR.US, (ushort)7);
        dataset.AddOrUpdate(DicomTag.PixelRepresentation, DicomVR.US, (ushort)0);
        var pixels = new byte[size * size];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)(i * 7);
        }

        dataset.AddOrUpdate(DicomTag.PixelData, DicomVR.OB, pixels);
        return dataset;
    }
}
