namespace Hounsfield.Dicom.Json;

/// <summary>
/// Options for reading the DICOM JSON model (PS3.18 Annex F) and the Native DICOM Model XML (PS3.19 Annex A):
/// both name elements the same way, so one options type serves the two readers.
/// </summary>
public sealed record DicomJsonReadOptions
{
    public static readonly DicomJsonReadOptions Default = new();

    /// <summary>
    /// Deepest nesting of the document: JSON objects and arrays, or XML elements. Each sequence level costs three
    /// (element, Value array, item) in JSON and two (DicomAttribute, Item) in XML. Default 128.
    /// </summary>
    public int MaxDepth { get; init; } = 128;

    /// <summary>Longest input read from a stream, in bytes (JSON) or characters (XML). Default 1 GiB.</summary>
    public long MaxInputLength { get; init; } = 1L << 30;

    /// <summary>
    /// Fetches the value of a BulkDataURI (JSON) or BulkData uri (XML): the bytes, little-endian for binary VRs,
    /// or null when it cannot. Unresolved elements are kept with an empty value and reported through
    /// <see cref="UnresolvedBulkData"/>. Default null: nothing is fetched.
    /// </summary>
    public Func<string, DicomTag, DicomVR, byte[]?>? BulkDataResolver { get; init; }

    /// <summary>Called for each bulk data reference left unresolved, in document order. Default null.</summary>
    public Action<DicomBulkDataReference>? UnresolvedBulkData { get; init; }
}

/// <summary>
/// A bulk data reference that was not resolved while reading: the element at <paramref name="Path"/> was added to
/// <paramref name="Dataset"/> (the top-level data set or a sequence item) with an empty value, to be filled in later.
/// </summary>
public sealed record DicomBulkDataReference(DicomElementPath Path, DicomVR VR, string Uri, DicomDataset Dataset);
