using System.Globalization;
using System.Reflection;

namespace Hounsfield.Dicom.Tests;

public sealed class DictionaryTests
{
    [Fact]
    public void PatientName_IsFoundByTagAndKeyword()
    {
        var entry = DicomDictionary.Find(new DicomTag(0x0010, 0x0010));

        Assert.NotNull(entry);
        Assert.Equal(new DicomTag(0x0010, 0x0010), entry.Tag);
        Assert.Equal(new[] { DicomVR.PN }, entry.ValueRepresentations);
        Assert.Equal(DicomVR.PN, entry.DefaultVR);
        Assert.Equal("1", entry.ValueMultiplicity);
        Assert.Equal("PatientName", entry.Keyword);
        Assert.Equal("Patient's Name", entry.Name);
        Assert.False(entry.IsRetired);
        Assert.False(entry.IsMask);
        Assert.Same(entry, DicomDictionary.FindByKeyword("PatientName"));
    }

    [Fact]
    public void FindByKeyword_IsCaseSensitive()
    {
        Assert.Null(DicomDictionary.FindByKeyword("patientname"));
        Assert.Null(DicomDictionary.FindByKeyword("PATIENTNAME"));
        Assert.Null(DicomDictionary.FindByKeyword(""));
        Assert.Null(DicomDictionary.FindByKeyword("NoSuchKeyword"));
    }

    [Fact]
    public void GeneratedTagProperties_HoldTheirTags()
    {
        Assert.Equal(new DicomTag(0x0010, 0x0010), DicomTag.PatientName);
        Assert.Equal(new DicomTag(0x0008, 0x0018), DicomTag.SOPInstanceUID);
        Assert.Equal(new DicomTag(0x0002, 0x0010), DicomTag.TransferSyntaxUID);
        Assert.Equal(new DicomTag(0x7FE0, 0x0010), DicomTag.PixelData);
        Assert.Equal(new DicomTag(0x0000, 0x0001), DicomTag.CommandLengthToEnd); // retired ones too
        Assert.Equal(DicomTag.PatientName, DicomTag.Parse("PatientName"));
        Assert.False(DicomTag.TryParse("OverlayData", out _)); // a mask is no single tag
    }

    [Fact]
    public void GeneratedTagProperties_MatchTheDictionary()
    {
        // Generated keywords are properties; Item and the delimiters are hand-written fields.
        var fields = typeof(DicomTag).GetProperties(BindingFlags.Public | BindingFlags.Static)
            .Where(p => p.PropertyType == typeof(DicomTag))
            .Select(p => (p.Name, Tag: (DicomTag)p.GetValue(null)!))
            .Concat(typeof(DicomTag).GetFields(BindingFlags.Public | BindingFlags.Static)
                .Where(f => f.FieldType == typeof(DicomTag))
                .Select(f => (f.Name, Tag: (DicomTag)f.GetValue(null)!)))
            .ToDictionary(x => x.Name, x => x.Tag);

        var expected = DicomDictionary.Entries.Where(e => !e.IsMask && e.Keyword.Length > 0).ToList();
        foreach (var entry in expected)
        {
            Assert.True(fields.TryGetValue(entry.Keyword, out var tag), $"no DicomTag.{entry.Keyword}");
            Assert.Equal(entry.Tag, tag);
        }

        Assert.True(expected.Count > 5000, $"{expected.Count} keywords");
    }

    [Fact]
    public void PixelData_IsObOrOw()
    {
        var entry = DicomDictionary.Find(new DicomTag(0x7FE0, 0x0010));

        Assert.NotNull(entry);
        Assert.Equal("PixelData", entry.Keyword);
        Assert.Equal(new[] { DicomVR.OB, DicomVR.OW }, entry.ValueRepresentations);
        Assert.Equal(DicomVR.OB, entry.DefaultVR);
        Assert.True(entry.HasAmbiguousVR);
        Assert.False(entry.IsMask);
    }

