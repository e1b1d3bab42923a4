using Hounsfield.Dicom;

namespace Hounsfield.Archive.Index;

/// <summary>The attributes of one instance the index keeps as columns, for queries at every level.</summary>
public sealed record InstanceRecord
{
    public required string PatientId { get; init; }
    public string? PatientName { get; init; }
    public string? PatientBirthDate { get; init; }
    public string? PatientSex { get; init; }
    public required string StudyInstanceUid { get; init; }
    public string? StudyDate { get; init; }
    public string? StudyTime { get; init; }
    public string? AccessionNumber { get; init; }
    public string? StudyId { get; init; }
    public string? StudyDescription { get; init; }
    public string? ReferringPhysicianName { get; init; }
    public string? TimezoneOffsetFromUtc { get; init; }
    public required string SeriesInstanceUid { get; init; }
    public string? Modality { get; init; }
    public int? SeriesNumber { get; init; }
    public string? SeriesDescription { get; init; }
    public string? PerformedProcedureStepStartDate { get; init; }
    public string? PerformedProcedureStepStartTime { get; init; }

    /// <summary>
    /// The series' Request Attributes Sequence as PS3.18 returns it (Table 10.6.3-5): DICOM JSON of a data set holding the
    /// sequence alone, each item with its Scheduled Procedure Step ID and Requested Procedure ID; null without one.
    /// </summary>
    public string? RequestAttributes { get; init; }
    public required string SopInstanceUid { get; init; }
    public required string SopClassUid { get; init; }
    public int? InstanceNumber { get; init; }
    public required string TransferSyntaxUid { get; init; }
    public required string BlobKey { get; init; }
    public long Length { get; init; }
    public int? NumberOfFrames { get; init; }
    public int? Rows { get; init; }
    public int? Columns { get; init; }
    public int? BitsAllocated { get; init; }

    /// <summary>The instance's DICOM JSON with BulkDataURIs relative to the DICOMweb root (see <see cref="Ingest.MetadataBuilder"/>).</summary>
    public required byte[] Metadata { get; init; }

    public static InstanceRecord FromDataset(DicomDataset dataset, string transferSyntaxUid, string blobKey, long length, byte[] metadata)
    {
        string? Text(DicomTag tag) => TextOf(dataset, tag);

        int? Integer(DicomTag tag)
        {
            try
            {
                return dataset.TryGetValue<int>(tag, out var value) ? value : null;
            }
            catch (Exception ex) when (ex is DicomFormatException or InvalidOperationException or OverflowException)
            {
                return null;
            }
        }

        return new InstanceRecord
        {
            PatientId = Text(DicomTag.PatientID) ?? string.Empty,
            PatientName = Text(DicomTag.PatientName),
            PatientBirthDate = Text(DicomTag.PatientBirthDate),
            PatientSex = Text(DicomTag.PatientSex),
            StudyInstanceUid = Text(DicomTag.StudyInstanceUID)!,
            StudyDate = Text(DicomTag.StudyDate),
            StudyTime = Text(DicomTag.StudyTime),
            AccessionNumber = Text(DicomTag.AccessionNumber),
            StudyId = Text(DicomTag.StudyID),
            StudyDescription = Text(DicomTag.StudyDescription),
            ReferringPhysicianName = Text(DicomTag.ReferringPhysicianName),
            TimezoneOffsetFromUtc = Text(DicomTag.TimezoneOffsetFromUTC),
            SeriesInstanceUid = Text(DicomTag.SeriesInstanceUID)!,
            Modality = Text(DicomTag.Modality),
            SeriesNumber = Integer(DicomTag.SeriesNumber),
            SeriesDescription = Text(DicomTag.SeriesDescription),
            PerformedProcedureStepStartDate = Text(DicomTag.PerformedProcedureStepStartDate),
            PerformedProcedureStepStartTime = Text(DicomTag.PerformedProcedureStepStartTime),
            RequestAttributes = RequestAttributesJson(dataset),
            SopInstanceUid = Text(DicomTag.SOPInstanceUID)!,
            SopClassUid = Text(DicomTag.SOPClassUID)!,
            InstanceNumber = Integer(DicomTag.InstanceNumber),
            TransferSyntaxUid = transferSyntaxUid,
            BlobKey = blobKey,
            Length = length,
            NumberOfFrames = Integer(DicomTag.NumberOfFrames),
            Rows = Integer(DicomTag.Rows),
            Columns = Integer(DicomTag.Columns),
            BitsAllocated = Integer(DicomTag.BitsAllocated),
            Metadata = metadata,
        };
    }

    /// <summary>An attribute's value as text; null when absent, empty, or not readable as text (such values are not indexed).</summary>
    private static string? TextOf(DicomDataset dataset, DicomTag tag)
    {
        try
        {
            var value = dataset.GetString(tag);
            return string.IsNullOrEmpty(value) ? null : value;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static string? RequestAttributesJson(DicomDataset dataset)
    {
        if (dataset.Find(DicomTag.RequestAttributesSequence) is not DicomSequence { Items.Count: > 0 } sequence)
        {
            return null;
        }

        var items = new List<DicomDataset>(sequence.Items.Count);
        foreach (var item in sequence.Items)
        {
            var returned = new DicomDataset();
            foreach (var tag in Query.QueryAttributes.RequestAttributeItemKeys)
            {
                if (TextOf(item, tag) is { } value)
                {
                    returned.AddOrUpdate(tag, DicomVR.SH, value);
                }
            }

            items.Add(returned);
        }

        var holder = new DicomDataset();
        holder.Add(new DicomSequence(DicomTag.RequestAttributesSequence, items));
        using var json = new MemoryStream();
        Hounsfield.Dicom.Json.DicomJsonWriter.Write(json, holder);
        return System.Text.Encoding.UTF8.GetString(json.ToArray());
    }
}

/// <summary>A stored instance as the index knows it.</summary>
public sealed record StoredInstance(string StudyInstanceUid, string SeriesInstanceUid, string SopInstanceUid, string SopClassUid, string TransferSyntaxUid, string BlobKey, long Length);
