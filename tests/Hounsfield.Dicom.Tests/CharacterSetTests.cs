using System.Globalization;
using Hounsfield.Dicom.Text;

namespace Hounsfield.Dicom.Tests;

/// <summary>
/// Specific Character Set (0008,0005): PS3.3 C.12.1.1.2, PS3.5 §6.1, and the examples of PS3.5 Annexes H
/// (Japanese), I (Korean), J (UTF-8, GB18030) and K (GB 2312), byte for byte in both directions.
/// </summary>
public sealed class CharacterSetTests
{
    private static DicomCharacterSet Set(params string[] terms) => DicomCharacterSet.FromTerms(terms);

    /// <summary>Bytes written as in the standard's examples, "column/row" per byte (e.g. "01/11" is ESC).</summary>
    private static byte[] ColumnRow(string text) =>
        text.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(cr => (byte)((int.Parse(cr[..2], CultureInfo.InvariantCulture) << 4) | int.Parse(cr[3..], CultureInfo.InvariantCulture)))
            .ToArray();

    private static byte[] Hex(string text) => Convert.FromHexString(text.Replace(" ", string.Empty, StringComparison.Ordinal));

    // ---- PS3.5 Annex H: Japanese ------------------------------------------------------------------------------------

    private const string YamadaTarou = "Yamada^Tarou=山田^太郎=やまだ^たろう";

    /// <summary>PS3.5 Example H.3-1: value 1 empty (ISO 2022 IR 6), value 2 ISO 2022 IR 87.</summary>
    private static readonly byte[] ExampleH31 = ColumnRow(
        "05/09 06/01 06/13 06/01 06/04 06/01 05/14 05/04 06/01 07/02 06/15 07/05 03/13 01/11 02/04 04/02 03/11 03/03 "
        + "04/05 04/04 01/11 02/08 04/02 05/14 01/11 02/04 04/02 04/02 04/00 04/15 03/10 01/11 02/08 04/02 03/13 01/11 "
        + "02/04 04/02 02/04 06/04 02/04 05/14 02/04 04/00 01/11 02/08 04/02 05/14 01/11 02/04 04/02 02/04 03/15 02/04 "
        + "06/13 02/04 02/06 01/11 02/08 04/02");

    /// <summary>PS3.5 Example H.3-2: ISO 2022 IR 13\ISO 2022 IR 87 (half-width katakana in G1, JIS X 0201 Romaji in G0).</summary>
    private static readonly byte[] ExampleH32 = ColumnRow(
        "13/04 12/15 12/00 13/14 05/14 12/00 13/11 11/03 03/13 01/11 02/04 04/02 03/11 03/03 04/05 04/04 01/11 02/08 "
        + "04/10 05/14 01/11 02/04 04/02 04/02 04/00 04/15 03/10 01/11 02/08 04/10 03/13 01/11 02/04 04/02 02/04 06/04 "
        + "02/04 05/14 02/04 04/00 01/11 02/08 04/10 05/14 01/11 02/04 04/02 02/04 03/15 02/04 06/13 02/04 02/06 01/11 "
        + "02/08 04/10");

    [Fact]
    public void AnnexH31_Japanese_IsoIr87_DecodesAndEncodesByteExact()
    {
        var set = Set("", "ISO 2022 IR 87");

        Assert.True(set.UsesCodeExtensions);
        Assert.Equal(YamadaTarou, set.Decode(ExampleH31, DicomVR.PN));
        Assert.Equal(ExampleH31, set.Encode(YamadaTarou, DicomVR.PN));
    }

    [Fact]
    public void AnnexH32_Japanese_IsoIr13AndIr87_DecodesAndEncodesByteExact()
    {
        const string text = "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう";
        var set = Set("ISO 2022 IR 13", "ISO 2022 IR 87");

        Assert.Equal(text, set.Decode(ExampleH32, DicomVR.PN));
        Assert.Equal(ExampleH32, set.Encode(text, DicomVR.PN));
    }