    [Theory]
    [InlineData(0x00281101u, "RedPaletteColorLookupTableDescriptor", "US/SS", "3", false)]
    [InlineData(0x00281201u, "RedPaletteColorLookupTableData", "OW", "1", false)]
    [InlineData(0x00281200u, "GrayLookupTableData", "US/SS/OW", "1-n", true)]
    [InlineData(0x00283006u, "LUTData", "US/OW", "1-n", false)]
    [InlineData(0x00720082u, "SelectorSVValue", "SV", "1-n", false)]
    [InlineData(0x00200032u, "ImagePositionPatient", "DS", "3", false)]
    public void AmbiguousAndPlainVRs_AreKeptInPs36Order(uint tag, string keyword, string vrs, string vm, bool retired)
    {
        var entry = DicomDictionary.Find(new DicomTag(tag));

        Assert.NotNull(entry);
        Assert.Equal(keyword, entry.Keyword);
        Assert.Equal(vrs, string.Join('/', entry.ValueRepresentations.Select(v => v.ToCode())));
        Assert.Equal(vm, entry.ValueMultiplicity);
        Assert.Equal(retired, entry.IsRetired);
    }

    [Theory]
    [InlineData(0xFFFEE000u, "Item")]
    [InlineData(0xFFFEE00Du, "ItemDelimitationItem")]
    [InlineData(0xFFFEE0DDu, "SequenceDelimitationItem")]
    public void ItemsAndDelimiters_HaveNoVR(uint tag, string keyword)
    {
        var entry = DicomDictionary.Find(new DicomTag(tag));

        Assert.NotNull(entry);
        Assert.Equal(keyword, entry.Keyword);
        Assert.Empty(entry.ValueRepresentations);
        Assert.Equal(DicomVR.None, entry.DefaultVR);
        Assert.Equal(DicomVR.None, DicomDictionary.GetDefaultVR(new DicomTag(tag)));
    }

    [Theory]
    [InlineData(0x60023000u, "OverlayData", 0x60003000u, 0xFF00FFFFu, "OB/OW", false)]
    [InlineData(0x60003000u, "OverlayData", 0x60003000u, 0xFF00FFFFu, "OB/OW", false)]
    [InlineData(0x601E0010u, "OverlayRows", 0x60000010u, 0xFF00FFFFu, "US", false)]
    [InlineData(0x60000050u, "OverlayOrigin", 0x60000050u, 0xFF00FFFFu, "SS", false)]
    [InlineData(0x50040010u, "NumberOfPoints", 0x50000010u, 0xFF00FFFFu, "US", true)]
    [InlineData(0x501E3000u, "CurveData", 0x50003000u, 0xFF00FFFFu, "OB/OW", true)]
    [InlineData(0x7F020010u, "VariablePixelData", 0x7F000010u, 0xFF00FFFFu, "OB/OW", true)]
    [InlineData(0x00203105u, "SourceImageIDs", 0x00203100u, 0xFFFFFF00u, "CS", true)]
    [InlineData(0x002031FFu, "SourceImageIDs", 0x00203100u, 0xFFFFFF00u, "CS", true)]
    [InlineData(0x00280420u, "RowsForNthOrderCoefficients", 0x00280400u, 0xFFFFFF0Fu, "US", true)]
    [InlineData(0x002804F3u, "CoefficientCodingPointers", 0x00280403u, 0xFFFFFF0Fu, "AT", true)]
    [InlineData(0x00280818u, "ImageDataLocation", 0x00280808u, 0xFFFFFF0Fu, "AT", true)]
    [InlineData(0x10000123u, "HuffmanTableTriplet", 0x10000003u, 0xFFFF000Fu, "US", true)]
    [InlineData(0x10100004u, "ZonalMap", 0x10100000u, 0xFFFF0000u, "US", true)]
    public void RepeatingGroupsAndElements_MatchTheirMask(uint tag, string keyword, uint maskTag, uint mask, string vrs, bool retired)
    {
        var entry = DicomDictionary.Find(new DicomTag(tag));

        Assert.NotNull(entry);
        Assert.Equal(keyword, entry.Keyword);
        Assert.True(entry.IsMask);
        Assert.Equal(new DicomTag(maskTag), entry.Tag);
        Assert.Equal(mask, entry.Mask);
        Assert.True(entry.Matches(new DicomTag(tag)));
        Assert.Equal(vrs, string.Join('/', entry.ValueRepresentations.Select(v => v.ToCode())));
        Assert.Equal(retired, entry.IsRetired);
        Assert.Same(entry, DicomDictionary.FindByKeyword(keyword));
    }

