using Hounsfield.Dicom.IO;

namespace Hounsfield.Dicom.Tests;

public sealed class RoundTripTests
{
    public static TheoryData<string> ReadableFiles => Corpus.Names(f => !f.IsMalformed);

    /// <summary>Explicit VR little endian files with preamble and complete meta information, conformant (status valid).</summary>
    /// <summary>Valid files that are nonetheless not well formed, so that the writer's correct output differs from them.</summary>
    private static readonly Dictionary<string, string> NotWellFormed = new()
    {
        ["charset_iso2022_ir87_multi"] = "its (0010,0000) group length says 106 but the group holds 190 bytes; we write the correct length",
    };

    public static TheoryData<string> WellFormedExplicitLittleEndianFiles => Corpus.Names(f =>
        f.Status == "valid" && f.TransferSyntaxUid == DicomTransferSyntax.ExplicitVRLittleEndian.Uid
        && f.Manifest.GetProperty("has_preamble_and_dicm").GetBoolean() && !NotWellFormed.ContainsKey(f.Name));

    [CorpusFact]
    public void A_wrong_group_length_is_corrected_when_written()
    {
        var file = DicomFile.Open(Corpus.Get("charset_iso2022_ir87_multi").Path);
        Assert.Equal(106u, file.Dataset.GetValue<uint>(new DicomTag(0x0010, 0x0000)));

        var reread = DicomFile.Read(file.ToBytes());

        Assert.Equal(190u, reread.Dataset.GetValue<uint>(new DicomTag(0x0010, 0x0000)));
    }

    public static TheoryData<string> NativeFiles => Corpus.Names(f => !f.IsMalformed && !DicomTransferSyntax.Lookup(f.TransferSyntaxUid).IsEncapsulated);

    [CorpusTheory]
    [MemberData(nameof(ReadableFiles))]
    public void Read_write_read_gives_the_same_data_set(string name)
    {
        var original = DicomFile.Open(Corpus.Get(name).Path);

        var written = original.ToBytes();
        var reread = DicomFile.Read(written);

        Assert.Equal(original.TransferSyntax, reread.TransferSyntax);
        DatasetAssert.Equal(original.Dataset, reread.Dataset);
        Assert.Empty(reread.Warnings);
    }

    [CorpusTheory]
    [MemberData(nameof(WellFormedExplicitLittleEndianFiles))]
    public void A_well_formed_explicit_little_endian_file_is_written_back_byte_identical(string name)
    {
        var bytes = File.ReadAllBytes(Corpus.Get(name).Path);

        var written = DicomFile.Read(bytes).ToBytes();

        Assert.Equal(bytes.Length, written.Length);
        Assert.True(bytes.AsSpan().SequenceEqual(written), $"first difference at offset {bytes.AsSpan().CommonPrefixLength(written)}");
    }

    [CorpusTheory]
    [MemberData(nameof(NativeFiles))]
    public void Implicit_explicit_and_big_endian_encodings_agree(string name)
    {
        var original = DicomFile.Open(Corpus.Get(name).Path);

        var bigEndian = DicomFile.Read(original.ToBytes(DicomTransferSyntax.ExplicitVRBigEndian));
        var explicitLittle = DicomFile.Read(bigEndian.ToBytes(DicomTransferSyntax.ExplicitVRLittleEndian));
        var implicitLittle = DicomFile.Read(explicitLittle.ToBytes(DicomTransferSyntax.ImplicitVRLittleEndian));
        var deflated = DicomFile.Read(implicitLittle.ToBytes(DicomTransferSyntax.DeflatedExplicitVRLittleEndian));

        Assert.Equal(DicomTransferSyntax.ExplicitVRBigEndian, bigEndian.TransferSyntax);
        DatasetAssert.Equal(original.Dataset, bigEndian.Dataset);
        DatasetAssert.Equal(original.Dataset, explicitLittle.Dataset);

        // Implicit VR loses the VR of private elements (they come back as UN) but no value.
        DatasetAssert.Equal(original.Dataset, implicitLittle.Dataset, compareVRs: false);
        DatasetAssert.Equal(implicitLittle.Dataset, deflated.Dataset);
        foreach (var element in original.Dataset.Where(e => !e.Tag.IsPrivate && e.VR != DicomVR.UN))
        {
            var roundTripped = implicitLittle.Dataset.Find(element.Tag)!;
            var dictionaryVRs = DicomDictionary.Find(element.Tag)?.ValueRepresentations ?? [];
            Assert.True(roundTripped.VR == element.VR || (dictionaryVRs.Count > 1 && dictionaryVRs.Contains(element.VR)) || !dictionaryVRs.Contains(element.VR),
                $"{element.Tag}: {element.VR.ToCode()} came back as {roundTripped.VR.ToCode()} through implicit VR");
        }
    }