    [Fact]
    public void AnnexH32_ReturningToAsciiInsteadOfRomaji_StillDecodes()
    {
        // As written by the sample file in the corpus (charset_sq_own_charset.dcm): ESC ( B instead of ESC ( J.
        var bytes = Hex("D4CFC0DE5EC0DBB33D1B24423B3345441B28425E1B244242404F3A1B28423D1B24422464245E24401B28425E1B2442243F246D24261B2842");

        Assert.Equal("ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう", Set("ISO 2022 IR 13", "ISO 2022 IR 87").Decode(bytes, DicomVR.PN));
    }

    [Fact]
    public void Japanese_MultiValuedPersonName_AndLongText_FromCorpusBytes()
    {
        // charset_iso2022_ir87_multi.dcm: (0010,1001) with two values and padding, (0010,21B0) LT.
        var set = Set("", "ISO 2022 IR 87");
        var names = Hex("1B24422464245E24401B28425E1B2442243F246D24261B28425C1B24422464245E24401B28425E1B2442243F246D24261B284220");
        var text = Hex("1B2442243F246D24261B2842");

        Assert.Equal("やまだ^たろう\\やまだ^たろう ", set.Decode(names, DicomVR.PN));
        Assert.Equal("たろう", set.Decode(text, DicomVR.LT));
    }

    [Fact]
    public void Japanese_DelimiterBytesInsideKanji_AreNotDelimiters()
    {
        // ま is 24/5E in JIS X 0208: the 0x5E must not end the component.
        var set = Set("", "ISO 2022 IR 87");

        Assert.Equal("ま^ま", set.Decode(Hex("1B2442245E1B28425E1B2442245E1B2842"), DicomVR.PN));
        Assert.Equal(Hex("1B2442245E1B28425E1B2442245E1B2842"), set.Encode("ま^ま", DicomVR.PN));
    }

    [Fact]
    public void Japanese_LongString_ReturnsToAsciiForSpacesCaretsAndValueDelimiters()
    {
        var set = Set("", "ISO 2022 IR 87");
        const string text = "山^田 x\\太郎";
        var expected = Hex("1B2442 3B33 1B2842 5E 1B2442 4544 1B2842 20 78 5C 1B2442 4240 4F3A 1B2842");

        var bytes = set.Encode(text, DicomVR.LO);

        Assert.Equal(expected, bytes);
        Assert.Equal(text, set.Decode(bytes, DicomVR.LO));
    }

    [Fact]
    public void Japanese_SupplementaryKanji_IsoIr159_RoundTrips()
    {
        // 丂 (U+4E02) is JIS X 0212 0x3021 and not in JIS X 0208; expected bytes as written by Python's iso2022_jp_2.
        var set = Set("", "ISO 2022 IR 87", "ISO 2022 IR 159");
        var expected = Hex("1B24423B33 1B24284430 21 1B2842");

        Assert.Equal(expected, set.Encode("山丂", DicomVR.LO));
        Assert.Equal("山丂", set.Decode(expected, DicomVR.LO));
        Assert.Equal("亜丂", set.Decode(Hex("1B2442 3021 1B242844 3021 1B2842"), DicomVR.LO));
    }

    [Fact]
    public void JisX0201_SingleByte_KatakanaAndRomaji()
    {
        var set = Set("ISO_IR 13");

        Assert.False(set.UsesCodeExtensions);
        Assert.Equal("ｱｲｳ a‾b\\c", set.Decode(Hex("B1B2B3 20 617E62 5C 63"), DicomVR.LO));
        Assert.Equal(Hex("B1B2B3 20 617E62 5C 63"), set.Encode("ｱｲｳ a‾b\\c", DicomVR.LO));
        Assert.Throws<DicomCharacterSetException>(() => set.Encode("a~b", DicomVR.LO));
    }

