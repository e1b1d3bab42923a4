namespace Hounsfield.Dicom;

/// <summary>
/// Reads the generated tab-separated tables (the dictionary resource, the UID registry constant) on first use.
/// Plain span searches on purpose: this runs once at start-up in unoptimised (tier-0) code, where the JIT time of
/// LINQ, span splitters and extra generic instantiations would cost more than the parsing itself.
/// </summary>
internal static class TableText
{
    /// <summary>The next line without its LF (or CRLF, for a checkout that converted line ends); false at the end.</summary>
    public static bool NextLine(ref ReadOnlySpan<char> text, out ReadOnlySpan<char> line)
    {
        if (text.IsEmpty)
        {
            line = default;
            return false;
        }

        var end = text.IndexOf('\n');
        line = end < 0 ? text : text[..end];
        text = end < 0 ? default : text[(end + 1)..];
        if (!line.IsEmpty && line[^1] == '\r')
        {
            line = line[..^1];
        }

        return true;
    }

    /// <summary>The field before the next tab, or null-span false when the line has no tab left.</summary>
    public static bool NextField(ref ReadOnlySpan<char> line, out ReadOnlySpan<char> field)
    {
        var tab = line.IndexOf('\t');
        if (tab < 0)
        {
            field = default;
            return false;
        }

        field = line[..tab];
        line = line[(tab + 1)..];
        return true;
    }

    /// <summary>A string equal to <paramref name="text"/>, shared with earlier equal ones (for a few dozen distinct values).</summary>
    public static string Share(List<string> known, ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return string.Empty;
        }

        foreach (var knownText in known)
        {
            if (text.SequenceEqual(knownText))
            {
                return knownText;
            }
        }

        var added = text.ToString();
        known.Add(added);
        return added;
    }
}