    [Fact]
    public void The_writer_completes_and_corrects_the_meta_information()
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTag.SOPClassUID, DicomVR.UI, "1.2.840.10008.5.1.4.1.1.7")
            .AddOrUpdate(DicomTag.SOPInstanceUID, DicomVR.UI, "1.2.3.4.5")
            .AddOrUpdate(DicomTag.PatientName, DicomVR.PN, "Doe^Jane");

        var reread = DicomFile.Read(new DicomFile(dataset).ToBytes(DicomTransferSyntax.ImplicitVRLittleEndian));

        Assert.Equal(DicomTransferSyntax.ImplicitVRLittleEndian, reread.TransferSyntax);
        Assert.Equal("1.2.840.10008.1.2", reread.Meta.GetString(DicomTag.TransferSyntaxUID));
        Assert.Equal("1.2.840.10008.5.1.4.1.1.7", reread.Meta.GetString(DicomTag.MediaStorageSOPClassUID));
        Assert.Equal("1.2.3.4.5", reread.Meta.GetString(DicomTag.MediaStorageSOPInstanceUID));
        Assert.Equal(DicomImplementation.ClassUid, reread.Meta.GetString(DicomTag.ImplementationClassUID));
        Assert.Equal(DicomImplementation.VersionName, reread.Meta.GetString(DicomTag.ImplementationVersionName));
        Assert.Equal(new byte[] { 0, 1 }, ((DicomValueElement)reread.Meta[DicomTag.FileMetaInformationVersion]!).Span.ToArray());

        var groupLength = reread.Meta.GetValue<uint>(DicomTag.FileMetaInformationGroupLength);
        var bytes = new DicomFile(dataset).ToBytes(DicomTransferSyntax.ImplicitVRLittleEndian);
        Assert.Equal(132 + 12 + groupLength, (uint)FindDataSetStart(bytes));
        Assert.Equal("Doe^Jane", reread.Dataset.GetString(DicomTag.PatientName));
    }

    [Fact]
    public void Defined_length_sequences_and_items_are_written_with_their_computed_lengths()
    {
        var item = new DicomDataset { UndefinedLength = false }.AddOrUpdate(DicomTag.CodeValue, DicomVR.SH, "T-D1100");
        var nested = new DicomDataset { UndefinedLength = false };
        nested.Add(new DicomSequence(DicomTag.ConceptCodeSequence, item) { UndefinedLength = false });
        var dataset = new DicomDataset();
        dataset.Add(new DicomSequence(DicomTag.ContentSequence, nested) { UndefinedLength = false });

        var bytes = new MemoryStream();
        DicomWriter.WriteDataSet(bytes, dataset, DicomTransferSyntax.ExplicitVRLittleEndian);
        var reread = DicomFile.Read(bytes.ToArray(), DicomReadOptions.Default).Dataset;

        var sequence = reread.GetSequence(DicomTag.ContentSequence)!;
        Assert.False(sequence.UndefinedLength);
        Assert.Equal("T-D1100", sequence.Items[0].GetSequence(DicomTag.ConceptCodeSequence)!.Items[0].GetString(DicomTag.CodeValue));
        // (0040,A730) SQ, 4-byte length: 12 + item(8 + inner SQ(12 + item(8 + SH(8 + 8))))
        Assert.Equal(12 + 8 + 12 + 8 + 16, (int)bytes.Length);
    }

    private static int FindDataSetStart(byte[] bytes)
    {
        var position = 132;
        while (BitConverter.ToUInt16(bytes, position) == 0x0002)
        {
            var vr = (char)bytes[position + 4] + string.Empty + (char)bytes[position + 5];
            var longLength = vr is "OB" or "UN" or "OW" or "SQ" or "UT" or "UC" or "UR";
            position += longLength ? 12 + BitConverter.ToInt32(bytes, position + 8) : 8 + BitConverter.ToUInt16(bytes, position + 6);
        }

        return position;
    }
}
