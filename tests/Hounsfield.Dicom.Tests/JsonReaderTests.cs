using System.Text;
using Hounsfield.Dicom.Json;

namespace Hounsfield.Dicom.Tests;

public sealed class JsonReaderTests
{
    private static readonly DicomTag PatientName = new(0x0010, 0x0010);
    private static readonly DicomTag ImageType = new(0x0008, 0x0008);
    private static readonly DicomTag InstanceNumber = new(0x0020, 0x0013);
    private static readonly DicomTag PixelSpacing = new(0x0028, 0x0030);
    private static readonly DicomTag Rows = new(0x0028, 0x0010);
    private static readonly DicomTag PixelData = new(0x7FE0, 0x0010);
    private static readonly DicomTag DimensionIndexPointer = new(0x0020, 0x9165);
    private static readonly DicomTag ReferencedSeriesSequence = new(0x0008, 0x1115);
    private static readonly DicomTag InstitutionName = new(0x0008, 0x0080);

    public static TheoryData<string> ValidFiles => Corpus.Names(f => f.Status == "valid");

    [CorpusTheory]
    [MemberData(nameof(ValidFiles))]
    public void Json_written_read_and_written_again_is_identical(string name)
    {
        var dataset = DicomFile.Open(Corpus.Get(name).Path).Dataset;

        var first = DicomJsonWriter.Serialize(dataset);
        var read = DicomJsonReader.Read(first);
        var second = DicomJsonWriter.Serialize(read);

        Assert.Equal(first, second);
    }

    public static TheoryData<string> FilesWithJsonOracle => Corpus.Names(f => !f.IsMalformed && OraclePath(f) is not null);

    [CorpusTheory]
    [MemberData(nameof(FilesWithJsonOracle))]
    public void Json_written_by_DCMTK_or_pydicom_is_read_with_the_values_of_the_file(string name)
    {
        var file = Corpus.Get(name);
        var unresolved = new List<DicomBulkDataReference>();

        var read = DicomJsonReader.Read(File.ReadAllBytes(OraclePath(file)!), new DicomJsonReadOptions { UnresolvedBulkData = unresolved.Add });

        var dataset = DicomFile.Open(file.Path).Dataset;
        DicomTag[] tags = [new(0x0008, 0x0018), new(0x0008, 0x0060), new(0x0020, 0x000D), PatientName, Rows, new(0x0028, 0x0011), InstanceNumber];
        foreach (var tag in tags.Where(t => dataset[t] is DicomValueElement))
        {
            Assert.Equal(Comparable(dataset, tag), Comparable(read, tag));
        }

        Assert.All(unresolved, r => Assert.False(string.IsNullOrEmpty(r.Uri)));
    }

    [Fact]
    public void Person_name_component_groups_are_joined_with_equals_signs()
    {
        var dataset = DicomJsonReader.Read("""
            {"00080005":{"vr":"CS","Value":["ISO_IR 192"]},
             "00100010":{"vr":"PN","Value":[{"Alphabetic":"Yamada^Tarou","Ideographic":"山田^太郎","Phonetic":"やまだ^たろう"}]}}
            """);

        Assert.Equal("Yamada^Tarou=山田^太郎=やまだ^たろう", dataset.GetString(PatientName));
        var name = dataset.GetPersonName(PatientName)!;
        Assert.Equal("Yamada", name.FamilyName);
        Assert.Equal("Tarou", name.GivenName);
        Assert.Equal("山田^太郎", name.Ideographic);
        Assert.Equal(Encoding.UTF8.GetBytes("Yamada^Tarou=山田^太郎=やまだ^たろう"), ValueBytes(dataset, PatientName).AsSpan().TrimEnd((byte)' ').ToArray());
    }

    [Fact]
    public void Person_name_with_only_an_ideographic_group_keeps_an_empty_alphabetic_group()
    {
        var dataset = DicomJsonReader.Read("""{"00080005":{"vr":"CS","Value":["ISO_IR 192"]},"00100010":{"vr":"PN","Value":[{"Ideographic":"山田"}, null, {"Alphabetic":"Doe^Jane"}]}}""");

        Assert.Equal(["=山田", "", "Doe^Jane"], dataset.GetStrings(PatientName));
    }