    // ---- PS3.5 Annex I: Korean --------------------------------------------------------------------------------------

    /// <summary>PS3.5 Example I.2-1: \ISO 2022 IR 149, KS X 1001 in G1 designated again in each component.</summary>
    private static readonly byte[] ExampleI2 = ColumnRow(
        "04/08 06/15 06/14 06/07 05/14 04/07 06/09 06/12 06/04 06/15 06/14 06/07 03/13 01/11 02/04 02/09 04/03 15/11 "
        + "15/03 05/14 01/11 02/04 02/09 04/03 13/01 12/14 13/04 13/07 03/13 01/11 02/04 02/09 04/03 12/08 10/11 05/14 "
        + "01/11 02/04 02/09 04/03 11/01 14/06 11/05 11/15");

    [Fact]
    public void AnnexI2_Korean_IsoIr149_DecodesAndEncodesByteExact()
    {
        const string text = "Hong^Gildong=洪^吉洞=홍^길동";
        var set = Set("", "ISO 2022 IR 149");

        Assert.Equal(text, set.Decode(ExampleI2, DicomVR.PN));
        Assert.Equal(ExampleI2, set.Encode(text, DicomVR.PN));
    }

    [Fact]
    public void AnnexI3_Korean_LongText_EscapeAtStartOfEachLine()
    {
        // PS3.5 Example I.3-1: the escape sequence heads each line; ASCII and Hangul then mix freely.
        const string text = "The first line includes 한글.\r\nThe second line includes 한글, too.\r\nThe third line";
        var bytes = Hex(
            "1B242943" + Convert.ToHexString("The first line includes "u8) + "C7D1B1DB" + Convert.ToHexString(".\r\n"u8)
            + "1B242943" + Convert.ToHexString("The second line includes "u8) + "C7D1B1DB" + Convert.ToHexString(", too.\r\nThe third line"u8));
        var set = Set("", "ISO 2022 IR 149");

        Assert.Equal(text, set.Decode(bytes, DicomVR.LT));
        Assert.Equal(text, set.Decode(set.Encode(text, DicomVR.LT), DicomVR.LT));
    }

    // ---- PS3.5 Annex J: UTF-8, GB18030, GBK ------------------------------------------------------------------------

    [Fact]
    public void AnnexJ1_Utf8_PersonName()
    {
        const string text = "Wang^XiaoDong=王^小東=";
        var bytes = Hex("57616E675E5869616F446F6E673D E78E8B5E E5B08F E69DB1 3D");

        Assert.Equal(text, DicomCharacterSet.Utf8.Decode(bytes, DicomVR.PN));
        Assert.Equal(bytes, DicomCharacterSet.Utf8.Encode(text, DicomVR.PN));
        Assert.Same(DicomCharacterSet.Utf8, Set("ISO_IR 192"));
    }

    [Fact]
    public void AnnexJ2_Utf8_LongText()
    {
        const string text = "The first line includes中文.\r\nThe second line includes中文, too.\r\nThe third line.\r\n";
        var bytes = Hex(
            "54686520666972737420 6c696e6520696e636c75646573 e4b8ad e69687 2e0d0a"
            + "546865207365636f6e64206c696e6520696e636c75646573 e4b8ad e69687 2c20746f6f2e0d0a"
            + "546865207468697264206c696e652e0d0a");

        Assert.Equal(text, DicomCharacterSet.Utf8.Decode(bytes, DicomVR.LT));
        Assert.Equal(bytes, DicomCharacterSet.Utf8.Encode(text, DicomVR.LT));
    }

    [Theory]
    [InlineData("GB18030")]
    [InlineData("GBK")]
    public void AnnexJ3_Gb18030AndGbk_PersonName(string term)
    {
        // PS3.5 Example J.3-1 (also valid GBK: the characters lie in the area the two share).
        const string text = "Wang^XiaoDong=王^小东=";
        var bytes = Hex("57616e675e5869616f446f6e673d cdf5 5e d0a1 b6ab 3d");
        var set = Set(term);

        Assert.False(set.UsesCodeExtensions);
        Assert.Equal(text, set.Decode(bytes, DicomVR.PN));
        Assert.Equal(bytes, set.Encode(text, DicomVR.PN));
    }

