// Classification of abstract syntaxes by service (PS3.4 Annexes A, B, C, K; PS3.6 Annex A).
using Hounsfield.Dicom;

namespace Hounsfield.Network;

/// <summary>Which SOP classes belong to which DIMSE-C service.</summary>
public static class DicomSopClasses
{
    /// <summary>FIND information models: Patient Root, Study Root, Patient/Study Only (retired), Modality Worklist.</summary>
    public static readonly IReadOnlyList<string> FindModels =
    [
        DicomUids.PatientRootQueryRetrieveInformationModelFind,
        DicomUids.StudyRootQueryRetrieveInformationModelFind,
        DicomUids.PatientStudyOnlyQueryRetrieveInformationModelFind,
        DicomUids.ModalityWorklistInformationModelFind,
    ];

    public static readonly IReadOnlyList<string> MoveModels =
    [
        DicomUids.PatientRootQueryRetrieveInformationModelMove,
        DicomUids.StudyRootQueryRetrieveInformationModelMove,
        DicomUids.PatientStudyOnlyQueryRetrieveInformationModelMove,
        DicomUids.CompositeInstanceRootRetrieveMove,
    ];

    public static readonly IReadOnlyList<string> GetModels =
    [
        DicomUids.PatientRootQueryRetrieveInformationModelGet,
        DicomUids.StudyRootQueryRetrieveInformationModelGet,
        DicomUids.PatientStudyOnlyQueryRetrieveInformationModelGet,
        DicomUids.CompositeInstanceRootRetrieveGet,
    ];

    /// <summary>Storage SOP classes proposed by default for the C-STORE sub-operations of a C-GET (one association holds at most 128 contexts).</summary>
    public static readonly IReadOnlyList<string> CommonStorage =
    [
        DicomUids.CTImageStorage, DicomUids.EnhancedCTImageStorage, DicomUids.MRImageStorage, DicomUids.EnhancedMRImageStorage,
        DicomUids.EnhancedMRColorImageStorage, DicomUids.MRSpectroscopyStorage, DicomUids.UltrasoundImageStorage,
        DicomUids.UltrasoundMultiFrameImageStorage, DicomUids.SecondaryCaptureImageStorage,
        DicomUids.MultiFrameSingleBitSecondaryCaptureImageStorage, DicomUids.MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
        DicomUids.MultiFrameGrayscaleWordSecondaryCaptureImageStorage, DicomUids.MultiFrameTrueColorSecondaryCaptureImageStorage,
        DicomUids.ComputedRadiographyImageStorage, DicomUids.DigitalXRayImageStorageForPresentation,
        DicomUids.DigitalXRayImageStorageForProcessing, DicomUids.DigitalMammographyXRayImageStorageForPresentation,
        DicomUids.DigitalMammographyXRayImageStorageForProcessing, DicomUids.NuclearMedicineImageStorage,
        DicomUids.PositronEmissionTomographyImageStorage, DicomUids.EnhancedPETImageStorage, DicomUids.XRayAngiographicImageStorage,
        DicomUids.EnhancedXAImageStorage, DicomUids.XRayRadiofluoroscopicImageStorage, DicomUids.RTImageStorage, DicomUids.RTDoseStorage,
        DicomUids.RTStructureSetStorage, DicomUids.RTPlanStorage, DicomUids.RTIonPlanStorage, DicomUids.BasicTextSRStorage,
        DicomUids.EnhancedSRStorage, DicomUids.ComprehensiveSRStorage, DicomUids.KeyObjectSelectionDocumentStorage,
        DicomUids.SegmentationStorage, DicomUids.EncapsulatedPDFStorage, DicomUids.RawDataStorage, DicomUids.SpatialRegistrationStorage,
        DicomUids.GrayscaleSoftcopyPresentationStateStorage, DicomUids.VLPhotographicImageStorage, DicomUids.VLEndoscopicImageStorage,
        DicomUids.VideoEndoscopicImageStorage, DicomUids.OphthalmicPhotography8BitImageStorage, DicomUids.TwelveLeadECGWaveformStorage,
        DicomUids.ParametricMapStorage, "1.2.840.10008.5.1.4.1.1.6", "1.2.840.10008.5.1.4.1.1.3", "1.2.840.10008.5.1.4.1.1.5",
    ];

    /// <summary>A registered storage SOP class, or a UID the registry does not know (a private storage SOP class).</summary>
    public static bool IsStorage(string uid)
    {
        if (uid.StartsWith("1.2.840.10008.5.1.4.1.1.", StringComparison.Ordinal))
        {
            return true;
        }

        var info = DicomUids.Find(uid);
        if (info is null)
        {
            return !uid.StartsWith("1.2.840.10008.", StringComparison.Ordinal);
        }

        return info.IsSopClass && info.Name.Contains("Storage", StringComparison.Ordinal)
            && !info.Name.Contains("Commitment", StringComparison.Ordinal) && !info.Name.Contains("Management", StringComparison.Ordinal);
    }
}
