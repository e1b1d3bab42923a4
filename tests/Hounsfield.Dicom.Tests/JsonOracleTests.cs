using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Hounsfield.Dicom.Json;

namespace Hounsfield.Dicom.Tests;

/// <summary>
/// Every valid and nonconformant corpus file, read by us and written as DICOM JSON, equals DCMTK's dcm2json output
/// (or pydicom's where dcm2json could not) element by element: values compared as values, numbers numerically,
/// elided binaries by SHA-256. The known quirks of the oracles are excepted below, each with its reason.
/// </summary>
public sealed class JsonOracleTests
{
    /// <summary>Where the oracle, not the reader, is off: (file or "*", tag, reason).</summary>
    private static readonly (string File, string Tag, string Reason)[] KnownOracleQuirks =
    [
        ("*", "00080005", "dcm2json converts text to UTF-8 and rewrites Specific Character Set as ISO_IR 192; we keep the file's value"),
        ("dcmodify:*", "FFFCFFFC", "for encapsulated pixel data dcm2json ran on a copy made by dcmodify, which drops Data Set Trailing Padding"),
        ("pydicom:*", "gggg0000", "pydicom writes group length elements; PS3.18 F.2 leaves them out of the JSON model, as we do"),
        ("pydicom:charset_iso2022_ir87_multi", "0019xxxx", "the file encodes these private GEMS elements as explicit UN; pydicom replaces UN with the VR of its private dictionary, we keep the VR of the file"),
        ("pydicom:j2k_pixelrep_mismatch", "00090010", "private creator encoded as explicit UN; pydicom rewrites it as LO, we keep the VR of the file"),
        ("pydicom:j2k_pixelrep_mismatch", "00090011", "private creator encoded as explicit UN; pydicom rewrites it as LO, we keep the VR of the file"),
        ("pydicom:j2k_pixelrep_mismatch", "00190010", "private creator encoded as explicit UN; pydicom rewrites it as LO, we keep the VR of the file"),
    ];

    public static TheoryData<string> ReadableFiles => Corpus.Names(f => !f.IsMalformed);

    [CorpusTheory]
    [MemberData(nameof(ReadableFiles))]
    public void Json_of_every_readable_file_equals_the_oracle(string name)
    {
        var file = Corpus.Get(name);
        var oraclePath = File.Exists(file.OraclePath("pydicom.json")) ? file.OraclePath("pydicom.json") : file.OraclePath("dcm2json.json");
        Assert.True(File.Exists(oraclePath), $"no JSON oracle for {name}");

        var dataset = DicomFile.Open(file.Path).Dataset;
        var ours = JsonDocument.Parse(DicomJsonWriter.Serialize(dataset)).RootElement;
        var oracle = JsonDocument.Parse(File.ReadAllBytes(oraclePath)).RootElement;

        var differences = new List<string>();
        var oracleName = Path.GetFileName(oraclePath) == "pydicom.json" ? "pydicom:" + name
            : oracle.TryGetProperty("7FE00010", out var pixels) && pixels.TryGetProperty("BulkDataURI", out var placeholder)
              && placeholder.GetString() == "urn:oracle:encapsulated-pixel-data-omitted" ? "dcmodify:" + name : name;
        CompareDatasets(oracleName, ours, oracle, string.Empty, differences);
        Assert.True(differences.Count == 0, $"{name} differs from {Path.GetFileName(oraclePath)}:\n{string.Join('\n', differences.Take(20))}");
    }

    private static void CompareDatasets(string file, JsonElement ours, JsonElement oracle, string path, List<string> differences)
    {
        foreach (var property in oracle.EnumerateObject())
        {
            var at = path + property.Name;
            if (IsQuirk(file, property.Name))
            {
                continue;
            }

            if (property.Value.TryGetProperty("BulkDataURI", out var placeholder) && placeholder.GetString() == "urn:oracle:encapsulated-pixel-data-omitted")
            {
                continue;
            }

            if (!ours.TryGetProperty(property.Name, out var mine))
            {
                differences.Add($"{at}: missing in ours");
                continue;
            }

            CompareElements(file, mine, property.Value, at, differences);
        }

        foreach (var property in ours.EnumerateObject())
        {
            if (!oracle.TryGetProperty(property.Name, out _) && !IsQuirk(file, property.Name) && !IsEncapsulatedPixelData(property, oracle))
            {
                differences.Add($"{path + property.Name}: only in ours ({property.Value})");
            }
        }
    }

    private static bool IsEncapsulatedPixelData(JsonProperty property, JsonElement oracle) =>
        property.Name == "7FE00010" && !oracle.TryGetProperty("7FE00010", out _);

    private static bool IsQuirk(string file, string tag) =>
        KnownOracleQuirks.Any(q => FileMatches(q.File, file) && TagMatches(q.Tag, tag));

    private static bool FileMatches(string pattern, string file) =>
        pattern == "*" || pattern == file || (pattern.EndsWith(":*", StringComparison.Ordinal) && file.StartsWith(pattern[..^1], StringComparison.Ordinal));

    private static bool TagMatches(string pattern, string tag) =>
        pattern == tag
        || (pattern == "gggg0000" && tag.EndsWith("0000", StringComparison.Ordinal))
        || (pattern.EndsWith("xxxx", StringComparison.Ordinal) && tag.StartsWith(pattern[..4], StringComparison.Ordinal));

