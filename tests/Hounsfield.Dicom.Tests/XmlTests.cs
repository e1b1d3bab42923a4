using System.Text;
using Hounsfield.Dicom.Json;
using Hounsfield.Dicom.Xml;

namespace Hounsfield.Dicom.Tests;

public sealed class XmlTests
{
    private static readonly DicomTag PatientName = new(0x0010, 0x0010);
    private static readonly DicomTag ImageType = new(0x0008, 0x0008);
    private static readonly DicomTag InstanceNumber = new(0x0020, 0x0013);
    private static readonly DicomTag InstitutionName = new(0x0008, 0x0080);
    private static readonly DicomTag Rows = new(0x0028, 0x0010);
    private static readonly DicomTag PixelData = new(0x7FE0, 0x0010);
    private static readonly DicomTag ReferencedSeriesSequence = new(0x0008, 0x1115);
    private static readonly DicomTag StudyComments = new(0x0032, 0x4000);

    public static TheoryData<string> ValidFiles => Corpus.Names(f => f.Status == "valid");

    [CorpusTheory]
    [MemberData(nameof(ValidFiles))]
    public void Xml_read_back_equals_the_file_and_writes_the_same_text(string name)
    {
        var dataset = DicomFile.Open(Corpus.Get(name).Path).Dataset;

        var first = DicomXmlWriter.Serialize(dataset);
        var read = DicomXmlReader.Read(first);
        AssertEquivalent(dataset, read, string.Empty);

        var second = DicomXmlWriter.Serialize(read);
        Assert.Equal(first, second);
    }

    [Fact]
    public void Attributes_carry_tag_vr_keyword_and_private_creator()
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(new DicomTag(0x0009, 0x0010), DicomVR.LO, "ACME 1.0")
            .AddOrUpdate(new DicomTag(0x0009, 0x1001), DicomVR.LO, "secret")
            .AddOrUpdate(Rows, DicomVR.US, (ushort)512)
            .AddOrUpdate(ImageType, DicomVR.CS, "ORIGINAL", "", "AXIAL");

        var xml = DicomXmlWriter.Serialize(dataset);

