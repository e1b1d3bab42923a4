using System.Text;

namespace Hounsfield.Server.Developer;

/// <summary>
/// A client-given file name made safe for <c>Content-Disposition: attachment; filename="NAME.dcm"</c>: the last path
/// segment only, ASCII letters, digits, '-', '_', '.', ' ' and parentheses kept and anything else replaced by '_' (no
/// quotes, control characters or line breaks reach the header), no leading or trailing dots and spaces, at most 100
/// characters, without a ".dcm" the response adds anyway.
/// </summary>
internal static class DownloadFileName
{
    private const int MaxLength = 100;

    public static string Sanitize(string? requested, string fallback)
    {
        var name = requested ?? string.Empty;
        var slash = name.LastIndexOfAny(['/', '\\']);
        if (slash >= 0)
        {
            name = name[(slash + 1)..];
        }

        var safe = new StringBuilder(Math.Min(name.Length, MaxLength));
        foreach (var c in name)
        {
            safe.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ' ' or '(' or ')' ? c : '_');
        }

        var result = safe.ToString().Trim(' ', '.');
        if (result.EndsWith(".dcm", StringComparison.OrdinalIgnoreCase))
        {
            result = result[..^4].TrimEnd(' ', '.');
        }

        if (result.Length > MaxLength)
        {
            result = result[..MaxLength].TrimEnd(' ', '.');
        }

        return result.Length == 0 ? fallback : result;
    }
}
