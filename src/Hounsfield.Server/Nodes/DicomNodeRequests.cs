// Request bodies of the DICOM nodes API. AE titles follow PS3.5 Table 6.2-1 (AE: at most 16 characters of the default
// character repertoire, no backslash or control characters; leading and trailing spaces are not significant).
using System.Globalization;
using System.Text.Json;
using Hounsfield.Dicom;
using Hounsfield.Network;
using Hounsfield.Server.Accounts;
using Microsoft.AspNetCore.Http.Features;

namespace Hounsfield.Server.Nodes;

/// <summary>A query of a C-FIND, C-MOVE or C-GET: the level and the identifier's keys.</summary>
/// <param name="FuzzyNames">Ask the peer for fuzzy semantic matching of person names (C-FIND only).</param>
/// <param name="CombinedDateTime">Ask the peer to match a date range and its time range as one date-time range (C-FIND only).</param>
internal sealed record DicomNodeQuery(DicomQueryRetrieveLevel Level, DicomDataset Identifier, bool FuzzyNames = false, bool CombinedDateTime = false)
{
    public DicomFindOptions FindOptions() => new() { FuzzySemanticMatching = FuzzyNames, CombinedDateTimeMatching = CombinedDateTime };
}

/// <summary>What a store request names: UIDs of studies, series and instances of our archive.</summary>
internal sealed record DicomNodeStoreSelection(IReadOnlyList<string> Studies, IReadOnlyList<string> Series, IReadOnlyList<string> Instances);

internal static class DicomNodeRequests
{
    private const int MaxNameLength = 128;
    private const int MaxHostLength = 253;
    private const int MaxUidLength = 64;
    private const int MaxQueryKeys = 64;
    private const int MaxQueryValueLength = 1024;

    /// <summary>The fields of a node (POST and PUT); <c>aet_title</c> defaults to <paramref name="defaultAETitle"/>, <c>tls</c> to false.</summary>
    public static async Task<(DicomNodeFields? Node, IResult? Problem)> ReadNodeAsync(HttpRequest request, string defaultAETitle, int maxLength, CancellationToken cancellationToken)
    {
        var (fields, problem) = await RequestFields.ReadAsync(request, maxLength, cancellationToken);
        if (fields is null)
        {
            return (null, problem);
        }

        var name = fields.Text("name", required: true, MaxNameLength);
        var aetTitle = AETitle(fields, "aet_title", required: false) ?? defaultAETitle;
        var peerAETitle = AETitle(fields, "peer_aet_title", required: true);
        var host = fields.Text("peer_host", required: true, MaxHostLength);
        if (host is { Length: > 0 } && host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            fields.AddError("peer_host", "Enter a host name or IP address, without spaces.");
        }

        var portText = fields.Text("peer_port", required: true, 16);
        var port = 0;
        if (portText is { Length: > 0 } && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            fields.AddError("peer_port", "Ensure this value is a whole number from 1 to 65535.");
        }

        var tls = false;
        if (fields.Text("tls", required: false, 8) is { } tlsText && !bool.TryParse(tlsText, out tls))
        {
            fields.AddError("tls", "Must be a valid boolean.");
        }

        return fields.HasErrors
            ? (null, fields.ValidationProblem())
            : (new DicomNodeFields(name!, aetTitle, peerAETitle!, host!, port, tls), null);
    }

    /// <summary>An AE title field, trimmed and checked; null when absent (or invalid, with the error recorded).</summary>
    private static string? AETitle(RequestFields fields, string name, bool required)
    {
        var value = fields.Text(name, required, 16);
        if (value is null || fields.Errors.ContainsKey(name))
        {
            return null;
        }

        if (value.Any(c => c < 0x20 || c > 0x7E || c == '\\'))
        {
            fields.AddError(name, "An AE title has only characters of the DICOM default repertoire, without backslash or control characters.");
            return null;
        }

        return value;
    }

