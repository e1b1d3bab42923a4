using Hounsfield.Dicom;

namespace Hounsfield.Archive.Query;

/// <summary>
/// How an indexed attribute is matched and where it lives (PS3.18 Tables 10.6.1-5/6/7 of required keys). A sequence's
/// column holds its items as DICOM JSON; <paramref name="ItemKeys"/> are the attributes of its items that can be matched.
/// An attribute not <paramref name="ReturnedByDefault"/> is returned when asked for (includefield, a C-FIND return key).
/// </summary>
internal sealed record QueryAttribute(DicomTag Tag, DicomVR VR, QueryLevel Level, string Column, bool Computed = false, DicomTag[]? ItemKeys = null,
    bool ReturnedByDefault = true)
{
    /// <summary>Whether a value of it can be matched: a stored one, or the modalities of a study (any of its series').</summary>
    public bool Matchable => !Computed || Tag == DicomTag.ModalitiesInStudy;
}

internal static class QueryAttributes
{
    /// <summary>The attributes of each Request Attributes Sequence item that PS3.18 returns with a series, and matches.</summary>
    public static readonly DicomTag[] RequestAttributeItemKeys = [DicomTag.ScheduledProcedureStepID, DicomTag.RequestedProcedureID];

    public static readonly QueryAttribute[] All =
    [
        new(DicomTag.StudyDate, DicomVR.DA, QueryLevel.Study, "st.study_date"),
        new(DicomTag.StudyTime, DicomVR.TM, QueryLevel.Study, "st.study_time"),
        new(DicomTag.AccessionNumber, DicomVR.SH, QueryLevel.Study, "st.accession_number"),
        // Everything stored here is on line (PS3.4 C.4.1.1.3.2); PS3.18 returns it with studies and instances.
        new(DicomTag.InstanceAvailability, DicomVR.CS, QueryLevel.Study, "'ONLINE'", Computed: true),
        new(DicomTag.ModalitiesInStudy, DicomVR.CS, QueryLevel.Study, "(SELECT replace(group_concat(DISTINCT x.modality), ',', '\\') FROM series x WHERE x.study_pk = st.pk)", Computed: true),
        new(DicomTag.SOPClassesInStudy, DicomVR.UI, QueryLevel.Study,
            "(SELECT replace(group_concat(DISTINCT x.sop_class_uid), ',', '\\') FROM instances x JOIN series y ON y.pk = x.series_pk WHERE y.study_pk = st.pk)",
            Computed: true, ReturnedByDefault: false),
        new(DicomTag.ReferringPhysicianName, DicomVR.PN, QueryLevel.Study, "st.referring_physician_name"),
        new(DicomTag.StudyDescription, DicomVR.LO, QueryLevel.Study, "st.study_description"),
        new(DicomTag.PatientName, DicomVR.PN, QueryLevel.Study, "p.patient_name"),
        new(DicomTag.PatientID, DicomVR.LO, QueryLevel.Study, "p.patient_id"),
        new(DicomTag.PatientBirthDate, DicomVR.DA, QueryLevel.Study, "p.patient_birth_date"),
        new(DicomTag.PatientSex, DicomVR.CS, QueryLevel.Study, "p.patient_sex"),
        // The patient's counts (PS3.4 C.6.1.1.2), for C-FIND at PATIENT level, which runs as a study query.
        new(DicomTag.NumberOfPatientRelatedStudies, DicomVR.IS, QueryLevel.Study, "(SELECT count(*) FROM studies x WHERE x.patient_pk = st.patient_pk)",
            Computed: true, ReturnedByDefault: false),
        new(DicomTag.NumberOfPatientRelatedSeries, DicomVR.IS, QueryLevel.Study, "(SELECT sum(x.series_count) FROM studies x WHERE x.patient_pk = st.patient_pk)",
            Computed: true, ReturnedByDefault: false),
        new(DicomTag.NumberOfPatientRelatedInstances, DicomVR.IS, QueryLevel.Study, "(SELECT sum(x.instance_count) FROM studies x WHERE x.patient_pk = st.patient_pk)",
            Computed: true, ReturnedByDefault: false),
        new(DicomTag.TimezoneOffsetFromUTC, DicomVR.SH, QueryLevel.Study, "st.timezone_offset"),
        new(DicomTag.StudyInstanceUID, DicomVR.UI, QueryLevel.Study, "st.study_uid"),
        new(DicomTag.StudyID, DicomVR.SH, QueryLevel.Study, "st.study_id"),
        new(DicomTag.NumberOfStudyRelatedSeries, DicomVR.IS, QueryLevel.Study, "st.series_count", Computed: true),
        new(DicomTag.NumberOfStudyRelatedInstances, DicomVR.IS, QueryLevel.Study, "st.instance_count", Computed: true),
        new(DicomTag.Modality, DicomVR.CS, QueryLevel.Series, "se.modality"),
        new(DicomTag.SeriesInstanceUID, DicomVR.UI, QueryLevel.Series, "se.series_uid"),
        new(DicomTag.SeriesNumber, DicomVR.IS, QueryLevel.Series, "se.series_number"),
        new(DicomTag.SeriesDescription, DicomVR.LO, QueryLevel.Series, "se.series_description"),
        new(DicomTag.PerformedProcedureStepStartDate, DicomVR.DA, QueryLevel.Series, "se.pps_start_date"),
        new(DicomTag.PerformedProcedureStepStartTime, DicomVR.TM, QueryLevel.Series, "se.pps_start_time"),
        new(DicomTag.RequestAttributesSequence, DicomVR.SQ, QueryLevel.Series, "se.request_attributes", Computed: true,
            ItemKeys: RequestAttributeItemKeys),
        new(DicomTag.NumberOfSeriesRelatedInstances, DicomVR.IS, QueryLevel.Series, "se.instance_count", Computed: true),
        new(DicomTag.SOPClassUID, DicomVR.UI, QueryLevel.Instance, "i.sop_class_uid"),
        new(DicomTag.SOPInstanceUID, DicomVR.UI, QueryLevel.Instance, "i.sop_uid"),
        new(DicomTag.InstanceNumber, DicomVR.IS, QueryLevel.Instance, "i.instance_number"),
        new(DicomTag.Rows, DicomVR.US, QueryLevel.Instance, "i.rows", Computed: true),
        new(DicomTag.Columns, DicomVR.US, QueryLevel.Instance, "i.columns", Computed: true),
        new(DicomTag.BitsAllocated, DicomVR.US, QueryLevel.Instance, "i.bits_allocated", Computed: true),
        new(DicomTag.NumberOfFrames, DicomVR.IS, QueryLevel.Instance, "i.number_of_frames", Computed: true),
        new(DicomTag.AvailableTransferSyntaxUID, DicomVR.UI, QueryLevel.Instance, "i.transfer_syntax_uid", Computed: true),
    ];

    private static readonly Dictionary<DicomTag, QueryAttribute> ByTag = All.ToDictionary(a => a.Tag);

    /// <summary>The date and time attributes that combined date-time matching takes as one.</summary>
    public static readonly (DicomTag Date, DicomTag Time)[] DateTimePairs =
    [
        (DicomTag.StudyDate, DicomTag.StudyTime),
        (DicomTag.PerformedProcedureStepStartDate, DicomTag.PerformedProcedureStepStartTime),
    ];

    public static QueryAttribute? Find(DicomTag tag) => ByTag.GetValueOrDefault(tag);

    /// <summary>The attributes a query at <paramref name="level"/> returns by default: its level's and the levels above.</summary>
    public static IEnumerable<QueryAttribute> Defaults(QueryLevel level) => All.Where(a => a.Level <= level && a.ReturnedByDefault);
}
