namespace Hounsfield.Dicom;

/// <summary>
/// A PN value (PS3.5 §6.2.1): up to three component groups (alphabetic, ideographic, phonetic) separated by
/// '=', each with family, given, middle, prefix and suffix components separated by '^'.
/// </summary>
public sealed record DicomPersonName(string Alphabetic, string Ideographic, string Phonetic)
{
    public static DicomPersonName Parse(string value)
    {
        var groups = value.Split('=');
        return new DicomPersonName(
            groups.Length > 0 ? groups[0] : string.Empty,
            groups.Length > 1 ? groups[1] : string.Empty,
            groups.Length > 2 ? groups[2] : string.Empty);
    }

    public string FamilyName => Component(Alphabetic, 0);

    public string GivenName => Component(Alphabetic, 1);

    public string MiddleName => Component(Alphabetic, 2);

    public string Prefix => Component(Alphabetic, 3);

    public string Suffix => Component(Alphabetic, 4);

    /// <summary>The encoded form, without trailing empty groups.</summary>
    public override string ToString()
    {
        if (Phonetic.Length > 0)
        {
            return $"{Alphabetic}={Ideographic}={Phonetic}";
        }

        return Ideographic.Length > 0 ? $"{Alphabetic}={Ideographic}" : Alphabetic;
    }

    public static string Component(string group, int index)
    {
        var parts = group.Split('^');
        return index < parts.Length ? parts[index].Trim() : string.Empty;
    }
}