    [Fact]
    public void ExactEntries_WinOverMasks()
    {
        Assert.Equal("TransformLabel", DicomDictionary.Find(new DicomTag(0x0028, 0x0400))?.Keyword); // not (0028,04x0)
        Assert.Equal("(0028,04x0) US 1 RowsForNthOrderCoefficients", DicomDictionary.FindByKeyword("RowsForNthOrderCoefficients")?.ToString());
        Assert.Equal("(7FE0,0010) OB/OW 1 PixelData", DicomDictionary.Find(DicomTag.PixelData)?.ToString());
        Assert.Equal("PixelData", DicomDictionary.Find(new DicomTag(0x7FE0, 0x0010))?.Keyword); // not (7Fxx,0010)
        Assert.Equal("GenericGroupLength", DicomDictionary.Find(new DicomTag(0x1010, 0x0000))?.Keyword); // not (1010,xxxx)
        Assert.Equal("GenericGroupLength", DicomDictionary.Find(new DicomTag(0x6000, 0x0000))?.Keyword);
    }

    [Fact]
    public void OddRepeatingGroups_AreNotOverlaysOrCurves()
    {
        Assert.Null(DicomDictionary.Find(new DicomTag(0x6001, 0x3000)));
        Assert.Null(DicomDictionary.Find(new DicomTag(0x5003, 0x3000)));
        Assert.Equal(DicomVR.UN, DicomDictionary.GetDefaultVR(new DicomTag(0x6001, 0x3000)));
        Assert.Equal("PrivateCreator", DicomDictionary.Find(new DicomTag(0x6001, 0x0010))?.Keyword);
    }

    [Theory]
    [InlineData(0x00080000u)]
    [InlineData(0x00100000u)]
    [InlineData(0x00090000u)]
    [InlineData(0x7FE00000u)]
    public void GroupLength_IsUL(uint tag)
    {
        var entry = DicomDictionary.Find(new DicomTag(tag));

        Assert.NotNull(entry);
        Assert.Equal("GenericGroupLength", entry.Keyword);
        Assert.Equal(new[] { DicomVR.UL }, entry.ValueRepresentations);
        Assert.Equal("1", entry.ValueMultiplicity);
        Assert.True(entry.Matches(new DicomTag(tag)));
        Assert.Equal(DicomVR.UL, DicomDictionary.GetDefaultVR(new DicomTag(tag)));
    }

    [Fact]
    public void DefinedGroupLengths_KeepTheirOwnEntries()
    {
        Assert.Equal("CommandGroupLength", DicomDictionary.Find(new DicomTag(0x0000, 0x0000))?.Keyword);
        Assert.Equal("FileMetaInformationGroupLength", DicomDictionary.Find(new DicomTag(0x0002, 0x0000))?.Keyword);
        Assert.Null(DicomDictionary.FindByKeyword("GenericGroupLength"));
    }

    [Theory]
    [InlineData(0x00090010u)]
    [InlineData(0x002900FFu)]
    [InlineData(0x7FE10010u)]
    public void PrivateCreator_IsLO(uint tag)
    {
        var entry = DicomDictionary.Find(new DicomTag(tag));

        Assert.NotNull(entry);
        Assert.Equal("PrivateCreator", entry.Keyword);
        Assert.Equal("Private Creator", entry.Name);
        Assert.Equal(new[] { DicomVR.LO }, entry.ValueRepresentations);
        Assert.Equal(DicomVR.LO, DicomDictionary.GetDefaultVR(new DicomTag(tag)));
    }

    [Theory]
    [InlineData(0x00091010u)] // private data element: needs its creator
    [InlineData(0x00090005u)] // private group, below the creator range
    [InlineData(0x00109999u)] // unassigned public element
    [InlineData(0x00030010u)] // groups 0001-0007 (odd) are neither public nor private
    public void UnknownTags_AreUN(uint tag)
    {
        Assert.Null(DicomDictionary.Find(new DicomTag(tag)));
        Assert.Equal(DicomVR.UN, DicomDictionary.GetDefaultVR(new DicomTag(tag)));
    }

