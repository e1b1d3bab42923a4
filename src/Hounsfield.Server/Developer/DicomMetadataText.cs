using System.Globalization;
using Hounsfield.Dicom;

namespace Hounsfield.Server.Developer;

/// <summary>
/// An element's value as the one string /api/dicom/read/file/ returns for it: text and numbers as DICOM writes them
/// (several values joined by '\'), tags as "(gggg,eeee)", and short summaries instead of bulk values:
/// "&lt;OB, 524288 bytes&gt;", "&lt;OB, encapsulated, 3 fragments, 20480 bytes&gt;", "&lt;sequence of 2 items&gt;".
/// </summary>
internal static class DicomMetadataText
{
    /// <summary>
    /// The keyword of every top-level public element of <paramref name="dataset"/> that has one, with its text, in tag
    /// order. Group lengths are left out, as is a repeated keyword (a repeating group such as 6002 after 6000), and the
    /// retired (0028,0040) Image Format, whose keyword the response uses for the format of its images.
    /// </summary>
    public static List<KeyValuePair<string, string?>> All(DicomDataset dataset)
    {
        var result = new List<KeyValuePair<string, string?>>(dataset.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var element in dataset)
        {
            if (element.Tag.IsPrivate || element.Tag.IsGroupLength || element.Tag == RetiredImageFormat)
            {
                continue;
            }

            if (DicomDictionary.Find(element.Tag) is { Keyword.Length: > 0 } entry && seen.Add(entry.Keyword))
            {
                result.Add(new(entry.Keyword, Format(dataset, element)));
            }
        }

        return result;
    }

    /// <summary>(0028,0040) Image Format, retired; its keyword names the "ImageFormat" of the response instead.</summary>
    public static DicomTag RetiredImageFormat { get; } = new(0x0028, 0x0040);

    public static string Format(DicomDataset dataset, DicomElement element)
    {
        switch (element)
        {
            case DicomSequence sequence:
                return sequence.Items.Count == 1 ? "<sequence of 1 item>" : string.Create(CultureInfo.InvariantCulture, $"<sequence of {sequence.Items.Count} items>");
            case DicomFragmentSequence fragments:
                var total = fragments.BasicOffsetTable.Length + fragments.Fragments.Sum(f => f.Length);
                return string.Create(CultureInfo.InvariantCulture, $"<{fragments.VR.ToCode()}, encapsulated, {fragments.Fragments.Count} fragments, {total} bytes>");
            case DicomValueElement value:
                return FormatValue(dataset, value);
            default:
                return string.Empty;
        }
    }

    private static string FormatValue(DicomDataset dataset, DicomValueElement element)
    {
        var vr = element.VR;
        if (vr == DicomVR.UN && DicomDictionary.Find(element.Tag)?.DefaultVR is { } known && (known.IsString() || known.IsBinaryNumber() || known == DicomVR.AT))
        {
            // A public element written as UN by a writer that did not know it: read it with the dictionary's VR.
            element = new DicomValueElement(element.Tag, known, element.Buffer);
            vr = known;
        }

        if (vr.IsBulk())
        {
            return Summary(vr, element.Length);
        }

        if (element.Length == 0)
        {
            return string.Empty;
        }

        try
        {
            if (vr == DicomVR.AT)
            {
                return string.Join('\\', dataset.GetTags(element).Select(t => t.ToString()));
            }

            return string.Join('\\', dataset.GetStrings(element));
        }
        catch (Exception ex) when (ex is DicomFormatException or ArgumentException or InvalidOperationException)
        {
            return string.Create(CultureInfo.InvariantCulture, $"<unreadable {vr.ToCode()} value, {element.Length} bytes>");
        }
    }

    private static string Summary(DicomVR vr, long length) => string.Create(CultureInfo.InvariantCulture, $"<{vr.ToCode()}, {length} bytes>");
}
