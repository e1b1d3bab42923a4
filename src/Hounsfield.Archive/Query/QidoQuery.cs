using Hounsfield.Dicom;

namespace Hounsfield.Archive.Query;

public enum QueryLevel
{
    Study,
    Series,
    Instance,
}

/// <summary>A query at one level (PS3.18 §10.6, PS3.4 C.2.2.2): match keys, the attributes to return, paging.</summary>
public sealed record QidoQuery
{
    public required QueryLevel Level { get; init; }

    /// <summary>Study and series the query is scoped to by the URL (/studies/{study}/series/{series}/instances).</summary>
    public string? StudyInstanceUid { get; init; }

    public string? SeriesInstanceUid { get; init; }

    /// <summary>Match keys: an empty value is universal matching (the attribute is returned, not filtered).</summary>
    public IReadOnlyList<(DicomTag Tag, string Value)> Matches { get; init; } = [];

    /// <summary>
    /// Sequence match keys (PS3.4 C.2.2.2.6): the keys of one item of <c>Sequence</c>; an entity matches when one item of
    /// its sequence matches every key. The sequence is returned.
    /// </summary>
    public IReadOnlyList<(DicomTag Sequence, IReadOnlyList<(DicomTag Tag, string Value)> ItemKeys)> SequenceMatches { get; init; } = [];

    public IReadOnlySet<DicomTag> IncludeFields { get; init; } = new HashSet<DicomTag>();

    public bool IncludeAll { get; init; }

    /// <summary>Person names match case- and accent-insensitively, by component prefix.</summary>
    public bool FuzzyMatching { get; init; }

    /// <summary>
    /// A date range and its time key (StudyDate and StudyTime, or the performed procedure step's) match as one date-time
    /// range, from the start date at the start time to the end date at the end time (combined date-time matching, PS3.4
    /// C.2.2.2.5, which a C-FIND negotiates); otherwise each matches on its own.
    /// </summary>
    public bool CombinedDateTimeMatching { get; init; }

    public int Limit { get; init; } = 100;

    public int Offset { get; init; }
}

/// <summary>
/// Results of a query, and whether more were there than it returns: the limit, or the stored metadata a page may read
/// (SqliteArchiveIndex.MaxStoredValueBytesPerQuery), ended it. The next page starts after the results returned.
/// </summary>
public sealed record QueryResult(IReadOnlyList<DicomDataset> Matches, bool Truncated);

/// <summary>A match key or include field the query engine cannot honour; the message says which and why.</summary>
public sealed class QueryException(string message) : Exception(message);