    [Fact]
    public void PrivateRegistry_FindsByCreatorGroupAndOffset()
    {
        DicomDictionary.RegisterPrivate("HOUNSFIELD TEST 1", 0x0019, 0x10, DicomVR.DS, "1", "AcmeDose", "Acme Dose");
        DicomDictionary.RegisterPrivate("HOUNSFIELD TEST 1", 0x0019, 0x11, DicomVR.LO, "1-n", "AcmeNote", "Acme Note");

        var entry = DicomDictionary.FindPrivate("HOUNSFIELD TEST 1", new DicomTag(0x0019, 0x1010));
        Assert.NotNull(entry);
        Assert.Equal("AcmeDose", entry.Keyword);
        Assert.Equal("Acme Dose", entry.Name);
        Assert.Equal(new[] { DicomVR.DS }, entry.ValueRepresentations);
        Assert.Equal("1", entry.ValueMultiplicity);
        Assert.Equal(new DicomTag(0x0019, 0x0010), entry.Tag);
        Assert.Equal(0xFFFF00FFu, entry.Mask);

        // Any block the creator reserved (xx of gggg,xxyy), and the LO padding of the creator value.
        Assert.Same(entry, DicomDictionary.FindPrivate("HOUNSFIELD TEST 1", new DicomTag(0x0019, 0x2A10)));
        Assert.Same(entry, DicomDictionary.FindPrivate("HOUNSFIELD TEST 1 ", new DicomTag(0x0019, 0x1010)));
        Assert.Equal("AcmeNote", DicomDictionary.FindPrivate("HOUNSFIELD TEST 1", new DicomTag(0x0019, 0x1011))?.Keyword);

        Assert.Null(DicomDictionary.FindPrivate("HOUNSFIELD TEST 2", new DicomTag(0x0019, 0x1010)));
        Assert.Null(DicomDictionary.FindPrivate("hounsfield test 1", new DicomTag(0x0019, 0x1010)));
        Assert.Null(DicomDictionary.FindPrivate("HOUNSFIELD TEST 1", new DicomTag(0x0021, 0x1010)));
        Assert.Null(DicomDictionary.FindPrivate("HOUNSFIELD TEST 1", new DicomTag(0x0019, 0x0010)));
        Assert.Null(DicomDictionary.FindPrivate("HOUNSFIELD TEST 1", new DicomTag(0x0018, 0x1010)));
        Assert.Null(DicomDictionary.Find(new DicomTag(0x0019, 0x1010))); // the public lookup does not guess a creator
    }

