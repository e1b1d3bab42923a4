namespace Hounsfield.Dicom.Text;

/// <summary>The padding of DICOM values (PS3.5 §6.2): spaces, and the NUL of UI and of some writers' text.</summary>
public static class DicomPadding
{
    // One array for every call: string.Trim(' ', '\0') allocates its params array each time, on paths run per element.
    private static readonly char[] Characters = [' ', '\0'];

    /// <summary>The text without leading or trailing padding.</summary>
    public static string TrimPadding(this string text) => text.Trim(Characters);

    /// <summary>The text without trailing padding (leading spaces are significant in text VRs).</summary>
    public static string TrimEndPadding(this string text) => text.TrimEnd(Characters);
}
