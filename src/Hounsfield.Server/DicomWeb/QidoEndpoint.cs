// QIDO-RS, PS3.18 §10.6: match keys by keyword or tag, includefield, fuzzymatching, limit/offset; JSON or multipart XML.
using System.Globalization;
using Hounsfield.Archive;
using Hounsfield.Archive.Query;
using Hounsfield.Dicom;
using Hounsfield.Dicom.Json;

namespace Hounsfield.Server.DicomWeb;

internal static class QidoEndpoint
{
    /// <summary>Most results one request returns; a larger limit is lowered to it (with the Warning header when results remain).</summary>
    public const int MaxLimit = 1000;

    public static async Task<IResult> HandleAsync(HttpContext context, QueryLevel level, string? study, string? series, CancellationToken cancellationToken)
    {
        if (MediaRanges.ChooseDatasetRepresentation(context.Request.Headers.Accept) is not { } representation)
        {
            return MediaRanges.NeitherJsonNorXml(context.Request.Headers.Accept);
        }

        QidoQuery query;
        try
        {
            query = Parse(context.Request.Query, level, study, series);
        }
        catch (QueryException ex)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status400BadRequest, ex.Message);
        }

        var archive = context.RequestServices.GetRequiredService<ArchiveService>();
        QueryResult result;
        try
        {
            result = await archive.QueryAsync(query, cancellationToken);
        }
        catch (QueryException ex)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status400BadRequest, ex.Message);
        }

        var root = DicomWebEndpoints.Root(context);
        foreach (var match in result.Matches)
        {
            var url = $"{root}/studies/{match.GetString(DicomTag.StudyInstanceUID) ?? study}";
            if (level >= QueryLevel.Series)
            {
                url += $"/series/{match.GetString(DicomTag.SeriesInstanceUID) ?? series}";
            }

            if (level == QueryLevel.Instance)
            {
                url += $"/instances/{match.GetString(DicomTag.SOPInstanceUID)}";
            }

            match.AddOrUpdate(new DicomTag(0x0008, 0x1190), DicomVR.UR, url);
        }

        if (result.Truncated)
        {
            context.Response.Headers.Append("Warning", $"299 {context.Request.Host}: \"There are additional results that can be requested\"");
        }

        context.Response.Headers.Append("Vary", "Accept");
        if (representation == DatasetRepresentation.Xml)
        {
            var writer = new MediaRanges.MultipartXmlWriter(context.Response);
            writer.Start();
            foreach (var match in result.Matches)
            {
                await writer.WritePartAsync(match, null, cancellationToken);
            }

            await writer.EndAsync(cancellationToken);
            return Results.Empty;
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/dicom+json";
        await using (var body = new MemoryStream())
        {
            DicomJsonWriter.WriteArray(body, result.Matches);
            body.Position = 0;
            await body.CopyToAsync(context.Response.Body, cancellationToken);
        }

        return Results.Empty;
    }

    internal static QidoQuery Parse(IQueryCollection parameters, QueryLevel level, string? study, string? series)
    {
        var matches = new List<(DicomTag, string)>();
        var sequenceKeys = new Dictionary<DicomTag, List<(DicomTag, string)>>();
        var include = new HashSet<DicomTag>();
        var includeAll = false;
        var fuzzy = false;
        var limit = 100;
        var offset = 0;
        foreach (var (name, values) in parameters)
        {
            switch (name.ToLowerInvariant())
            {
                case "includefield":
                    foreach (var field in values.SelectMany(v => (v ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)))
                    {
                        if (field.Equals("all", StringComparison.OrdinalIgnoreCase))
                        {
                            includeAll = true;
                        }
                        else
                        {
                            // A path into a sequence returns the sequence, as this server returns sequences whole.
                            var (includedSequence, includedTag) = ParsePath(field, "includefield");
                            include.Add(includedSequence ?? includedTag);
                        }
                    }

                    break;
                case "fuzzymatching":
                    fuzzy = bool.TryParse(values.ToString(), out var f) ? f : throw new QueryException($"fuzzymatching must be true or false, not '{values}'.");
                    break;
                case "accept" or "charset":
                    // Content negotiation (PS3.18 §8.3.3), not matching: accept was read as the Accept header; results are UTF-8.
                    break;
                case "limit":
                    limit = int.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var l) && l > 0 ? Math.Min(l, MaxLimit) : throw new QueryException($"limit must be a positive integer, not '{values}'.");
                    break;
                case "offset":
                    offset = int.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var o) ? o : throw new QueryException($"offset must be a non-negative integer, not '{values}'.");
                    break;
                default:
                    var (sequence, tag) = ParsePath(name, "match key");
                    // The keys given inside one sequence are the keys of one item (PS3.4 C.2.2.2.6).
                    var keys = sequence is { } parent ? (sequenceKeys.TryGetValue(parent, out var item) ? item : sequenceKeys[parent] = []) : matches;
                    if (values.Count > 1 || keys.Exists(key => key.Item1 == tag))
                    {
                        throw new QueryException($"The match key '{name}' is given more than once; give it once (a list of UIDs is one value, separated by commas).");
                    }

                    keys.Add((tag, values.ToString()));
                    break;
            }
        }

        return new QidoQuery
        {
            Level = level,
            StudyInstanceUid = study,
            SeriesInstanceUid = series,
            Matches = matches,
            SequenceMatches = [.. sequenceKeys.Select(pair => (pair.Key, (IReadOnlyList<(DicomTag, string)>)pair.Value))],
            IncludeFields = include,
            IncludeAll = includeAll,
            FuzzyMatching = fuzzy,
            Limit = limit,
            Offset = offset,
        };
    }

    /// <summary>
    /// An attribute, or one inside a sequence named by a dotted path (PS3.18 §8.3.4.1: 00400275.00400009, or by keywords);
    /// the index holds items of one level of sequence.
    /// </summary>
    private static (DicomTag? Sequence, DicomTag Tag) ParsePath(string text, string what)
    {
        var parts = text.Split('.');
        if (parts.Length == 1)
        {
            return (null, ParseTag(text, what));
        }

        if (parts.Length == 2 && DicomTag.TryParse(parts[0], out var sequence) && DicomTag.TryParse(parts[1], out var tag))
        {
            return (sequence, tag);
        }

        if (parts.All(part => DicomTag.TryParse(part, out _)))
        {
            throw new QueryException($"The {what} '{text}' is inside a sequence inside a sequence; this server matches attributes of the items of one sequence (RequestAttributesSequence of series).");
        }

        return (null, ParseTag(text, what));
    }

    private static DicomTag ParseTag(string text, string what)
    {
        if (DicomTag.TryParse(text, out var tag))
        {
            return tag;
        }

        throw new QueryException($"Unknown {what} '{text}': use a keyword such as PatientName or a tag such as 00100010.");
    }
}