    [Fact]
    public void PrivateRegistry_RejectsPublicGroupsAndEmptyCreators()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            DicomDictionary.RegisterPrivate("HOUNSFIELD TEST 3", 0x0010, 0x10, DicomVR.LO, "1", "X", "X"));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            DicomDictionary.RegisterPrivate("HOUNSFIELD TEST 3", 0x0003, 0x10, DicomVR.LO, "1", "X", "X"));
        Assert.Throws<ArgumentException>(() =>
            DicomDictionary.RegisterPrivate("  ", 0x0011, 0x10, DicomVR.LO, "1", "X", "X"));
    }

    [Fact]
    public void PrivateRegistry_IsThreadSafe()
    {
        Parallel.For(0, 256, i =>
        {
            var creator = "HOUNSFIELD PARALLEL " + (i % 4).ToString(CultureInfo.InvariantCulture);
            DicomDictionary.RegisterPrivate(creator, 0x0041, (byte)i, DicomVR.US, "1", $"P{i}", $"P {i}");
            Assert.NotNull(DicomDictionary.FindPrivate(creator, new DicomTag(0x0041, (ushort)(0x1000 | i))));
        });

        for (var i = 0; i < 256; i++)
        {
            var creator = "HOUNSFIELD PARALLEL " + (i % 4).ToString(CultureInfo.InvariantCulture);
            Assert.Equal($"P{i}", DicomDictionary.FindPrivate(creator, new DicomTag(0x0041, (ushort)(0x1000 | i)))?.Keyword);
        }
    }

    [Fact]
    public void Entries_AreInTagOrderAndCarryTheEdition()
    {
        Assert.Equal("2024d", DicomDictionary.Edition);
        var entries = DicomDictionary.Entries;
        for (var i = 1; i < entries.Count; i++)
        {
            var (previous, current) = (entries[i - 1], entries[i]);
            Assert.True(
                previous.Tag < current.Tag || (previous.Tag == current.Tag && !previous.IsMask && current.IsMask),
                $"{previous} before {current}");
        }

        Assert.Equal(new DicomTag(0x0000, 0x0000), entries[0].Tag);
        Assert.Equal(DicomTag.SequenceDelimitationItem, entries[^1].Tag);
    }

    [Fact]
    public void DcmtkOnlyRow_GetsANameFromItsKeyword()
    {
        var entry = DicomDictionary.Find(new DicomTag(0x0006, 0x0001));

        Assert.NotNull(entry);
        Assert.Equal("CurrentFrameFunctionalGroupsSequence", entry.Keyword);
        Assert.Equal("Current Frame Functional Groups Sequence", entry.Name);
        Assert.Equal(DicomVR.SQ, entry.DefaultVR);
    }

    [Fact]
    public void RetiredBlankRows_HaveNoKeyword()
    {
        var entry = DicomDictionary.Find(new DicomTag(0x0008, 0x0202));

        Assert.NotNull(entry);
        Assert.Equal("", entry.Keyword);
        Assert.Equal("Retired-blank", entry.Name);
        Assert.True(entry.IsRetired);
    }

    [StandardTablesFact]
    public void Entries_AreExactlyTheRowsOfTheStandardTable()
    {
        var rows = StandardTables.Read("data-dictionary.tsv");

        Assert.Equal(5278, rows.Count);
        Assert.Equal(rows.Count, DicomDictionary.Entries.Count);
        var byTagText = DicomDictionary.Entries.ToDictionary(FormatTag);
        foreach (var row in rows)
        {
            Assert.True(byTagText.TryGetValue(row["tag"], out var entry), $"{row["tag"]} missing");
            var vrs = row["vr"] == "NONE" ? "" : row["vr"].Replace(" or ", "/", StringComparison.Ordinal);
            Assert.Equal(vrs, string.Join('/', entry.ValueRepresentations.Select(v => v.ToCode())));
            Assert.Equal(row["vm"], entry.ValueMultiplicity);
            Assert.Equal(row["keyword"], entry.Keyword);
            Assert.Equal(row["retired"] == "Y", entry.IsRetired);
            if (row["name"].Length > 0)
            {
                Assert.Equal(row["name"], entry.Name);
            }

            if (!entry.IsMask)
            {
                Assert.Same(entry, DicomDictionary.Find(entry.Tag));
            }
        }
    }

    [StandardTablesFact]
    public void EveryKeywordOfTheStandardTable_Resolves()
    {
        foreach (var row in StandardTables.Read("data-dictionary.tsv").Where(r => r["keyword"].Length > 0))
        {
            var entry = DicomDictionary.FindByKeyword(row["keyword"]);
            Assert.True(entry is not null, $"{row["keyword"]} does not resolve");
            Assert.Equal(row["tag"], FormatTag(entry));
            if (!entry.IsMask)
            {
                Assert.Equal(entry.Tag, DicomTag.Parse(row["keyword"]));
            }
        }
    }

    [Fact]
    public void ExplicitVRLittleEndian_IsATransferSyntax()
    {
        var info = DicomUids.Find("1.2.840.10008.1.2.1");

        Assert.NotNull(info);
        Assert.Equal("1.2.840.10008.1.2.1", info.Uid);
        Assert.Equal("Explicit VR Little Endian", info.Name);
        Assert.Equal("ExplicitVRLittleEndian", info.Keyword);
        Assert.Equal("Transfer Syntax", info.Type);
        Assert.True(info.IsTransferSyntax);
        Assert.False(info.IsSopClass);
        Assert.False(info.IsRetired);
        Assert.Equal("1.2.840.10008.1.2.1", DicomUids.ExplicitVRLittleEndian);
    }

    [Fact]
    public void UidRegistry_KnowsInfoRetirementAndPadding()
    {
        var implicitVR = DicomUids.Find("1.2.840.10008.1.2");
        Assert.Equal("Default Transfer Syntax for DICOM", implicitVR?.Info);
        Assert.Same(implicitVR, DicomUids.Find("1.2.840.10008.1.2\0")); // UI values are padded with NUL

        var bigEndian = DicomUids.Find(DicomUids.ExplicitVRBigEndian);
        Assert.True(bigEndian?.IsRetired);

        var ctStorage = DicomUids.Find(DicomUids.CTImageStorage);
        Assert.Equal("CT Image Storage", ctStorage?.Name);
        Assert.True(ctStorage?.IsSopClass);
        Assert.False(ctStorage?.IsTransferSyntax);

        Assert.Equal("1.2.840.10008.1.1", DicomUids.Verification);
        Assert.Equal("1.2.840.10008.1.2.4.201", DicomUids.Find("1.2.840.10008.1.2.4.201")?.Uid);
        Assert.Null(DicomUids.Find("1.2.3.4"));
        Assert.Null(DicomUids.Find(""));
    }

    [StandardTablesFact]
    public void UidRegistry_HoldsEveryRowOfTheStandardTable()
    {
        var rows = StandardTables.Read("uids.tsv");

        Assert.Equal(490, rows.Count);
        Assert.Equal(rows.Count, DicomUids.All.Count);
        foreach (var row in rows)
        {
            var info = DicomUids.Find(row["uid"]);
            Assert.True(info is not null, $"{row["uid"]} missing");
            Assert.Equal(row["name"], info.Name);
            Assert.Equal(row["keyword"], info.Keyword);
            Assert.Equal(row["type"], info.Type);
            Assert.Equal(row["info"], info.Info);
            Assert.Equal(row["retired"] == "Y", info.IsRetired);
        }

        var constants = typeof(DicomUids).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .ToDictionary(f => f.Name, f => (string)f.GetRawConstantValue()!);
        foreach (var row in rows.Where(r => r["keyword"].Length > 0))
        {
            Assert.Equal(row["uid"], constants[row["keyword"]]);
        }
    }

    private static string FormatTag(DicomDictionaryEntry entry)
    {
        var value = entry.Tag.Value.ToString("X8", CultureInfo.InvariantCulture).ToCharArray();
        for (var i = 0; i < 8; i++)
        {
            if (((entry.Mask >> (28 - (4 * i))) & 0xF) == 0)
            {
                value[i] = 'x';
            }
        }

        return $"({new string(value, 0, 4)},{new string(value, 4, 4)})";
    }
}

