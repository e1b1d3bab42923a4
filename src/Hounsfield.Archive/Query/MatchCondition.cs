// Attribute matching, PS3.4 C.2.2.2: single value, list of UIDs, wildcard, range, universal, sequence; fuzzy person names.
using System.Globalization;
using System.Text;
using Hounsfield.Archive.Index;
using Hounsfield.Dicom;
using Microsoft.Data.Sqlite;

namespace Hounsfield.Archive.Query;

internal static class MatchCondition
{
    public static string Build(QueryAttribute attribute, string value, bool fuzzy, SqliteCommand command)
    {
        if (!attribute.Matchable)
        {
            throw new QueryException($"{attribute.Tag} is returned but cannot be matched.");
        }

        var column = attribute.Column;
        if (attribute.Tag == DicomTag.ModalitiesInStudy)
        {
            // A study matches when any of its series has one of the modalities.
            var modalities = value.Split('\\', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            return $"EXISTS (SELECT 1 FROM series m WHERE m.study_pk = st.pk AND m.modality IN ({Parameters(command, modalities)}))";
        }

        // A list of UIDs: values separated by backslashes (C-FIND), or by commas, which QIDO-RS clients use; no UID holds either.
        if (attribute.VR == DicomVR.UI && value.AsSpan().ContainsAny('\\', ','))
        {
            var uids = value.Split(['\\', ','], StringSplitOptions.TrimEntries);
            foreach (var uid in uids.Where(uid => uid.Length > 0))
            {
                Validate(attribute, uid, value);
            }

            return $"{column} IN ({Parameters(command, uids)})";
        }

        if (attribute.VR is DicomVR.DA or DicomVR.TM or DicomVR.DT && value.Contains('-'))
        {
            var range = ParseRange(attribute, value);
            // An end without a time part includes the whole day/time unit it names.
            return RangeCondition(column, range.Start, range.End is { } end && attribute.VR != DicomVR.DA ? end + "\uffff" : range.End, command);
        }

        if (attribute.VR == DicomVR.PN && fuzzy)
        {
            var fuzzyColumn = column + "_fuzzy";
            var name = SqliteArchiveIndex.FuzzyName(value.Trim().TrimEnd('*'))!;
            var pattern = EscapeLike(name);
            var first = Parameter(command, pattern + "%");
            var component = Parameter(command, "%^" + pattern + "%");
            var word = Parameter(command, "% " + pattern + "%");
            return $"({fuzzyColumn} LIKE {first} ESCAPE '\\' OR {fuzzyColumn} LIKE {component} ESCAPE '\\' OR {fuzzyColumn} LIKE {word} ESCAPE '\\')";
        }

        if (value.Contains('*') || value.Contains('?'))
        {
            if (attribute.VR is DicomVR.UI or DicomVR.DA or DicomVR.TM or DicomVR.DT or DicomVR.IS)
            {
                throw new QueryException($"Wildcards are not allowed in {attribute.VR.ToCode()} match value '{value}' of {attribute.Tag}.");
            }

            return $"{column} LIKE {Parameter(command, WildcardToLike(value))} ESCAPE '\\'";
        }

        if (attribute.VR == DicomVR.IS)
        {
            if (!long.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
            {
                throw new QueryException($"'{value}' is not an integer for {attribute.Tag}.");
            }

            return $"{column} = {Parameter(command, number)}";
        }

        Validate(attribute, value, value);
        return $"{column} = {Parameter(command, value)}";
    }

    /// <summary>
    /// Sequence matching (PS3.4 C.2.2.2.6): one item of the stored sequence (DICOM JSON in the attribute's column) matches
    /// every key with a value, each key by the rules above against any of the item's values. Null when every key is universal.
    /// </summary>
    public static string? BuildSequence(QueryAttribute sequence, IReadOnlyList<(DicomTag Tag, string Value)> itemKeys, SqliteCommand command)
    {
        var conditions = new List<string>();
        foreach (var (tag, value) in itemKeys)
        {
            if (sequence.ItemKeys is not { } matchable || !matchable.Contains(tag))
            {
                var supported = sequence.ItemKeys is { } keys ? string.Join(" and ", keys.Select(k => k.ToString())) : "none of its attributes";
                throw new QueryException($"{tag} inside {sequence.Tag} is not a matching key of this server; it matches {supported} there.");
            }

            if (value.Length == 0)
            {
                continue;
            }

            var key = new QueryAttribute(tag, DicomDictionary.GetDefaultVR(tag), sequence.Level, "v.value");
            conditions.Add($"EXISTS (SELECT 1 FROM json_each(item.value, '$.\"{tag.ToHexString()}\".Value') AS v WHERE {Build(key, value, fuzzy: false, command)})");
        }

        return conditions.Count == 0
            ? null
            : $"EXISTS (SELECT 1 FROM json_each({sequence.Column}, '$.\"{sequence.Tag.ToHexString()}\".Value') AS item WHERE {string.Join(" AND ", conditions)})";
    }

    /// <summary>
    /// A date range and a time (range or single value) as one date-time range (combined date-time matching): from the start
    /// date at the start time to the end date at the end time, each end open when not given.
    /// </summary>
    public static string BuildCombinedDateTime(QueryAttribute date, string dateValue, QueryAttribute time, string timeValue, SqliteCommand command)
    {
        var dates = ParseRange(date, dateValue);
        var times = DicomDateTimeRange.Parse(timeValue, DicomVR.TM);
        Validate(time, times.Start, timeValue);
        Validate(time, times.End, timeValue);
        return RangeCondition($"({date.Column} || coalesce({time.Column}, ''))",
            dates.Start is { } startDate ? startDate + times.Start : null, dates.End is { } endDate ? endDate + times.End + "\uffff" : null, command);
    }

    /// <summary>A DA, TM or DT range with at least one end, each end valid for the attribute.</summary>
    private static DicomDateTimeRange ParseRange(QueryAttribute attribute, string value)
    {
        var range = DicomDateTimeRange.Parse(value, attribute.VR);
        if (range.Start is null && range.End is null)
        {
            throw new QueryException($"'{value}' is not a valid range for {attribute.Tag}.");
        }

        Validate(attribute, range.Start, value);
        Validate(attribute, range.End, value);
        return range;
    }

    /// <summary><paramref name="column"/> between the ends given (null: open), inclusive.</summary>
    private static string RangeCondition(string column, string? start, string? end, SqliteCommand command)
    {
        var parts = new List<string>();
        if (start is not null)
        {
            parts.Add($"{column} >= {Parameter(command, start)}");
        }

        if (end is not null)
        {
            parts.Add($"{column} <= {Parameter(command, end)}");
        }

        return "(" + string.Join(" AND ", parts) + ")";
    }

    private static void Validate(QueryAttribute attribute, string? part, string value)
    {
        var valid = part is null || attribute.VR switch
        {
            DicomVR.DA => DicomValueParser.ParseDate(part) is not null,
            DicomVR.TM => DicomValueParser.ParseTime(part) is not null,
            DicomVR.DT => DicomValueParser.ParseDateTime(part) is not null,
            DicomVR.UI => DicomUidGenerator.IsValid(part),
            _ => true,
        };
        if (!valid)
        {
            throw new QueryException($"'{value}' is not a valid {attribute.VR.ToCode()} match value for {attribute.Tag}.");
        }
    }

    private static string WildcardToLike(string value)
    {
        var builder = new StringBuilder(value.Length + 4);
        foreach (var c in value)
        {
            builder.Append(c switch
            {
                '*' => "%",
                '?' => "_",
                '%' or '_' or '\\' => "\\" + c,
                _ => c.ToString(),
            });
        }

        return builder.ToString();
    }

    private static string EscapeLike(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);

    private static string Parameters(SqliteCommand command, IEnumerable<string> values) => string.Join(", ", values.Select(v => Parameter(command, v)));

    private static string Parameter(SqliteCommand command, object value)
    {
        var name = "$m" + command.Parameters.Count.ToString(CultureInfo.InvariantCulture);
        command.Parameters.AddWithValue(name, value);
        return name;
    }
}