    private static void CompareElements(string file, JsonElement ours, JsonElement oracle, string at, List<string> differences)
    {
        var vr = oracle.GetProperty("vr").GetString();
        var ourVR = ours.GetProperty("vr").GetString();
        if (vr != ourVR)
        {
            differences.Add($"{at}: vr {ourVR} but oracle {vr}");
            return;
        }

        if (oracle.TryGetProperty("BulkDataURI", out var uri))
        {
            CompareElidedBinary(ours, uri.GetString()!, at, differences);
            return;
        }

        if (oracle.TryGetProperty("InlineBinary", out var inline))
        {
            if (!ours.TryGetProperty("InlineBinary", out var mine) || !Convert.FromBase64String(mine.GetString()!).AsSpan().SequenceEqual(Convert.FromBase64String(inline.GetString()!)))
            {
                differences.Add($"{at}: InlineBinary differs");
            }

            return;
        }

        var hasValue = oracle.TryGetProperty("Value", out var oracleValues) && !AllEmpty(oracleValues, vr);
        var weHaveValue = ours.TryGetProperty("Value", out var ourValues);
        if (!hasValue)
        {
            if (weHaveValue && ourValues.GetArrayLength() > 0)
            {
                differences.Add($"{at}: we have {ourValues} but the oracle has no value");
            }

            return;
        }

        if (!weHaveValue)
        {
            differences.Add($"{at}: no value in ours, oracle {oracleValues}");
            return;
        }

        if (ourValues.GetArrayLength() != oracleValues.GetArrayLength())
        {
            differences.Add($"{at}: {ourValues.GetArrayLength()} values but oracle {oracleValues.GetArrayLength()}: {Clip(ourValues)} vs {Clip(oracleValues)}");
            return;
        }

        for (var i = 0; i < oracleValues.GetArrayLength(); i++)
        {
            var expected = oracleValues[i];
            var actual = ourValues[i];
            if (vr == "SQ")
            {
                CompareDatasets(file, actual, expected, $"{at}[{i}].", differences);
            }
            else if (!ValuesEqual(actual, expected, vr))
            {
                differences.Add($"{at}[{i}]: {Clip(actual)} but oracle {Clip(expected)}");
            }
        }
    }

    private static void CompareElidedBinary(JsonElement ours, string uri, string at, List<string> differences)
    {
        var query = uri[(uri.IndexOf('?') + 1)..].Split('&').Select(p => p.Split('=')).ToDictionary(p => p[0], p => p[1]);
        if (!ours.TryGetProperty("InlineBinary", out var inline))
        {
            differences.Add($"{at}: oracle elided binary {uri}, ours has none");
            return;
        }

        var bytes = Convert.FromBase64String(inline.GetString()!);
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (bytes.Length.ToString(CultureInfo.InvariantCulture) != query["bytes"] || hash != query["sha256"])
        {
            differences.Add($"{at}: binary of {bytes.Length} bytes sha256 {hash}, oracle {query["bytes"]} bytes sha256 {query["sha256"]}");
        }
    }

    private static bool ValuesEqual(JsonElement actual, JsonElement expected, string? vr)
    {
        if (vr == "FL" && TryNumber(actual, out var single) && TryNumber(expected, out var expectedSingle))
        {
            return (float)single == (float)expectedSingle; // dcm2json prints FL with 9 significant digits, enough to round-trip a float
        }

        if (expected.ValueKind == JsonValueKind.Number || actual.ValueKind == JsonValueKind.Number)
        {
            return TryNumber(actual, out var a) && TryNumber(expected, out var e) && (a == e || Math.Abs(a - e) <= 1e-9 * Math.Max(Math.Abs(a), Math.Abs(e)));
        }

        if (expected.ValueKind == JsonValueKind.Object)
        {
            if (actual.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            var expectedGroups = expected.EnumerateObject().Where(p => NormalizeName(p.Value.GetString()).Length > 0).ToDictionary(p => p.Name, p => NormalizeName(p.Value.GetString()));
            var actualGroups = actual.EnumerateObject().Where(p => NormalizeName(p.Value.GetString()).Length > 0).ToDictionary(p => p.Name, p => NormalizeName(p.Value.GetString()));
            return expectedGroups.Count == actualGroups.Count && expectedGroups.All(g => actualGroups.TryGetValue(g.Key, out var v) && v == g.Value);
        }

        if (expected.ValueKind == JsonValueKind.Null || actual.ValueKind == JsonValueKind.Null)
        {
            return IsEmpty(expected) && IsEmpty(actual);
        }

        return actual.ValueKind == expected.ValueKind && actual.GetString() == expected.GetString();
    }

    /// <summary>Values that hold nothing but padding or PN delimiters (PS3.5 §6.2.1.1: trailing delimiters are insignificant).</summary>
    private static bool AllEmpty(JsonElement values, string? vr) => vr != "SQ" && values.EnumerateArray().All(v =>
        IsEmpty(v) || (vr == "PN" && v.ValueKind == JsonValueKind.Object && v.EnumerateObject().All(g => NormalizeName(g.Value.GetString()).Length == 0)));

    private static string NormalizeName(string? group) => (group ?? string.Empty).TrimEnd('^', ' ');

    private static bool IsEmpty(JsonElement value) =>
        value.ValueKind == JsonValueKind.Null || (value.ValueKind == JsonValueKind.String && value.GetString()!.Length == 0);

    private static bool TryNumber(JsonElement value, out double number)
    {
        number = 0;
        return value.ValueKind switch
        {
            JsonValueKind.Number => value.TryGetDouble(out number),
            JsonValueKind.String => double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out number),
            _ => false,
        };
    }

    private static string Clip(JsonElement value)
    {
        var text = value.ToString();
        return text.Length > 120 ? text[..120] + "…" : text;
    }
}