    [Fact]
    public void AnnexJ4_Gb18030_LongText()
    {
        const string text = "The first line includes中文.\r\nThe second line includes中文, too.\r\nThe third line.\r\n";
        var bytes = Hex(
            "546865206669727374206c696e6520696e636c75646573 d6d0cec4 2e0d0a"
            + "546865207365636f6e64206c696e6520696e636c75646573 d6d0cec4 2c20746f6f2e0d0a"
            + "546865207468697264206c696e652e0d0a");
        var set = Set("GB18030");

        Assert.Equal(text, set.Decode(bytes, DicomVR.LT));
        Assert.Equal(bytes, set.Encode(text, DicomVR.LT));
        Assert.Equal("𠀀", set.Decode(set.Encode("𠀀", DicomVR.LT), DicomVR.LT));   // four-byte GB18030, beyond the BMP
    }

    [Theory]
    [InlineData("GB18030")]
    [InlineData("GBK")]
    public void Gb18030AndGbk_RandomText_RoundTrips(string term)
    {
        var set = Set(term);
        var random = new Random(18030);
        var text = new System.Text.StringBuilder();
        for (int n = 0; n < 50; n++)
        {
            text.Clear();
            for (int i = 0; i < 40; i++)
            {
                switch (random.Next(term == "GBK" ? 2 : 4))
                {
                    case 0: text.Append((char)random.Next(0x20, 0x7F)); break;
                    case 1: text.Append((char)random.Next(0x4E00, 0x9FA6)); break;
                    case 2: text.Append((char)random.Next(0xAC00, 0xD7A4)); break;   // Hangul: four-byte GB18030
                    default: text.Append(char.ConvertFromUtf32(random.Next(0x1F600, 0x1F650))); break;
                }
            }

            var value = text.ToString();
            Assert.Equal(value, set.Decode(set.Encode(value, DicomVR.LT), DicomVR.LT));
        }
    }

    [Fact]
    public void Gb18030_InvalidSequences_DecodeToReplacementCharacters()
    {
        var set = Set("GB18030");

        Assert.Equal("A\uFFFD", set.Decode(Hex("41 81"), DicomVR.LO));          // truncated
        Assert.Equal("\uFFFD A", set.Decode(Hex("81 20 41"), DicomVR.LO));       // lead byte without trail byte
        Assert.Equal("\uFFFD\u007F", set.Decode(Hex("81 7F"), DicomVR.LO));
        Assert.Equal("\uFFFD", set.Decode(Hex("FF"), DicomVR.LO));
    }

    // ---- PS3.5 Annex K: GB 2312 with code extensions --------------------------------------------------------------

    [Fact]
    public void AnnexK2_Chinese_IsoIr58_PersonName()
    {
        const string text = "Zhang^XiaoDong=张^小东=";
        var bytes = Hex("5A68616E675E5869616F446F6E673D 1B242941D5C5 5E 1B242941D0A1B6AB 3D");
        var set = Set("", "ISO 2022 IR 58");

        Assert.Equal(text + " ", set.Decode([.. bytes, 0x20], DicomVR.PN));   // as printed in the standard, with its padding
        Assert.Equal(bytes, set.Encode(text, DicomVR.PN));
    }

    [Fact]
    public void AnnexK3_Chinese_IsoIr58_LongText()
    {
        const string text = "1.第一行文字。\r\n2.第二行文字。\r\n3.第三行文字。\r\n";
        var bytes = Hex(
            "312E1B242941B5DAD2BBD0D0CEC4D7D6A1A30D0A"
            + "322E1B242941B5DAB6FED0D0CEC4D7D6A1A30D0A"
            + "332E1B242941B5DAC8FDD0D0CEC4D7D6A1A30D0A");
        var set = Set("", "ISO 2022 IR 58");

        Assert.Equal(text, set.Decode(bytes, DicomVR.LT));
        Assert.Equal(bytes, set.Encode(text, DicomVR.LT));
    }