    /// <summary>
    /// `{"level": "STUDY", "query": {"PatientName": "DOE*", "StudyInstanceUID": null}, "fuzzy": false}`: keys by keyword or
    /// tag; null or "" asks for the value; fuzzy (C-FIND) asks the peer to match person names fuzzily, combined_datetime
    /// (C-FIND) to match a date range and its time range as one date-time range.
    /// </summary>
    public static async Task<(DicomNodeQuery? Query, IResult? Problem)> ReadQueryAsync(HttpRequest request, int maxLength, CancellationToken cancellationToken)
    {
        var (document, problem) = await ReadObjectAsync(request, maxLength, cancellationToken);
        if (document is null)
        {
            return (null, problem);
        }

        using (document)
        {
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            var root = document.RootElement;
            DicomQueryRetrieveLevel? level = null;
            if (!root.TryGetProperty("level", out var levelElement) || levelElement.ValueKind != JsonValueKind.String)
            {
                AddError(errors, "level", "This field is required: PATIENT, STUDY, SERIES or IMAGE.");
            }
            else if ((level = DicomQueryRetrieveLevels.Parse(levelElement.GetString())) is null)
            {
                AddError(errors, "level", $"\"{levelElement.GetString()}\" is not one of PATIENT, STUDY, SERIES, IMAGE.");
            }

            var identifier = new DicomDataset();
            if (root.TryGetProperty("query", out var query) && query.ValueKind != JsonValueKind.Null)
            {
                if (query.ValueKind != JsonValueKind.Object)
                {
                    AddError(errors, "query", "Expected an object of attribute keywords (or tags gggg,eeee) to values.");
                }
                else if (query.EnumerateObject().Count() > MaxQueryKeys)
                {
                    AddError(errors, "query", $"Ensure the query has no more than {MaxQueryKeys} keys.");
                }
                else
                {
                    foreach (var key in query.EnumerateObject())
                    {
                        AddKey(identifier, identifier, key, errors);
                    }
                }
            }

            var fuzzy = ReadFlag(root, "fuzzy", "whether to ask the peer to match person names fuzzily", errors);
            var combinedDateTime = ReadFlag(root, "combined_datetime", "whether to ask the peer to match a date range with its time range as one date-time range", errors);
            return errors.Count > 0
                ? (null, Results.Json(errors, statusCode: StatusCodes.Status400BadRequest))
                : (new DicomNodeQuery(level!.Value, identifier, fuzzy, combinedDateTime), null);
        }
    }

    /// <summary>An optional boolean field (absent or null: false); anything else is an error naming it.</summary>
    private static bool ReadFlag(JsonElement root, string name, string meaning, Dictionary<string, string[]> errors)
    {
        if (!root.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return false;
        }

        if (element.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return element.GetBoolean();
        }

        AddError(errors, name, $"Expected true or false: {meaning}.");
        return false;
    }

    /// <summary>
    /// Adds one key to <paramref name="keys"/>: the identifier, or the item of a sequence key (an object of keys, one level
    /// deep: PS3.4 C.2.2.2.6 matches within one item; null asks for the sequence).
    /// </summary>
    private static void AddKey(DicomDataset identifier, DicomDataset keys, JsonProperty key, Dictionary<string, string[]> errors)
    {
        if (!DicomTag.TryParse(key.Name, out var tag) || tag.Group == 0x0000 || tag == DicomTag.QueryRetrieveLevel)
        {
            AddError(errors, "query", $"Unknown attribute \"{key.Name}\": use a keyword such as PatientName or a tag such as 0010,0010.");
            return;
        }

        if (DicomDictionary.GetDefaultVR(tag) == DicomVR.SQ)
        {
            if (keys != identifier || key.Value.ValueKind is not (JsonValueKind.Null or JsonValueKind.Object)
                || (key.Value.ValueKind == JsonValueKind.Object && key.Value.EnumerateObject().Count() > MaxQueryKeys))
            {
                AddError(errors, "query", $"\"{key.Name}\": a sequence takes null, or an object of at most {MaxQueryKeys} keys of one item, without a sequence in it.");
                return;
            }

            if (key.Value.ValueKind == JsonValueKind.Null)
            {
                keys.Add(new DicomSequence(tag));
                return;
            }

            // In its sequence first, so that the item's text is encoded in the identifier's character set.
            var item = new DicomDataset();
            keys.Add(new DicomSequence(tag, item));
            foreach (var itemKey in key.Value.EnumerateObject())
            {
                AddKey(identifier, item, itemKey, errors);
            }

            return;
        }

        string[] values;
        switch (key.Value.ValueKind)
        {
            case JsonValueKind.Null:
                values = [string.Empty];
                break;
            case JsonValueKind.String:
                values = [key.Value.GetString()!];
                break;
            case JsonValueKind.Number:
                values = [key.Value.GetRawText()];
                break;
            case JsonValueKind.Array when key.Value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String):
                values = [.. key.Value.EnumerateArray().Select(v => v.GetString()!)];
                break;
            default:
                AddError(errors, "query", $"\"{key.Name}\": a value is a string, a number, a list of strings (a UID list) or null.");
                return;
        }