    [Fact]
    public void Null_entries_are_empty_values_between_delimiters()
    {
        var dataset = DicomJsonReader.Read("""{"00080008":{"vr":"CS","Value":["ORIGINAL",null,"AXIAL"]}}""");

        Assert.Equal("ORIGINAL\\\\AXIAL ", Encoding.ASCII.GetString(ValueBytes(dataset, ImageType)));
        Assert.Equal(["ORIGINAL", "", "AXIAL"], dataset.GetStrings(ImageType));
    }

    [Fact]
    public void A_single_null_value_and_an_absent_Value_are_both_an_empty_element()
    {
        var dataset = DicomJsonReader.Read("""{"00080080":{"vr":"LO","Value":[null]},"00100010":{"vr":"PN"}}""");

        Assert.Empty(ValueBytes(dataset, InstitutionName));
        Assert.Empty(ValueBytes(dataset, PatientName));
        Assert.Equal(DicomVR.PN, dataset[PatientName]!.VR);
    }

    [Fact]
    public void Attribute_tags_are_read_from_hex_strings()
    {
        var dataset = DicomJsonReader.Read("""{"00209165":{"vr":"AT","Value":["00100010","7fe00010"]}}""");

        Assert.Equal(new byte[] { 0x10, 0x00, 0x10, 0x00, 0xE0, 0x7F, 0x10, 0x00 }, ValueBytes(dataset, DimensionIndexPointer));
        Assert.Equal([PatientName, PixelData], dataset.GetTags((DicomValueElement)dataset[DimensionIndexPointer]!));
    }

    [Fact]
    public void Decimal_and_integer_strings_keep_the_text_of_the_json()
    {
        var dataset = DicomJsonReader.Read("""{"00200013":{"vr":"IS","Value":[127]},"00280030":{"vr":"DS","Value":[0.50,1E3,"127.",-0.0,null]}}""");

        Assert.Equal("127 ", Encoding.ASCII.GetString(ValueBytes(dataset, InstanceNumber)));
        Assert.Equal("0.50\\1E3\\127.\\-0.0\\ ", Encoding.ASCII.GetString(ValueBytes(dataset, PixelSpacing)));
        Assert.Equal(127, dataset.GetValue<int>(InstanceNumber));
        Assert.Equal(["0.50", "1E3", "127.", "-0.0", ""], dataset.GetStrings(PixelSpacing));
    }

    [Fact]
    public void Binary_numbers_are_read_from_numbers_and_from_strings()
    {
        var dataset = DicomJsonReader.Read("""
            {"00280010":{"vr":"US","Value":[512,"65535"]},
             "00281050":{"vr":"FD","Value":[0.1,"NaN","-Infinity",1e300]},
             "00289001":{"vr":"SS","Value":[-32768]},
             "0028A001":{"vr":"UL","Value":["4294967295"]},
             "0028A002":{"vr":"FL","Value":[0.10000000149011612]},
             "0028A003":{"vr":"SV","Value":[-9223372036854775808]},
             "0028A004":{"vr":"UV","Value":[18446744073709551615]}}
            """);

        Assert.Equal(new ushort[] { 512, 65535 }, dataset.GetValues<ushort>(Rows));
        var doubles = dataset.GetValues<double>(new DicomTag(0x0028, 0x1050));
        Assert.Equal(0.1, doubles[0]);
        Assert.True(double.IsNaN(doubles[1]));
        Assert.Equal(double.NegativeInfinity, doubles[2]);
        Assert.Equal(1e300, doubles[3]);
        Assert.Equal(new short[] { short.MinValue }, dataset.GetValues<short>(new DicomTag(0x0028, 0x9001)));
        Assert.Equal(new uint[] { uint.MaxValue }, dataset.GetValues<uint>(new DicomTag(0x0028, 0xA001)));
        Assert.Equal(new float[] { 0.1f }, dataset.GetValues<float>(new DicomTag(0x0028, 0xA002)));
        Assert.Equal(new long[] { long.MinValue }, dataset.GetValues<long>(new DicomTag(0x0028, 0xA003)));
        Assert.Equal(new ulong[] { ulong.MaxValue }, dataset.GetValues<ulong>(new DicomTag(0x0028, 0xA004)));
    }