    // ---- single-byte character sets ---------------------------------------------------------------------------------

    [Theory]
    [InlineData("ISO_IR 100", "Buc^Jérôme", "4275635E4AE972F46D65")]
    [InlineData("ISO_IR 101", "Łukasz^Żółć", "A3756B61737A5EAFF3B3E6")]
    [InlineData("ISO_IR 109", "Ġużeppi^Ħal", "D575BF657070695EA1616C")]
    [InlineData("ISO_IR 110", "Ķēniņš", "D3BA6E69F1B9")]
    [InlineData("ISO_IR 144", "Люксембург", "BBEEDAE1D5DCD1E3E0D3")]
    [InlineData("ISO_IR 127", "قباني^لنزار", "E2C8C7E6EA5EE4E6D2C7D1")]
    [InlineData("ISO_IR 126", "Διονυσιος", "C4E9EFEDF5F3E9EFF2")]
    [InlineData("ISO_IR 138", "שרון^דבורה", "F9F8E5EF5EE3E1E5F8E4")]
    [InlineData("ISO_IR 148", "Şükrü^Çağlar", "DEFC6B72FC5EC761F06C6172")]
    [InlineData("ISO_IR 203", "Œuvre €", "BC75767265 20A4")]
    [InlineData("ISO_IR 166", "นายสมชาย", "B9D2C2CAC1AAD2C2")]
    public void SingleByteCharacterSets_RoundTripByteExact(string term, string text, string hex)
    {
        var set = Set(term);
        var bytes = Hex(hex);

        Assert.False(set.UsesCodeExtensions);
        Assert.Equal(text, set.Decode(bytes, DicomVR.PN));
        Assert.Equal(bytes, set.Encode(text, DicomVR.PN));
    }

    [Fact]
    public void Arabic_FromCorpusBytes_WithPadding()
    {
        // charset_arabic.dcm (0010,0010); the DCMTK oracle reads "قباني^لنزار".
        Assert.Equal("قباني^لنزار ", Set("ISO_IR 127").Decode(Hex("E2C8C7E6EA5EE4E6D2C7D120"), DicomVR.PN));
    }

    [Theory]
    [InlineData("ISO 2022 IR 100", "Buc^Jérôme", "4275635E4AE972F46D65")]
    [InlineData("ISO 2022 IR 144", "Люксембург", "BBEEDAE1D5DCD1E3E0D3")]
    public void SingleByteCodeExtensionTerm_AsOnlyValue_NeedsNoEscapes(string term, string text, string hex)
    {
        var set = Set(term);

        Assert.True(set.UsesCodeExtensions);
        Assert.Equal(Hex(hex), set.Encode(text, DicomVR.PN));
        Assert.Equal(text, set.Decode(Hex(hex), DicomVR.PN));
    }

    [Fact]
    public void SeveralSingleByteSets_SwitchG1AndReturnToTheInitialSet()
    {
        var set = Set("ISO 2022 IR 100", "ISO 2022 IR 126");
        const string text = "Müller^Δημ=é";
        var expected = Hex("4DFC6C6C6572 5E 1B2D46 C4E7EC 1B2D41 3D E9");

        Assert.Equal(expected, set.Encode(text, DicomVR.PN));
        Assert.Equal(text, set.Decode(expected, DicomVR.PN));
    }

