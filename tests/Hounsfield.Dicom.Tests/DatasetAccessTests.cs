using Hounsfield.Dicom.IO;

namespace Hounsfield.Dicom.Tests;

public sealed class DatasetAccessTests
{
    [Fact]
    public void Typed_values_round_trip_through_their_encoding()
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTag.ImageType, DicomVR.CS, "ORIGINAL", "PRIMARY", "AXIAL")
            .AddOrUpdate(DicomTag.SliceThickness, DicomVR.DS, "2.5")
            .AddOrUpdate(DicomTag.InstanceNumber, DicomVR.IS, " 42 ")
            .AddOrUpdate(DicomTag.Rows, DicomVR.US, (ushort)512)
            .AddOrUpdate(DicomTag.ImagePositionPatient, DicomVR.DS, "-125.0", "-130.5", "1.25E2")
            .AddOrUpdate(DicomTag.FrameIncrementPointer, new DicomTag(0x0018, 0x1063));

        Assert.Equal(["ORIGINAL", "PRIMARY", "AXIAL"], dataset.GetStrings(DicomTag.ImageType));
        Assert.Equal(2.5m, dataset.GetValue<decimal>(DicomTag.SliceThickness));
        Assert.Equal(42, dataset.GetValue<int>(DicomTag.InstanceNumber));
        Assert.Equal((ushort)512, dataset.GetValue<ushort>(DicomTag.Rows));
        Assert.Equal(512.0, dataset.GetValue<double>(DicomTag.Rows));
        Assert.Equal([-125.0, -130.5, 125.0], dataset.GetValues<double>(DicomTag.ImagePositionPatient));
        Assert.Equal("00181063", Assert.Single(dataset.GetStrings(DicomTag.FrameIncrementPointer)));
        Assert.Null(dataset.GetValueOrDefault<int>(DicomTag.Columns));
        Assert.Equal(4, ((DicomValueElement)dataset[DicomTag.SliceThickness]!).Length); // "2.5" padded to even length
    }

    [Fact]
    public void An_invalid_IS_value_raises_a_format_exception_naming_the_tag()
    {
        var dataset = new DicomDataset().AddOrUpdate(DicomTag.NumberOfFrames, DicomVR.IS, "1A");

        var exception = Assert.Throws<DicomFormatException>(() => dataset.GetValue<int>(DicomTag.NumberOfFrames));

        Assert.Contains("(0028,0008)", exception.Message);
        Assert.Contains("'1A'", exception.Message);
    }

    [Fact]
    public void Dates_times_and_ranges_are_parsed_per_PS3_5()
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTag.StudyDate, DicomVR.DA, "20240229")
            .AddOrUpdate(DicomTag.StudyTime, DicomVR.TM, "235959.123456")
            .AddOrUpdate(DicomTag.AcquisitionDateTime, DicomVR.DT, "20240229120000.5-0500")
            .AddOrUpdate(DicomTag.PatientBirthDate, DicomVR.DA, "19700101-19801231")
            .AddOrUpdate(DicomTag.SeriesDate, DicomVR.DA, "-20200101");

        Assert.Equal(new DateOnly(2024, 2, 29), dataset.GetDate(DicomTag.StudyDate));
        Assert.Equal(new TimeOnly(23, 59, 59).Add(TimeSpan.FromTicks(1_234_560)), dataset.GetTime(DicomTag.StudyTime));
        Assert.Equal(new DateTimeOffset(2024, 2, 29, 12, 0, 0, 500, TimeSpan.FromHours(-5)), dataset.GetDateTime(DicomTag.AcquisitionDateTime));
        Assert.Equal(new DicomDateTimeRange("19700101", "19801231", IsRange: true), dataset.GetDateTimeRange(DicomTag.PatientBirthDate));
        Assert.Equal(new DicomDateTimeRange(null, "20200101", IsRange: true), dataset.GetDateTimeRange(DicomTag.SeriesDate));
        Assert.Null(DicomValueParser.ParseDate("20230230"));
        Assert.Equal(new TimeOnly(7, 0), DicomValueParser.ParseTime("07"));
        Assert.Equal(new DicomDateTimeRange("20240101120000-0500", "20240102", IsRange: true), DicomDateTimeRange.Parse("20240101120000-0500-20240102", DicomVR.DT));
    }

    [Fact]
    public void Person_names_have_groups_and_components()
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTag.SpecificCharacterSet, DicomVR.CS, "ISO_IR 192")
            .AddOrUpdate(DicomTag.PatientName, DicomVR.PN, "Yamada^Tarou=山田^太郎=やまだ^たろう");

        var name = dataset.GetPersonName(DicomTag.PatientName)!;

        Assert.Equal("Yamada", name.FamilyName);
        Assert.Equal("Tarou", name.GivenName);
        Assert.Equal("山田^太郎", name.Ideographic);
        Assert.Equal("やまだ^たろう", name.Phonetic);
        Assert.Equal("Yamada^Tarou=山田^太郎=やまだ^たろう", name.ToString());
    }

    [Fact]
    public void Sequence_items_inherit_the_character_set_unless_they_declare_their_own()
    {
        var inheriting = new DicomDataset();
        var declaring = new DicomDataset().AddOrUpdate(DicomTag.SpecificCharacterSet, DicomVR.CS, "ISO_IR 100");
        var dataset = new DicomDataset().AddOrUpdate(DicomTag.SpecificCharacterSet, DicomVR.CS, "ISO_IR 192");
        dataset.Add(new DicomSequence(DicomTag.ReferencedStudySequence, inheriting, declaring));

        inheriting.AddOrUpdate(DicomTag.PatientName, DicomVR.PN, "Müller");
        declaring.AddOrUpdate(DicomTag.PatientName, DicomVR.PN, "Müller");

        Assert.Equal(8, ((DicomValueElement)inheriting[DicomTag.PatientName]!).Length); // UTF-8: ü is 2 bytes, 7 padded to 8
        Assert.Equal(6, ((DicomValueElement)declaring[DicomTag.PatientName]!).Length); // Latin-1: 1 byte
        Assert.Equal("Müller", inheriting.GetString(DicomTag.PatientName));
        Assert.Equal("Müller", declaring.GetString(DicomTag.PatientName));
    }

    [Fact]
    public void Private_elements_resolve_their_creator_and_are_kept_byte_for_byte()
    {
        var raw = new byte[] { 1, 2, 3, 0xFF };
        var dataset = new DicomDataset()
            .AddOrUpdate(new DicomTag(0x0029, 0x0010), DicomVR.LO, "ACME 1.0");
        dataset.Add(new DicomValueElement(new DicomTag(0x0029, 0x1001), DicomVR.UN, raw));

        var reread = DicomFile.Read(new DicomFile(dataset).ToBytes()).Dataset;

        Assert.Equal("ACME 1.0", reread.GetPrivateCreator(new DicomTag(0x0029, 0x1001)));
        Assert.Equal(raw, ((DicomValueElement)reread[new DicomTag(0x0029, 0x1001)]!).Span.ToArray());
    }

    [Fact]
    public void Generated_uids_are_valid_and_unique()
    {
        var fromUuid = DicomUidGenerator.FromUuid(new Guid("00000000-0000-0000-0000-000000000001"));
        Assert.Equal("2.25.1", fromUuid);
        Assert.Equal("2.25.329800735698586629295641978511506172918", DicomUidGenerator.FromUuid(new Guid("f81d4fae-7dec-11d0-a765-00a0c91e6bf6")));

        var uids = Enumerable.Range(0, 1000).Select(_ => DicomUidGenerator.UnderRoot("1.2.826.0.1.3680043.10.999")).ToList();
        Assert.All(uids, uid => Assert.True(DicomUidGenerator.IsValid(uid) && uid.StartsWith("1.2.826.0.1.3680043.10.999.", StringComparison.Ordinal), uid));
        Assert.Equal(uids.Count, uids.Distinct().Count());
        Assert.All(Enumerable.Range(0, 100).Select(_ => DicomUidGenerator.FromUuid()), uid => Assert.True(DicomUidGenerator.IsValid(uid) && uid.Length <= 64));
        Assert.False(DicomUidGenerator.IsValid("1.02.3"));
        Assert.False(DicomUidGenerator.IsValid("1..3"));
        Assert.Throws<ArgumentException>(() => DicomUidGenerator.UnderRoot("1.2.abc"));
    }

    [Fact]
    public void Header_only_reading_stops_before_pixel_data()
    {
        var dataset = new DicomDataset().AddOrUpdate(DicomTag.SOPInstanceUID, DicomVR.UI, "1.2.3");
        dataset.Add(new DicomValueElement(DicomTag.PixelData, DicomVR.OW, new byte[1024]));
        dataset.Add(new DicomValueElement(new DicomTag(0xFFFC, 0xFFFC), DicomVR.OB, new byte[8]));
        var bytes = new DicomFile(dataset).ToBytes();

        var header = DicomFile.Read(bytes, DicomReadOptions.Default with { StopBeforePixelData = true }).Dataset;

        Assert.Equal("1.2.3", header.GetString(DicomTag.SOPInstanceUID));
        Assert.False(header.Contains(DicomTag.PixelData));
        Assert.False(header.Contains(new DicomTag(0xFFFC, 0xFFFC)));
    }
}