        if (values.Sum(v => v.Length) > MaxQueryValueLength || values.Any(v => v.Contains('\\', StringComparison.Ordinal)))
        {
            AddError(errors, "query", $"\"{key.Name}\": values are at most {MaxQueryValueLength} characters, without backslash (give several as a list).");
            return;
        }

        try
        {
            var vr = DicomDictionary.GetDefaultVR(tag);
            if (!vr.IsString() || DicomDictionary.Find(tag) is null)
            {
                AddError(errors, "query", $"\"{key.Name}\": only text attributes of the dictionary can be query keys here (not {vr}).");
                return;
            }

            keys.DeclareUtf8IfNeeded(string.Concat(values));
            keys.AddOrUpdate(tag, vr, values);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException or DicomFormatException)
        {
            AddError(errors, "query", $"\"{key.Name}\": {ex.Message}");
        }
    }

    /// <summary>`{"studies": [...], "series": [...], "instances": [...]}`, UIDs of our archive; at least one.</summary>
    public static async Task<(DicomNodeStoreSelection? Selection, IResult? Problem)> ReadStoreSelectionAsync(HttpRequest request, int maxLength, int maxUids, CancellationToken cancellationToken)
    {
        var (document, problem) = await ReadObjectAsync(request, maxLength, cancellationToken);
        if (document is null)
        {
            return (null, problem);
        }

        using (document)
        {
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            var studies = Uids(document.RootElement, "studies", errors);
            var series = Uids(document.RootElement, "series", errors);
            var instances = Uids(document.RootElement, "instances", errors);
            var count = studies.Count + series.Count + instances.Count;
            if (errors.Count == 0 && count == 0)
            {
                AddError(errors, "studies", "Name at least one study, series or instance (\"studies\", \"series\", \"instances\": lists of UIDs).");
            }
            else if (count > maxUids)
            {
                AddError(errors, "studies", $"Ensure the request names no more than {maxUids} UIDs in all.");
            }

            return errors.Count > 0
                ? (null, Results.Json(errors, statusCode: StatusCodes.Status400BadRequest))
                : (new DicomNodeStoreSelection(studies, series, instances), null);
        }
    }

    private static List<string> Uids(JsonElement root, string name, Dictionary<string, string[]> errors)
    {
        var uids = new List<string>();
        if (!root.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return uids;
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            AddError(errors, name, "Expected a list of UIDs.");
            return uids;
        }

        foreach (var item in element.EnumerateArray())
        {
            var uid = item.ValueKind == JsonValueKind.String ? item.GetString()!.Trim() : null;
            if (uid is not { Length: > 0 and <= MaxUidLength } || !uid.All(c => char.IsAsciiDigit(c) || c == '.'))
            {
                AddError(errors, name, $"Not a valid UID: {(item.ValueKind == JsonValueKind.String ? item.GetString() : item.GetRawText())}");
                continue;
            }

            if (!uids.Contains(uid, StringComparer.Ordinal))
            {
                uids.Add(uid);
            }
        }

        return uids;
    }

    /// <summary>Reads a bounded JSON object body, or the 400/413 to answer instead.</summary>
    private static async Task<(JsonDocument? Document, IResult? Problem)> ReadObjectAsync(HttpRequest request, int maxLength, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxLength)
        {
            return (null, TooLarge(maxLength));
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = maxLength;
        }

        try
        {
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer, cancellationToken);
            if (buffer.Length == 0)
            {
                return (null, RequestFields.Detail(StatusCodes.Status400BadRequest, "A JSON object body is required."));
            }

            var document = JsonDocument.Parse(buffer.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                document.Dispose();
                return (null, RequestFields.Detail(StatusCodes.Status400BadRequest, "The body must be a JSON object."));
            }

            return (document, null);
        }
        catch (JsonException ex)
        {
            return (null, RequestFields.Detail(StatusCodes.Status400BadRequest, $"JSON parse error - {ex.Message}"));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge(maxLength));
        }
    }

    private static IResult TooLarge(int maxLength) => RequestFields.Detail(StatusCodes.Status413PayloadTooLarge, $"The request body is larger than {maxLength} bytes.");

    private static void AddError(Dictionary<string, string[]> errors, string name, string message) =>
        errors[name] = errors.TryGetValue(name, out var existing) ? [.. existing, message] : [message];
}
