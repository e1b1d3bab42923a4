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
                            include.Add(ParseTag(field, "includefield"));
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
                    var tag = ParseTag(name, "match key");
                    if (values.Count > 1 || matches.Exists(match => match.Item1 == tag))
                    {
                        throw new QueryException($"The match key '{name}' is given more than once; give it once (a list of UIDs is one value, separated by commas).");
                    }

                    matches.Add((tag, values.ToString()));
                    break;
            }
        }

        return new QidoQuery
        {
            Level = level,
            StudyInstanceUid = study,
            SeriesInstanceUid = series,
            Matches = matches,
            IncludeFields = include,
            IncludeAll = includeAll,
            FuzzyMatching = fuzzy,
            Limit = limit,
            Offset = offset,
        };
    }

    private static DicomTag ParseTag(string text, string what)
    {
        if (DicomTag.TryParse(text, out var tag))
        {
            return tag;
        }

        // PS3.18 names an attribute inside a sequence by a dotted path (00400275.00400009); the index holds top-level ones.
        if (text.Contains('.') && text.Split('.').All(part => DicomTag.TryParse(part, out _)))
        {
            throw new QueryException($"The {what} '{text}' is inside a sequence; this server matches top-level attributes only, and returns the sequences it holds (RequestAttributesSequence of series) whole.");
        }

        throw new QueryException($"Unknown {what} '{text}': use a keyword such as PatientName or a tag such as 00100010.");
    }
}