    [Fact]
    public void BackslashResetsTheSetsInMultiValuedVRsOnly()
    {
        var set = Set("", "ISO 2022 IR 126");
        var bytes = Hex("1B2D46 C4 5C C4");

        Assert.Equal("Δ\\Δ", set.Decode(bytes, DicomVR.LT));      // LT has one value: '\' is text
        Assert.Equal("Δ\\\uFFFD", set.Decode(bytes, DicomVR.LO)); // LO: G1 is undesignated after the delimiter
        Assert.Equal(Hex("1B2D46 C4 5C 1B2D46 C4"), set.Encode("Δ\\Δ", DicomVR.LO));
        Assert.Equal(bytes, set.Encode("Δ\\Δ", DicomVR.LT));
    }

    [Fact]
    public void Default_DecodesHighBytesAsLatin1_AndEncodesAsciiOnly()
    {
        var set = DicomCharacterSet.Default;

        Assert.True(set.IsDefault);
        Assert.Empty(set.Terms);
        Assert.Equal("Jérôme", set.Decode(Hex("4AE972F46D65"), DicomVR.PN));
        Assert.Equal("ABC^DEF"u8.ToArray(), set.Encode("ABC^DEF", DicomVR.PN));
        var error = Assert.Throws<DicomCharacterSetException>(() => set.Encode("Jérôme", DicomVR.PN));
        Assert.Contains("U+00E9", error.Message, StringComparison.Ordinal);
        Assert.Same(DicomCharacterSet.Default, Set(""));
        Assert.Same(DicomCharacterSet.Default, Set());
    }

    [Fact]
    public void VRsOutsideTheSpecificCharacterSet_UseTheDefaultRepertoire()
    {
        var set = Set("", "ISO 2022 IR 87");

        Assert.Equal("ORIGINAL\\PRIMARY", set.Decode("ORIGINAL\\PRIMARY"u8, DicomVR.CS));
        Assert.Equal("é", set.Decode([0xE9], DicomVR.CS));
        Assert.Throws<DicomCharacterSetException>(() => DicomCharacterSet.Utf8.Encode("é", DicomVR.CS));
        Assert.Equal("é", DicomCharacterSet.Utf8.Decode("é"u8, DicomVR.LO));
    }

    // ---- errors and malformed input ---------------------------------------------------------------------------------

