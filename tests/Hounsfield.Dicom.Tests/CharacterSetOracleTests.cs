using System.Text;
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
        var (dataset, oracle) = Load(name);

        var compared = 0;
        Compare(dataset, oracle, ref compared);

        Assert.True(compared > 0 || !name.StartsWith("charset_", StringComparison.Ordinal), $"{name}: no text value compared");
    }

    [CorpusTheory]
    [MemberData(nameof(CharacterSetFiles))]
    public void Reencoded_in_utf8_and_back_the_text_values_equal_the_oracle(string name)
    {
        var (dataset, oracle) = Load(name);
        var declared = dataset.GetStrings(DicomTag.SpecificCharacterSet);

        var utf8 = dataset.TryReencode(["ISO_IR 192"]);
        Assert.NotNull(utf8);
        Assert.Equal(["ISO_IR 192"], utf8.GetStrings(DicomTag.SpecificCharacterSet));
        var compared = 0;
        Compare(utf8, oracle, ref compared);
        var patientName = utf8.Find(DicomTag.PatientName) as DicomValueElement;
        if (patientName is { Length: > 0 })
        {
            Assert.Equal(Encoding.UTF8.GetBytes(dataset.GetString(DicomTag.PatientName)!), patientName.Span.ToArray().AsSpan().TrimEnd((byte)' ').ToArray());
        }

        var back = utf8.TryReencode(declared);
        Assert.NotNull(back);
        Compare(back, oracle, ref compared);
        Assert.True(compared > 0 || !name.StartsWith("charset_", StringComparison.Ordinal), $"{name}: no text value compared");
    }

    [CorpusFact]
    public void Reencoding_to_a_set_that_lacks_a_character_gives_null_and_between_single_byte_sets_keeps_the_bytes()
    {
        var japanese = DicomFile.Open(Corpus.Get("charset_iso2022_ir87_japanese").Path).Dataset;
        Assert.Null(japanese.TryReencode(["ISO_IR 100"]));
        Assert.Null(japanese.TryReencode(["NO SUCH SET"]));

        var french = DicomFile.Open(Corpus.Get("charset_latin1_french").Path).Dataset;
        var latin1 = french.TryReencode(["ISO_IR 192"])!.TryReencode(["ISO_IR 100"])!;
        var original = (DicomValueElement)french.Find(DicomTag.PatientName)!;
        Assert.Contains((byte)0xE9, original.Span.ToArray()); // é in ISO 8859-1
        Assert.Equal(original.Span.ToArray(), ((DicomValueElement)latin1.Find(DicomTag.PatientName)!).Span.ToArray());
    }

    /// <summary>The file's data set and its oracle's reading of it (pydicom's where there is one, else DCMTK's).</summary>
    private static (DicomDataset Dataset, JsonElement Oracle) Load(string name)
    {
        var file = Corpus.Get(name);
        var oraclePath = File.Exists(file.OraclePath("pydicom.json")) ? file.OraclePath("pydicom.json") : file.OraclePath("dcm2json.json");
        return (DicomFile.Open(file.Path).Dataset, JsonDocument.Parse(File.ReadAllBytes(oraclePath)).RootElement);
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
