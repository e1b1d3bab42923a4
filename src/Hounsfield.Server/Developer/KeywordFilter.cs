using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Hounsfield.Server.Developer;

/// <summary>
/// The keyword filters of /api/dicom-format/: fields__contains, fields__startswith, fields__endswith (case-sensitive,
/// as Django's lookups of the same names) and fields__regex (a .NET regular expression searched anywhere in the keyword,
/// as Python's re.search). All given filters must match. The regex runs under one time budget for the whole list.
/// </summary>
internal sealed class KeywordFilter
{
    private readonly string? contains;
    private readonly string? startsWith;
    private readonly string? endsWith;
    private readonly Regex? regex;
    private readonly TimeSpan budget;

    private KeywordFilter(string? contains, string? startsWith, string? endsWith, Regex? regex, TimeSpan budget)
    {
        this.contains = contains;
        this.startsWith = startsWith;
        this.endsWith = endsWith;
        this.regex = regex;
        this.budget = budget;
    }

    public static KeywordFilter FromQuery(IQueryCollection query, DicomServicesOptions options) => Create(
        query["fields__contains"].LastOrDefault(),
        query["fields__startswith"].LastOrDefault(),
        query["fields__endswith"].LastOrDefault(),
        query["fields__regex"].LastOrDefault(),
        options);

    /// <summary>A filter; an empty or absent value does not filter. Throws <see cref="DicomServiceException"/> for an invalid pattern.</summary>
    public static KeywordFilter Create(string? contains, string? startsWith, string? endsWith, string? pattern, DicomServicesOptions options)
    {
        var budget = TimeSpan.FromMilliseconds(options.RegexTimeoutMilliseconds);
        Regex? regex = null;
        if (!string.IsNullOrEmpty(pattern))
        {
            if (pattern.Length > options.MaxRegexLength)
            {
                throw DicomServiceException.Field("fields__regex", string.Create(
                    CultureInfo.InvariantCulture, $"Invalid regex pattern: longer than {options.MaxRegexLength} characters."));
            }

            try
            {
                regex = new Regex(pattern, RegexOptions.CultureInvariant, budget);
            }
            catch (ArgumentException ex)
            {
                throw DicomServiceException.Field("fields__regex", $"Invalid regex pattern: {ex.Message}");
            }
        }

        return new KeywordFilter(NullIfEmpty(contains), NullIfEmpty(startsWith), NullIfEmpty(endsWith), regex, budget);
    }

    /// <summary>The keywords that pass, in their order. Throws <see cref="DicomServiceException"/> when the regex exceeds its budget.</summary>
    public List<string> Apply(IEnumerable<string> keywords)
    {
        var result = new List<string>();
        var clock = Stopwatch.StartNew();
        foreach (var keyword in keywords)
        {
            if ((contains is not null && !keyword.Contains(contains, StringComparison.Ordinal))
                || (startsWith is not null && !keyword.StartsWith(startsWith, StringComparison.Ordinal))
                || (endsWith is not null && !keyword.EndsWith(endsWith, StringComparison.Ordinal)))
            {
                continue;
            }

            if (regex is not null)
            {
                bool matched;
                try
                {
                    matched = regex.IsMatch(keyword);
                }
                catch (RegexMatchTimeoutException)
                {
                    throw TimedOut();
                }

                if (clock.Elapsed > budget)
                {
                    throw TimedOut();
                }

                if (!matched)
                {
                    continue;
                }
            }

            result.Add(keyword);
        }

        return result;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private DicomServiceException TimedOut() => DicomServiceException.Field("fields__regex", string.Create(
        CultureInfo.InvariantCulture,
        $"Regex pattern timed out: matching it against the keywords took longer than {budget.TotalMilliseconds:0} ms. Simplify the pattern (avoid nested quantifiers such as (a+)+)."));
}