    [Fact]
    public void UnknownTerm_Throws_AndTryReportsTheError()
    {
        var thrown = Assert.Throws<DicomCharacterSetException>(() => Set("ISO_IR 999"));
        Assert.IsAssignableFrom<DicomFormatException>(thrown);
        Assert.Contains("ISO_IR 999", thrown.Message, StringComparison.Ordinal);

        Assert.False(DicomCharacterSet.TryFromTerms(["", "ISO 2022 IR 999"], out var set, out var error));
        Assert.Same(DicomCharacterSet.Default, set);
        Assert.Contains("ISO 2022 IR 999", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ISO_IR 192", "ISO 2022 IR 100")]
    [InlineData("ISO_IR 100", "ISO 2022 IR 87")]
    [InlineData("GB18030", "")]
    [InlineData("ISO 2022 IR 100", "")]
    public void InvalidCombinations_AreRejected(string first, string second)
    {
        Assert.False(DicomCharacterSet.TryFromTerms([first, second], out _, out var error));
        Assert.NotNull(error);
    }

    [Theory]
    [InlineData("ISO_IR_192", "ISO_IR 192")]
    [InlineData("ISO-IR 192", "ISO_IR 192")]
    [InlineData("UTF-8", "ISO_IR 192")]
    [InlineData("utf8", "ISO_IR 192")]
    [InlineData("ISO-IR 100", "ISO_IR 100")]
    [InlineData("ISO IR 100", "ISO_IR 100")]
    [InlineData("ISO_IR100", "ISO_IR 100")]
    [InlineData("ISO 2022 IR 100", "ISO 2022 IR 100")]
    [InlineData("ISO_2022_IR_100", "ISO 2022 IR 100")]
    [InlineData("ISO-8859-1", "ISO_IR 100")]
    [InlineData("ISO8859-5", "ISO_IR 144")]
    [InlineData("gb18030", "GB18030")]
    [InlineData("ISO_IR 149", "ISO 2022 IR 149")]
    public void Lenient_CorrectsCommonMisspellings(string given, string term)
    {
        var set = DicomCharacterSet.FromTermsLenient([given], out var warning);

        Assert.Equal([term], set.Terms);
        Assert.Equal(given == term, warning == null);
    }

    [Fact]
    public void Lenient_SeveralValues_UseCodeExtensionTermsAndDropUnknownOnes()
    {
        var set = DicomCharacterSet.FromTermsLenient(["ISO_IR 100", "ISO 2022 IR 87", "KLINGON"], out var warning);
        Assert.Equal(["ISO 2022 IR 100", "ISO 2022 IR 87"], set.Terms);
        Assert.Contains("KLINGON", warning, StringComparison.Ordinal);

        Assert.Same(DicomCharacterSet.Default, DicomCharacterSet.FromTermsLenient(["KLINGON"], out warning));
        Assert.NotNull(warning);
        Assert.Same(DicomCharacterSet.Utf8, DicomCharacterSet.FromTermsLenient(["ISO_IR 192", "ISO_IR 100"]));
        Assert.Equal(["", "ISO 2022 IR 87"], DicomCharacterSet.FromTermsLenient(["\\ISO 2022 IR 87"]).Terms);
        Assert.Equal(["ISO_IR 100"], DicomCharacterSet.FromTermsLenient(["ISO_IR 100", ""]).Terms);
        Assert.Equal(["", "ISO 2022 IR 149"], DicomCharacterSet.FromTermsLenient(["", "ISO_IR 149"]).Terms);
    }

    [Fact]
    public void UnrepresentableCharacter_ThrowsNamingIt()
    {
        var korean = Set("", "ISO 2022 IR 149");
        var error = Assert.Throws<DicomCharacterSetException>(() => korean.Encode("Hong^😀", DicomVR.PN));
        Assert.Contains("U+1F600", error.Message, StringComparison.Ordinal);

        Assert.Throws<DicomCharacterSetException>(() => Set("ISO_IR 100").Encode("Δ", DicomVR.LO));
        Assert.Throws<DicomCharacterSetException>(() => Set("GBK").Encode("😀", DicomVR.LO));
        Assert.Throws<DicomCharacterSetException>(() => DicomCharacterSet.Utf8.Encode("\uD800", DicomVR.LO));
        Assert.Throws<DicomCharacterSetException>(() => Set("", "ISO 2022 IR 87").Encode("a\u001Bb", DicomVR.LO));
        Assert.False(Set("ISO_IR 144").TryEncode("Ω", DicomVR.LO, out _));
        Assert.True(Set("ISO_IR 144").TryEncode("Ж", DicomVR.LO, out var bytes));
        Assert.Equal([0xB6], bytes);
    }

    [Fact]
    public void InvalidBytes_DecodeToReplacementCharacters()
    {
        Assert.Equal("a\uFFFDb", DicomCharacterSet.Utf8.Decode([0x61, 0xFF, 0x62], DicomVR.LO));
        var japanese = Set("", "ISO 2022 IR 87");
        Assert.Equal("山\uFFFD", japanese.Decode(Hex("1B24423B3345"), DicomVR.LO));    // truncated pair
        Assert.Equal("\uFFFDA", japanese.Decode(Hex("1B2A5A41"), DicomVR.LO));        // unknown escape sequence
        Assert.Equal("\uFFFD", japanese.Decode(Hex("1B24"), DicomVR.LO));             // truncated escape sequence
        Assert.Equal("A\uFFFD", japanese.Decode(Hex("41E9"), DicomVR.LO));            // no G1 set designated
        Assert.Equal("\uFFFD", Set("", "ISO 2022 IR 149").Decode(Hex("1B242943FB"), DicomVR.LO));
        Assert.Equal("\uFFFDA", Set("ISO_IR 13").Decode(Hex("E041"), DicomVR.LO));
    }

    [Fact]
    public void RandomBytes_NeverThrow()
    {
        string[][] sets =
        [
            [], ["ISO_IR 100"], ["ISO_IR 13"], ["ISO_IR 192"], ["GB18030"], ["GBK"], ["ISO_IR 127"], ["ISO_IR 166"],
            ["", "ISO 2022 IR 87"], ["ISO 2022 IR 13", "ISO 2022 IR 87", "ISO 2022 IR 159"], ["", "ISO 2022 IR 149"],
            ["", "ISO 2022 IR 58"], ["ISO 2022 IR 100", "ISO 2022 IR 126", "ISO 2022 IR 144"],
        ];
        var random = new Random(20261122);
        var buffer = new byte[64];
        foreach (var terms in sets)
        {
            var set = Set(terms);
            for (int i = 0; i < 300; i++)
            {
                random.NextBytes(buffer);
                for (int j = 0; j < buffer.Length; j += 5)
                {
                    if (random.Next(3) == 0)
                    {
                        buffer[j] = 0x1B;   // plenty of escape sequences, well-formed or not
                    }
                }

                var length = random.Next(buffer.Length + 1);
                Assert.NotNull(set.Decode(buffer.AsSpan(0, length), DicomVR.PN));
                Assert.NotNull(set.Decode(buffer.AsSpan(0, length), DicomVR.LT));
            }
        }
    }

    [Fact]
    public void LongValues_UsePooledBuffers()
    {
        var set = Set("", "ISO 2022 IR 87");
        var text = string.Concat(Enumerable.Repeat("山田 Taro\\", 200));

        var bytes = set.Encode(text, DicomVR.LO);

        Assert.Equal(text, set.Decode(bytes, DicomVR.LO));
    }

    [Fact]
    public void FromTerms_AcceptsTheWholeValueAsOneString()
    {
        Assert.Same(Set("", "ISO 2022 IR 87"), Set("\\ISO 2022 IR 87"));
        Assert.Equal(["ISO 2022 IR 13", "ISO 2022 IR 87"], Set("ISO 2022 IR 13\\ISO 2022 IR 87 ").Terms);
    }

    [Fact]
    public void FromTerms_CachesInstances()
    {
        Assert.Same(Set("ISO_IR 100"), Set(" ISO_IR 100 "));
        Assert.Same(Set("", "ISO 2022 IR 87"), Set("", "ISO 2022 IR 87"));
        Assert.Equal("\\ISO 2022 IR 87", Set("", "ISO 2022 IR 87").ToString());
    }

    [Fact]
    public void DeclareUtf8IfNeeded_declares_in_the_outermost_data_set_only_for_text_beyond_ascii_and_no_declared_set()
    {
        var root = new DicomDataset();
        var item = new DicomDataset();
        root.Add(new DicomSequence(DicomTag.RequestAttributesSequence, item));

        item.DeclareUtf8IfNeeded("STEP-1");
        Assert.False(root.Contains(DicomTag.SpecificCharacterSet));

        item.DeclareUtf8IfNeeded("Étape-1");
        item.AddOrUpdate(DicomTag.ScheduledProcedureStepID, "Étape-1");
        Assert.Equal("ISO_IR 192", root.GetString(DicomTag.SpecificCharacterSet));
        Assert.False(item.Contains(DicomTag.SpecificCharacterSet));
        Assert.Equal("Étape-1"u8.ToArray(), ((DicomValueElement)item.Find(DicomTag.ScheduledProcedureStepID)!).Span.ToArray());

        var latin1 = new DicomDataset().AddOrUpdate(DicomTag.SpecificCharacterSet, "ISO_IR 100");
        latin1.DeclareUtf8IfNeeded("Jérôme");
        Assert.Equal("ISO_IR 100", latin1.GetString(DicomTag.SpecificCharacterSet));
    }
}
