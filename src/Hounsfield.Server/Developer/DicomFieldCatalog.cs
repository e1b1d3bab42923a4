using Hounsfield.Dicom;

namespace Hounsfield.Server.Developer;

/// <summary>
/// The DICOM keywords clients may name (read's <c>fields</c>, generate's form fields): every keyword of the generated
/// PS3.6/PS3.7 dictionary, and the Python type name of each keyword's values, as the original API described them.
/// </summary>
internal static class DicomFieldCatalog
{
    private static readonly Lazy<string[]> SortedKeywords = new(() =>
        [.. DicomDictionary.Entries.Select(e => e.Keyword).Where(k => k.Length > 0).Distinct().Order(StringComparer.Ordinal)]);

    /// <summary>The dictionary edition, reported as "dicomVersion".</summary>
    public static string DicomVersion => DicomDictionary.Edition;

    /// <summary>Every keyword, in ordinal order.</summary>
    public static IReadOnlyList<string> Keywords => SortedKeywords.Value;

    public static DicomDictionaryEntry? Find(string keyword) => DicomDictionary.FindByKeyword(keyword);

    /// <summary>
    /// The Python type of a keyword's values: int for US SS UL SL UV SV IS, float for FL FD DS, bytes for OB OW OF OD OL OV UN,
    /// list for SQ, str for the other string VRs and for AT (given as "(gggg,eeee)" text). An entry with several VRs
    /// ("US or SS", "OB or OW", "US or OW") takes the type they share, else that of its first VR. Null for items and
    /// delimiters, which have no VR.
    /// </summary>
    public static string? PythonType(DicomDictionaryEntry entry)
    {
        if (entry.ValueRepresentations.Count == 0)
        {
            return null;
        }

        var types = entry.ValueRepresentations.Select(PythonType).Distinct().ToList();
        return types.Count == 1 ? types[0] : PythonType(entry.DefaultVR);
    }

    public static string PythonType(DicomVR vr) => vr switch
    {
        DicomVR.US or DicomVR.SS or DicomVR.UL or DicomVR.SL or DicomVR.UV or DicomVR.SV or DicomVR.IS => "<class 'int'>",
        DicomVR.FL or DicomVR.FD or DicomVR.DS => "<class 'float'>",
        DicomVR.OB or DicomVR.OW or DicomVR.OF or DicomVR.OD or DicomVR.OL or DicomVR.OV or DicomVR.UN => "<class 'bytes'>",
        DicomVR.SQ => "<class 'list'>",
        _ => "<class 'str'>",
    };
}