    [Fact]
    public void InlineBinary_is_decoded_as_the_raw_value_bytes()
    {
        var dataset = DicomJsonReader.Read("""{"7FE00010":{"vr":"OW","InlineBinary":"AQIDBA=="}}""");

        Assert.Equal(DicomVR.OW, dataset[PixelData]!.VR);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, ValueBytes(dataset, PixelData));
        Assert.Equal(new ushort[] { 0x0201, 0x0403 }, dataset.GetValues<ushort>(PixelData));
    }

    [Fact]
    public void Encapsulated_pixel_data_given_inline_is_kept_as_OB_bytes()
    {
        var bytes = new byte[] { 0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0, 0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0 };
        var dataset = DicomJsonReader.Read($$$"""{"7FE00010":{"vr":"OB","InlineBinary":"{{{Convert.ToBase64String(bytes)}}}"}}""");

        var element = Assert.IsType<DicomValueElement>(dataset[PixelData]);
        Assert.Equal(DicomVR.OB, element.VR);
        Assert.Equal(bytes, element.Span.ToArray());
    }

    [Fact]
    public void BulkDataURIs_are_resolved_or_reported_with_their_path()
    {
        var unresolved = new List<DicomBulkDataReference>();
        var options = new DicomJsonReadOptions
        {
            BulkDataResolver = (uri, tag, vr) => uri == "https://example.org/bulk/1" && vr == DicomVR.OB ? new byte[] { 9, 8 } : null,
            UnresolvedBulkData = unresolved.Add,
        };

        var dataset = DicomJsonReader.Read("""
            {"00081115":{"vr":"SQ","Value":[{},{"7FE00010":{"vr":"OW","BulkDataURI":"https://example.org/bulk/2"}}]},
             "7FE00010":{"vr":"OB","BulkDataURI":"https://example.org/bulk/1"}}
            """, options);

        Assert.Equal(new byte[] { 9, 8 }, ValueBytes(dataset, PixelData));
        var reference = Assert.Single(unresolved);
        Assert.Equal("https://example.org/bulk/2", reference.Uri);
        Assert.Equal(DicomVR.OW, reference.VR);
        Assert.Equal("00081115/1/7FE00010", reference.Path.ToString());
        var item = dataset.GetSequence(ReferencedSeriesSequence)!.Items[1];
        Assert.Same(item, reference.Dataset);
        Assert.Equal(0, ((DicomValueElement)item[PixelData]!).Length);
    }

    [Fact]
    public void Without_a_resolver_the_element_is_kept_empty()
    {
        var dataset = DicomJsonReader.Read("""{"7FE00010":{"vr":"OB","BulkDataURI":"https://example.org/bulk/1"}}""");

        var element = Assert.IsType<DicomValueElement>(dataset[PixelData]);
        Assert.Equal(DicomVR.OB, element.VR);
        Assert.Equal(0, element.Length);
    }

    [Fact]
    public void Text_is_encoded_in_the_declared_character_set_even_when_it_is_declared_later()
    {
        var dataset = DicomJsonReader.Read("""{"00100010":{"vr":"PN","Value":[{"Alphabetic":"Müller^Jürgen"}]},"00080005":{"vr":"CS","Value":["ISO_IR 100"]}}""");

        Assert.Equal(Encoding.Latin1.GetBytes("Müller^Jürgen "), ValueBytes(dataset, PatientName));
        Assert.Equal("Müller^Jürgen", dataset.GetString(PatientName));
    }

    [Fact]
    public void Items_inherit_the_character_set_of_the_enclosing_data_set()
    {
        var dataset = DicomJsonReader.Read("""
            {"00080005":{"vr":"CS","Value":["ISO_IR 100"]},
             "00081115":{"vr":"SQ","Value":[{"00080080":{"vr":"LO","Value":["Hôpital"]}}]}}
            """);

        var item = dataset.GetSequence(ReferencedSeriesSequence)!.Items[0];
        Assert.Equal(Encoding.Latin1.GetBytes("Hôpital "), ValueBytes(item, InstitutionName));
    }

    [Fact]
    public void Non_ASCII_text_without_a_character_set_gets_ISO_IR_192_and_UTF8()
    {
        var dataset = DicomJsonReader.Read("""{"00081115":{"vr":"SQ","Value":[{"00100010":{"vr":"PN","Value":[{"Alphabetic":"Ωmega"}]}}]}}""");

        Assert.Equal(["ISO_IR 192"], dataset.GetStrings(DicomTag.SpecificCharacterSet));
        var item = dataset.GetSequence(ReferencedSeriesSequence)!.Items[0];
        Assert.Equal(Encoding.UTF8.GetBytes("Ωmega"), ValueBytes(item, PatientName));
        Assert.Equal("Ωmega", item.GetString(PatientName));
    }

    [Fact]
    public void ASCII_text_without_a_character_set_adds_none()
    {
        var dataset = DicomJsonReader.Read("""{"00100010":{"vr":"PN","Value":[{"Alphabetic":"Doe^John"}]}}""");

        Assert.False(dataset.Contains(DicomTag.SpecificCharacterSet));
        Assert.Equal("Doe^John", dataset.GetString(PatientName));
    }

    [Fact]
    public void The_vr_may_follow_the_value()
    {
        var dataset = DicomJsonReader.Read("""{"00280010":{"Value":[256],"vr":"US"}}""");

        Assert.Equal(DicomVR.US, dataset[Rows]!.VR);
        Assert.Equal((ushort)256, dataset.GetValue<ushort>(Rows));
    }

    [Fact]
    public void Sequences_hold_nested_items_and_empty_sequences_stay_empty()
    {
        var dataset = DicomJsonReader.Read("""
            {"00081115":{"vr":"SQ","Value":[{"00081115":{"vr":"SQ","Value":[{"00200013":{"vr":"IS","Value":[3]}}]}},{}]},
             "00081140":{"vr":"SQ"}}
            """);

        var outer = dataset.GetSequence(ReferencedSeriesSequence)!;
        Assert.Equal(2, outer.Items.Count);
        Assert.Empty(outer.Items[1]);
        Assert.Equal(3, outer.Items[0].GetSequence(ReferencedSeriesSequence)!.Items[0].GetValue<int>(InstanceNumber));
        Assert.Empty(dataset.GetSequence(new DicomTag(0x0008, 0x1140))!.Items);
    }

    [Fact]
    public void An_array_of_data_sets_is_read_in_order()
    {
        var datasets = DicomJsonReader.ReadArray("""[{"00200013":{"vr":"IS","Value":[1]}},{"00200013":{"vr":"IS","Value":[2]}}]""");

        Assert.Equal([1, 2], datasets.Select(d => d.GetValue<int>(InstanceNumber)));
    }

    [Fact]
    public void A_stream_with_a_byte_order_mark_is_read()
    {
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes("""{"00200013":{"vr":"IS","Value":[7]}}""")).ToArray();

        var dataset = DicomJsonReader.Read(new MemoryStream(bytes));

        Assert.Equal(7, dataset.GetValue<int>(InstanceNumber));
    }

    [Theory]
    [InlineData("""{"00100010":{"vr":"XX","Value":["a"]}}""", "(0010,0010)", "'XX' is not a value representation")]
    [InlineData("""{"00280010":{"vr":"US","Value":["abc"]}}""", "(0028,0010)", "'abc'")]
    [InlineData("""{"00280010":{"vr":"US","Value":[70000]}}""", "(0028,0010)", "'70000'")]
    [InlineData("""{"00280010":{"vr":"US","Value":[null]}}""", "(0028,0010)", "null")]
    [InlineData("""{"00280010":{"vr":"US","Value":[1.5]}}""", "(0028,0010)", "'1.5'")]
    [InlineData("""{"00100010":{"vr":"PN","Value":[12]}}""", "(0010,0010)", "a number")]
    [InlineData("""{"00080080":{"vr":"LO","Value":[true]}}""", "(0008,0080)", "a boolean")]
    [InlineData("""{"00080080":{"vr":"LO","Value":"x"}}""", "(0008,0080)", "must be an array")]
    [InlineData("""{"00080080":{"vr":"LO","Value":["a\\b"]}}""", "(0008,0080)", "backslash")]
    [InlineData("""{"00080080":{"Value":["a"]}}""", "(0008,0080)", "no \"vr\"")]
    [InlineData("""{"7FE00010":{"vr":"OB","InlineBinary":"not base64!"}}""", "(7FE0,0010)", "base64")]
    [InlineData("""{"7FE00010":{"vr":"OB","Value":[1,2]}}""", "(7FE0,0010)", "InlineBinary")]
    [InlineData("""{"7FE00010":{"vr":"OB","InlineBinary":"AA==","BulkDataURI":"x"}}""", "(7FE0,0010)", "only one")]
    [InlineData("""{"00209165":{"vr":"AT","Value":["0010001"]}}""", "(0020,9165)", "'0010001'")]
    [InlineData("""{"00209165":{"vr":"AT","Value":[1048592]}}""", "(0020,9165)", "a number")]
    [InlineData("""{"00081115":{"vr":"SQ","Value":[1]}}""", "(0008,1115)", "not an object")]
    [InlineData("""{"00100010":{"vr":"PN","Value":[{"Alphabetic":1}]}}""", "(0010,0010)", "must be a string")]
    [InlineData("""{"00100010":"Doe"}""", "(0010,0010)", "must be a JSON object")]
    [InlineData("""{"00200013":{"vr":"IS","Value":[1]},"00200013":{"vr":"IS","Value":[2]}}""", "(0020,0013)", "twice")]
    [InlineData("""{"00080005":{"vr":"CS","Value":["ISO_IR 100"]},"00100010":{"vr":"PN","Value":[{"Alphabetic":"山田"}]}}""", "(0010,0010)", "cannot be encoded")]
    [InlineData("""{"00080060":{"vr":"CS","Value":["山"]}}""", "(0008,0060)", "default character repertoire")]
    public void Invalid_elements_raise_a_format_exception_naming_the_tag(string json, string tag, string problem)
    {
        var exception = Assert.Throws<DicomFormatException>(() => DicomJsonReader.Read(json));

        Assert.Contains(tag, exception.Message, StringComparison.Ordinal);
        Assert.Contains(problem, exception.Message, StringComparison.Ordinal);
        Assert.Equal(DicomTag.Parse(tag), exception.Tag);
    }

    [Theory]
    [InlineData("""{"00100010":{"vr":"PN","Value":[""")]
    [InlineData("""{"00100010":{"vr":"PN",}}""")]
    [InlineData("""{"0010001":{"vr":"PN"}}""")]
    [InlineData("""{"PatientName":{"vr":"PN"}}""")]
    [InlineData("""[{"00100010":{"vr":"PN"}}]""")]
    [InlineData("""{"00100010":{"vr":"PN"}} {}""")]
    [InlineData("")]
    [InlineData("null")]
    public void Malformed_documents_raise_a_format_exception(string json)
    {
        var exception = Assert.Throws<DicomFormatException>(() => DicomJsonReader.Read(json));

        Assert.StartsWith("Invalid DICOM JSON", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_UTF8_raises_a_format_exception()
    {
        var bytes = Encoding.ASCII.GetBytes("""{"00080080":{"vr":"LO","Value":["ab"]}}""");
        bytes[bytes.AsSpan().IndexOf("\"ab\""u8) + 1] = 0xFF;

        Assert.Throws<DicomFormatException>(() => DicomJsonReader.Read(bytes));
    }

    [Fact]
    public void Nesting_deeper_than_MaxDepth_is_refused()
    {
        var json = new StringBuilder();
        for (var i = 0; i < 10; i++)
        {
            json.Append("""{"00081115":{"vr":"SQ","Value":[""");
        }

        json.Append("{}");
        for (var i = 0; i < 10; i++)
        {
            json.Append("]}}");
        }

        Assert.NotNull(DicomJsonReader.Read(json.ToString()));
        var exception = Assert.Throws<DicomFormatException>(() => DicomJsonReader.Read(json.ToString(), new DicomJsonReadOptions { MaxDepth = 16 }));
        Assert.Contains("depth", exception.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_stream_longer_than_MaxInputLength_is_refused()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"00200013":{"vr":"IS","Value":[7]}}""");

        var exception = Assert.Throws<DicomLimitExceededException>(() => DicomJsonReader.Read(new MemoryStream(bytes), new DicomJsonReadOptions { MaxInputLength = 10 }));

        Assert.Equal(nameof(DicomJsonReadOptions.MaxInputLength), exception.LimitName);
    }

    /// <summary>Values as the JSON model keeps them: PN without trailing empty components and groups, IS/DS as numbers, all-empty as none.</summary>
    private static string[] Comparable(DicomDataset dataset, DicomTag tag)
    {
        var vr = dataset[tag]!.VR;
        var values = dataset.GetStrings(tag).Select(v => vr switch
        {
            DicomVR.PN => string.Join('=', v.Split('=').Select(g => g.TrimEnd('^', ' '))).TrimEnd('='),
            DicomVR.IS or DicomVR.DS when double.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var number) => number.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            _ => v,
        }).ToArray();
        return values.All(v => v.Length == 0) ? [] : values;
    }

    private static string? OraclePath(CorpusFile file) =>
        new[] { file.OraclePath("pydicom.json"), file.OraclePath("dcm2json.json") }.FirstOrDefault(File.Exists);

    private static byte[] ValueBytes(DicomDataset dataset, DicomTag tag) => ((DicomValueElement)dataset[tag]!).Span.ToArray();
}