        Assert.StartsWith("""<?xml version="1.0" encoding="utf-8"?><NativeDicomModel xml:space="preserve" xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">""", xml, StringComparison.Ordinal);
        Assert.Contains("""<DicomAttribute tag="00080008" vr="CS" keyword="ImageType"><Value number="1">ORIGINAL</Value><Value number="2" /><Value number="3">AXIAL</Value></DicomAttribute>""", xml, StringComparison.Ordinal);
        Assert.Contains("""<DicomAttribute tag="00090010" vr="LO" keyword="PrivateCreator"><Value number="1">ACME 1.0</Value></DicomAttribute>""", xml, StringComparison.Ordinal);
        Assert.Contains("""<DicomAttribute tag="00091001" vr="LO" privateCreator="ACME 1.0"><Value number="1">secret</Value></DicomAttribute>""", xml, StringComparison.Ordinal);
        Assert.Contains("""<DicomAttribute tag="00280010" vr="US" keyword="Rows"><Value number="1">512</Value></DicomAttribute>""", xml, StringComparison.Ordinal);
        Assert.EndsWith("</NativeDicomModel>", xml, StringComparison.Ordinal);
    }

    [Fact]
    public void Person_names_are_written_component_by_component_and_read_back_exactly()
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTag.SpecificCharacterSet, DicomVR.CS, "ISO_IR 192")
            .AddOrUpdate(PatientName, DicomVR.PN, "Doe^John^^Dr", "=山田^太郎", "", "Yamada^Tarou=山田^太郎=やまだ^たろう");

        var xml = DicomXmlWriter.Serialize(dataset);

        Assert.Contains(
            """<PersonName number="1"><Alphabetic><FamilyName>Doe</FamilyName><GivenName>John</GivenName><MiddleName /><NamePrefix>Dr</NamePrefix></Alphabetic></PersonName>"""
            + """<PersonName number="2"><Alphabetic /><Ideographic><FamilyName>山田</FamilyName><GivenName>太郎</GivenName></Ideographic></PersonName>"""
            + """<PersonName number="3" />""",
            xml,
            StringComparison.Ordinal);
        Assert.Contains("""<Phonetic><FamilyName>やまだ</FamilyName><GivenName>たろう</GivenName></Phonetic>""", xml, StringComparison.Ordinal);
        var read = DicomXmlReader.Read(xml);
        Assert.Equal(["Doe^John^^Dr", "=山田^太郎", "", "Yamada^Tarou=山田^太郎=やまだ^たろう"], read.GetStrings(PatientName));
    }

    [Fact]
    public void A_document_from_another_producer_is_read()
    {
        var xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- written by hand -->
            <NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">
              <DicomAttribute tag="00080008" vr="CS" keyword="ImageType">
                <Value number="1">DERIVED</Value>
                <Value number="3">AXIAL</Value>
              </DicomAttribute>
              <DicomAttribute tag="00081115" vr="SQ">
                <Item number="1">
                  <DicomAttribute tag="00200013" vr="IS"><Value number="1">127.</Value></DicomAttribute>
                </Item>
                <Item number="2"/>
              </DicomAttribute>
              <DicomAttribute tag="00100010" vr="PN">
                <PersonName number="1">
                  <SingleByte><FamilyName>Doe</FamilyName><GivenName>Jane</GivenName></SingleByte>
                </PersonName>
              </DicomAttribute>
              <DicomAttribute tag="00209165" vr="AT"><Value number="1">00100010</Value><Value number="2">7FE00010</Value></DicomAttribute>
              <DicomAttribute tag="00281050" vr="DS"><Value number="1">40</Value></DicomAttribute>
              <DicomAttribute tag="00289001" vr="FD"><Value number="1">-INF</Value><Value number="2">2.5</Value></DicomAttribute>
              <DicomAttribute tag="7FE00010" vr="OW"><InlineBinary>
                AQID
                BA==
              </InlineBinary></DicomAttribute>
            </NativeDicomModel>
            """;

        var dataset = DicomXmlReader.Read(xml);

        Assert.Equal(["DERIVED", "", "AXIAL"], dataset.GetStrings(ImageType));
        var items = dataset.GetSequence(ReferencedSeriesSequence)!.Items;
        Assert.Equal(2, items.Count);
        Assert.Equal(["127."], items[0].GetStrings(InstanceNumber));
        Assert.Empty(items[1]);
        Assert.Equal("Doe^Jane", dataset.GetString(PatientName));
        Assert.Equal([PatientName, PixelData], dataset.GetTags((DicomValueElement)dataset[new DicomTag(0x0020, 0x9165)]!));
        Assert.Equal([double.NegativeInfinity, 2.5], dataset.GetValues<double>(new DicomTag(0x0028, 0x9001)));
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, ((DicomValueElement)dataset[PixelData]!).Span.ToArray());
    }

    [Fact]
    public void Text_keeps_whitespace_carriage_returns_and_control_characters()
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(StudyComments, DicomVR.LT, "  first line\r\nsecond\tline")
            .AddOrUpdate(InstitutionName, DicomVR.LO, "bell\u0007");

        var xml = DicomXmlWriter.Serialize(dataset);
        var read = DicomXmlReader.Read(xml);

        Assert.Contains("""<Value number="1">  first line&#xD;""", xml, StringComparison.Ordinal);
        Assert.Contains("""<DicomAttribute tag="00080080" vr="LO" keyword="InstitutionName"><InlineBinary>""", xml, StringComparison.Ordinal);
        Assert.Equal("  first line\r\nsecond\tline", read.GetString(StudyComments));
        Assert.Equal("bell\u0007", read.GetString(InstitutionName));
    }

    [Fact]
    public void Bulk_data_is_written_as_a_uri_and_resolved_when_read()
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(PixelData, DicomVR.OW, (ushort)1, (ushort)2)
            .Add(new DicomSequence(ReferencedSeriesSequence, new DicomDataset().AddOrUpdate(new DicomTag(0x0028, 0x3006), DicomVR.OW, (ushort)7, (ushort)8, (ushort)9)));
        var writeOptions = new DicomJsonOptions { BulkDataThreshold = 2, BulkDataUri = (path, element) => "bulk/" + path };

        var xml = DicomXmlWriter.Serialize(dataset, writeOptions);

        Assert.Contains("""<DicomAttribute tag="7FE00010" vr="OW" keyword="PixelData"><BulkData uri="bulk/7FE00010" /></DicomAttribute>""", xml, StringComparison.Ordinal);
        Assert.Contains("""<BulkData uri="bulk/00081115/0/00283006" />""", xml, StringComparison.Ordinal);

        var unresolved = new List<DicomBulkDataReference>();
        var read = DicomXmlReader.Read(xml, new DicomJsonReadOptions
        {
            BulkDataResolver = (uri, tag, vr) => uri == "bulk/7FE00010" ? new byte[] { 1, 0, 2, 0 } : null,
            UnresolvedBulkData = unresolved.Add,
        });

        Assert.Equal(new ushort[] { 1, 2 }, read.GetValues<ushort>(PixelData));
        var reference = Assert.Single(unresolved);
        Assert.Equal("bulk/00081115/0/00283006", reference.Uri);
        Assert.Equal("00081115/0/00283006", reference.Path.ToString());
        Assert.Same(read.GetSequence(ReferencedSeriesSequence)!.Items[0], reference.Dataset);
    }

    [Fact]
    public void Indented_output_reads_back_the_same()
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(ImageType, DicomVR.CS, "ORIGINAL", "PRIMARY")
            .AddOrUpdate(StudyComments, DicomVR.LT, " padded ")
            .Add(new DicomSequence(ReferencedSeriesSequence, new DicomDataset().AddOrUpdate(InstanceNumber, DicomVR.IS, "4")));

        var xml = DicomXmlWriter.Serialize(dataset, new DicomJsonOptions { Indented = true });
        var read = DicomXmlReader.Read(xml);

        AssertEquivalent(dataset, read, string.Empty);
        Assert.Equal(" padded", read.GetString(StudyComments));
    }

    [Fact]
    public void Non_ASCII_text_without_a_character_set_gets_ISO_IR_192()
    {
        var read = DicomXmlReader.Read("""<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM"><DicomAttribute tag="00100010" vr="PN"><PersonName number="1"><Alphabetic><FamilyName>Ωmega</FamilyName></Alphabetic></PersonName></DicomAttribute></NativeDicomModel>""");

        Assert.Equal(["ISO_IR 192"], read.GetStrings(DicomTag.SpecificCharacterSet));
        Assert.Equal(Encoding.UTF8.GetBytes("Ωmega"), ((DicomValueElement)read[PatientName]!).Span.ToArray());
    }

    [Theory]
    [InlineData("""<DicomAttribute tag="00100010" vr="XX"/>""", "(0010,0010)", "'XX' is not a value representation")]
    [InlineData("""<DicomAttribute tag="00100010"/>""", "(0010,0010)", "no vr")]
    [InlineData("""<DicomAttribute tag="00280010" vr="US"><Value number="1">abc</Value></DicomAttribute>""", "(0028,0010)", "'abc'")]
    [InlineData("""<DicomAttribute tag="00280010" vr="US"><Value number="2">1</Value></DicomAttribute>""", "(0028,0010)", "value 1 is missing")]
    [InlineData("""<DicomAttribute tag="00080008" vr="CS"><Value number="2">A</Value><Value number="1">B</Value></DicomAttribute>""", "(0008,0008)", "number=\"1\"")]
    [InlineData("""<DicomAttribute tag="00080008" vr="CS"><Value number="x">A</Value></DicomAttribute>""", "(0008,0008)", "number=\"x\"")]
    [InlineData("""<DicomAttribute tag="7FE00010" vr="OB"><InlineBinary>***</InlineBinary></DicomAttribute>""", "(7FE0,0010)", "base64")]
    [InlineData("""<DicomAttribute tag="7FE00010" vr="OB"><Value number="1">1</Value></DicomAttribute>""", "(7FE0,0010)", "InlineBinary or BulkData")]
    [InlineData("""<DicomAttribute tag="00080080" vr="LO"><Item number="1"/></DicomAttribute>""", "(0008,0080)", "cannot hold Item")]
    [InlineData("""<DicomAttribute tag="00081115" vr="SQ"><Value number="1">x</Value></DicomAttribute>""", "(0008,1115)", "holds Item children")]
    [InlineData("""<DicomAttribute tag="00081115" vr="SQ"><Item number="2"/></DicomAttribute>""", "(0008,1115)", "Item number 2")]
    [InlineData("""<DicomAttribute tag="00080080" vr="LO"><Value number="1">a</Value><InlineBinary>AA==</InlineBinary></DicomAttribute>""", "(0008,0080)", "either")]
    [InlineData("""<DicomAttribute tag="00080080" vr="LO"><Value number="1">a<b/></Value></DicomAttribute>""", "(0008,0080)", "unexpected element")]
    [InlineData("""<DicomAttribute tag="00080080" vr="LO"><Bogus/></DicomAttribute>""", "(0008,0080)", "unexpected element 'Bogus'")]
    [InlineData("""<DicomAttribute tag="00080080" vr="LO">text</DicomAttribute>""", "(0008,0080)", "unexpected Text")]
    [InlineData("""<DicomAttribute tag="00080080" vr="LO"><BulkData/></DicomAttribute>""", "(0008,0080)", "uri")]
    [InlineData("""<DicomAttribute tag="00100010" vr="PN"><PersonName number="1"><Alphabetic><Nickname>x</Nickname></Alphabetic></PersonName></DicomAttribute>""", "(0010,0010)", "Nickname")]
    [InlineData("""<DicomAttribute tag="00080060" vr="CS"><Value number="1">山</Value></DicomAttribute>""", "(0008,0060)", "default character repertoire")]
    [InlineData("""<DicomAttribute tag="00200013" vr="IS"/><DicomAttribute tag="00200013" vr="IS"/>""", "(0020,0013)", "twice")]
    public void Invalid_attributes_raise_a_format_exception_naming_the_tag(string body, string tag, string problem)
    {
        var xml = $"""<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">{body}</NativeDicomModel>""";

        var exception = Assert.Throws<DicomFormatException>(() => DicomXmlReader.Read(xml));

        Assert.Contains($"tag {tag}", exception.Message, StringComparison.Ordinal);
        Assert.Contains(problem, exception.Message, StringComparison.Ordinal);
        Assert.Contains("line 1, position", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("<NativeDicomModel xmlns=\"http://dicom.nema.org/PS3.19/models/NativeDICOM\">")]
    [InlineData("<NativeDicomModel xmlns=\"http://dicom.nema.org/PS3.19/models/NativeDICOM\"><DicomAttribute tag=\"00100010\" vr=\"PN\"></NativeDicomModel>")]
    [InlineData("<OtherModel/>")]
    [InlineData("<NativeDicomModel xmlns=\"urn:other\"/>")]
    [InlineData("<NativeDicomModel><DicomAttribute tag=\"0010001\" vr=\"PN\"/></NativeDicomModel>")]
    [InlineData("<NativeDicomModel><Item/></NativeDicomModel>")]
    [InlineData("<!DOCTYPE NativeDicomModel [<!ENTITY x \"y\">]><NativeDicomModel/>")]
    [InlineData("<!DOCTYPE NativeDicomModel SYSTEM \"file:///etc/passwd\"><NativeDicomModel/>")]
    [InlineData("<NativeDicomModel/><NativeDicomModel/>")]
    public void Malformed_or_foreign_documents_raise_a_format_exception(string xml)
    {
        var exception = Assert.Throws<DicomFormatException>(() => DicomXmlReader.Read(xml));

        Assert.StartsWith("Invalid Native DICOM Model XML", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void External_entities_are_never_resolved()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "SECRET");
            var xml = $"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "{new Uri(path).AbsoluteUri}">]><NativeDicomModel><DicomAttribute tag="00080080" vr="LO"><Value number="1">&e;</Value></DicomAttribute></NativeDicomModel>""";

            var exception = Assert.Throws<DicomFormatException>(() => DicomXmlReader.Read(xml));

            Assert.DoesNotContain("SECRET", exception.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Nesting_deeper_than_MaxDepth_is_refused()
    {
        var xml = new StringBuilder("<NativeDicomModel>");
        for (var i = 0; i < 10; i++)
        {
            xml.Append("<DicomAttribute tag=\"00081115\" vr=\"SQ\"><Item number=\"1\">");
        }

        for (var i = 0; i < 10; i++)
        {
            xml.Append("</Item></DicomAttribute>");
        }

        xml.Append("</NativeDicomModel>");

        Assert.NotNull(DicomXmlReader.Read(xml.ToString()));
        var exception = Assert.Throws<DicomFormatException>(() => DicomXmlReader.Read(xml.ToString(), new DicomJsonReadOptions { MaxDepth = 12 }));
        Assert.Contains("MaxDepth of 12 exceeded", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stream_is_written_and_read_in_UTF8()
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTag.SpecificCharacterSet, DicomVR.CS, "ISO_IR 100")
            .AddOrUpdate(InstitutionName, DicomVR.LO, "Hôpital");
        using var stream = new MemoryStream();

        DicomXmlWriter.Write(stream, dataset);
        Assert.Equal((byte)'<', stream.ToArray()[0]); // no byte order mark
        stream.Position = 0;
        var read = DicomXmlReader.Read(stream);

        Assert.Equal(Encoding.Latin1.GetBytes("Hôpital "), ((DicomValueElement)read[InstitutionName]!).Span.ToArray());
    }

    /// <summary>Same tags, VRs (none as UN) and values: strings as their trimmed values, binaries byte for byte, items recursively.</summary>
    internal static void AssertEquivalent(DicomDataset expected, DicomDataset actual, string path)
    {
        var expectedElements = expected.Where(e => !e.Tag.IsGroupLength).ToList();
        var actualElements = actual.ToList();
        Assert.True(
            expectedElements.Select(e => e.Tag).SequenceEqual(actualElements.Select(e => e.Tag)),
            $"{path}: tags differ: {string.Join(' ', expectedElements.Select(e => e.Tag.ToHexString()).Except(actualElements.Select(e => e.Tag.ToHexString())))} / {string.Join(' ', actualElements.Select(e => e.Tag.ToHexString()).Except(expectedElements.Select(e => e.Tag.ToHexString())))}");
        for (var i = 0; i < expectedElements.Count; i++)
        {
            var e = expectedElements[i];
            var a = actualElements[i];
            var at = path + e.Tag.ToHexString();
            Assert.True((e.VR == DicomVR.None ? DicomVR.UN : e.VR) == a.VR, $"{at}: VR {e.VR.ToCode()} became {a.VR.ToCode()}");
            switch (e)
            {
                case DicomSequence sequence:
                    var other = Assert.IsType<DicomSequence>(a);
                    Assert.True(sequence.Items.Count == other.Items.Count, $"{at}: {sequence.Items.Count} items became {other.Items.Count}");
                    for (var item = 0; item < sequence.Items.Count; item++)
                    {
                        AssertEquivalent(sequence.Items[item], other.Items[item], $"{at}/{item}/");
                    }

                    break;
                case DicomFragmentSequence fragments:
                    Assert.True(fragments.GetEncodedItems().AsSpan().SequenceEqual(Assert.IsType<DicomValueElement>(a).Span), $"{at}: encapsulated bytes differ");
                    break;
                case DicomValueElement value when value.VR.IsString():
                    var expectedTexts = Normalize(expected.GetStrings(value));
                    var actualTexts = Normalize(actual.GetStrings(Assert.IsType<DicomValueElement>(a)));
                    Assert.True(expectedTexts.SequenceEqual(actualTexts), $"{at}: [{string.Join('|', expectedTexts)}] became [{string.Join('|', actualTexts)}]");
                    break;
                case DicomValueElement value:
                    Assert.True(value.Span.SequenceEqual(Assert.IsType<DicomValueElement>(a).Span), $"{at}: value bytes differ");
                    break;
            }
        }
    }

    /// <summary>Values of only padding are an empty value, as the writers treat them.</summary>
    private static string[] Normalize(string[] texts) => Array.TrueForAll(texts, t => t.Length == 0) ? [] : texts;
}
