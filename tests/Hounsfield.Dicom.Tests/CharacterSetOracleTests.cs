using System.Text.Json;

namespace Hounsfield.Dicom.Tests;

/// <summary>Every text value (PN, LO, SH, ST, LT, UT, UC) of every charset file equals the oracle's, at every depth.</summary>
public sealed class CharacterSetOracleTests
{
    private static readonly string[] TextVRs = ["PN", "LO", "SH", "ST", "LT", "UT", "UC"];

    public static TheoryData<string> CharacterSetFiles => Corpus.Names(f =>
        !f.IsMalformed && f.Manifest.TryGetProperty("specific_character_set", out var charset) && charset.ValueKind == JsonValueKind.String && charset.GetString()!.Length > 0);

    [CorpusTheory]
    [MemberData(nameof(CharacterSetFiles))]
    public void Text_values_equal_the_oracle(string name)
    {
        var file = Corpus.Get(name);
        var oraclePath = File.Exists(file.OraclePath("pydicom.json")) ? file.OraclePath("pydicom.json") : file.OraclePath("dcm2json.json");
        var oracle = JsonDocument.Parse(File.ReadAllBytes(oraclePath)).RootElement;
        var dataset = DicomFile.Open(file.Path).Dataset;

        var compared = 0;
        Compare(dataset, oracle, ref compared);

        Assert.True(compared > 0 || !name.StartsWith("charset_", StringComparison.Ordinal), $"{name}: no text value compared");
    }

    private static void Compare(DicomDataset dataset, JsonElement oracle, ref int compared)
    {
        foreach (var property in oracle.EnumerateObject())
        {
            var tag = DicomTag.Parse(property.Name);
            var vr = property.Value.GetProperty("vr").GetString()!;
            if (!property.Value.TryGetProperty("Value", out var values))
            {
                continue;
            }

            if (vr == "SQ")
            {
                var sequence = dataset.GetSequence(tag)!;
                for (var i = 0; i < values.GetArrayLength(); i++)
                {
                    Compare(sequence.Items[i], values[i], ref compared);
                }
            }
            else if (TextVRs.Contains(vr))
            {
                var ours = dataset.GetStrings(tag);
                for (var i = 0; i < values.GetArrayLength(); i++)
                {
                    var expected = values[i];
                    var actual = i < ours.Length ? ours[i] : string.Empty;
                    if (vr == "PN")
                    {
                        var name = DicomPersonName.Parse(actual);
                        Assert.Equal(Group(expected, "Alphabetic"), name.Alphabetic.TrimEnd('^'));
                        Assert.Equal(Group(expected, "Ideographic"), name.Ideographic.TrimEnd('^'));
                        Assert.Equal(Group(expected, "Phonetic"), name.Phonetic.TrimEnd('^'));
                    }
                    else
                    {
                        Assert.Equal(expected.ValueKind == JsonValueKind.Null ? string.Empty : expected.GetString(), actual);
                    }

                    compared++;
                }
            }
        }
    }

    private static string Group(JsonElement name, string group) =>
        name.ValueKind == JsonValueKind.Object && name.TryGetProperty(group, out var value) ? value.GetString()!.TrimEnd('^') : string.Empty;
}
