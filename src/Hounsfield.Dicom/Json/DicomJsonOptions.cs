namespace Hounsfield.Dicom.Json;

/// <summary>Where an element sits in a data set: the tags and item indices from the top level down to it.</summary>
public sealed record DicomElementPath(IReadOnlyList<(DicomTag Tag, int Item)> Parents, DicomTag Tag)
{
    /// <summary>"00540016/0/00181072"-style path, for bulk data URIs.</summary>
    public override string ToString() =>
        string.Concat(Parents.Select(p => $"{p.Tag.ToHexString()}/{p.Item}/")) + Tag.ToHexString();
}

/// <summary>Options of the DICOM JSON model (PS3.18 Annex F).</summary>
public sealed record DicomJsonOptions
{
    public static readonly DicomJsonOptions Default = new();

    /// <summary>
    /// Binary values (OB OD OF OL OV OW UN and pixel data) longer than this become BulkDataURIs when a URI factory is set.
    /// Default: never. A negative threshold offers empty values to the factory too: a data set read with its bulk data
    /// unresolved (empty) is written back with its URIs.
    /// </summary>
    public long BulkDataThreshold { get; init; } = long.MaxValue;

    /// <summary>Makes the BulkDataURI of an element above the threshold; returning null inlines it.</summary>
    public Func<DicomElementPath, DicomElement, string?>? BulkDataUri { get; init; }

    public bool Indented { get; init; }

    /// <summary>Group length elements (gggg,0000) are left out, as PS3.18 F.2 asks of the JSON model. Default false.</summary>
    public bool IncludeGroupLengths { get; init; }

    /// <summary>
    /// Whether the JSON and XML writers write an empty element with its VR alone: always, but for a binary one when a
    /// negative <see cref="BulkDataThreshold"/> offers it to the URI factory.
    /// </summary>
    internal bool WritesAsEmpty(DicomValueElement element) => element.Length == 0 && !(BulkDataThreshold < 0 && element.VR.HasBinaryValue());
}