/// <summary>
/// The PS3.6 tables in ../shared/dicom-standard (relative to the directory holding Hounsfield.slnx), the input of
/// scripts/generate-dictionary.py. A clone without them skips the tests that read them, unless
/// HOUNSFIELD_CORPUS_REQUIRED=1.
/// </summary>
internal static class StandardTables
{
    internal static readonly string? Directory = Locate();

    internal static List<Dictionary<string, string>> Read(string fileName)
    {
        Assert.True(Directory is not null, "../shared/dicom-standard was not found next to the repository.");
        var lines = File.ReadAllLines(Path.Combine(Directory, fileName));
        var columns = lines[0].Split('\t');
        return lines.Skip(1)
            .Where(line => line.Length > 0)
            .Select(line => line.Split('\t'))
            .Select(cells => columns.Select((column, i) => (column, cell: i < cells.Length ? cells[i] : ""))
                .ToDictionary(c => c.column, c => c.cell))
            .ToList();
    }

    private static string? Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Hounsfield.slnx")))
            {
                var tables = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "dicom-standard"));
                return File.Exists(Path.Combine(tables, "data-dictionary.tsv")) ? tables : null;
            }
        }

        return null;
    }
}

/// <summary>A fact that needs <see cref="StandardTables"/>: skipped when they are absent (and not required).</summary>
internal sealed class StandardTablesFactAttribute : FactAttribute
{
    public StandardTablesFactAttribute()
    {
        if (StandardTables.Directory is null && Environment.GetEnvironmentVariable("HOUNSFIELD_CORPUS_REQUIRED") != "1")
        {
            Skip = "../shared/dicom-standard (the PS3.6 tables) is not next to the repository.";
        }
    }
}
