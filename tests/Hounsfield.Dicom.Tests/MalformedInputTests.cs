using System.Buffers.Binary;
using Hounsfield.Dicom.IO;

namespace Hounsfield.Dicom.Tests;

/// <summary>Malformed and hostile input: a lenient read or a <see cref="DicomFormatException"/>, never another exception, a hang or unbounded memory.</summary>
public sealed class MalformedInputTests
{
    public static TheoryData<string> MalformedFiles => Corpus.Names(f => f.IsMalformed);

    /// <summary>What we do with each malformed corpus file: read leniently (as DCMTK reads it) or reject.</summary>
    private static readonly Dictionary<string, bool> ReadLeniently = new()
    {
        ["no_meta_ct_small"] = false,          // a stray byte before the first tag: no encoding fits (DCMTK and pydicom fail too)
        ["truncated_pixel_data"] = false,      // Pixel Data length runs past the end of the file
        ["truncated_rtplan"] = false,          // the file ends inside a nested sequence
        ["meta_missing_tsyntax"] = true,       // the data set encoding is detected, as DCMTK does, with a warning
        ["bad_vr"] = true,                     // an invalid IS value is a value problem, not an encoding one
        ["j2k_fragment_too_short"] = false,    // the file ends inside the last fragment
        ["j2k_embedded_seq_delimiter"] = true, // fragment lengths are authoritative; the delimiter bytes inside are data
        ["bad_sequence_un"] = true,            // an implicit VR sequence inside UN: read as CP-246 says
    };

    [CorpusTheory]
    [MemberData(nameof(MalformedFiles))]
    public void A_malformed_file_is_read_leniently_or_rejected_with_a_format_exception(string name)
    {
        var path = Corpus.Get(name).Path;
        Assert.True(ReadLeniently.ContainsKey(name), $"{name}: decide whether it is read leniently or rejected");

        var exception = Record.Exception(() => DicomFile.Open(path));
        var fromMemory = Record.Exception(() => DicomFile.Read(File.ReadAllBytes(path)));

        if (ReadLeniently[name])
        {
            Assert.Null(exception);
            Assert.Null(fromMemory);
        }
        else
        {
            var formatException = Assert.IsAssignableFrom<DicomFormatException>(exception);
            Assert.IsAssignableFrom<DicomFormatException>(fromMemory);
            Assert.True(formatException.Offset >= 0, "the exception names the offset");
            Assert.Contains("offset", formatException.Message);
        }
    }

    [CorpusFact]
    public void A_file_without_transfer_syntax_is_read_with_a_warning()
    {
        var file = DicomFile.Open(Corpus.Get("meta_missing_tsyntax").Path);

        Assert.Equal("File meta information has no Transfer Syntax UID; the data set was read as Implicit VR Little Endian.", Assert.Single(file.Warnings));
        Assert.Equal(DicomTransferSyntax.ImplicitVRLittleEndian, file.TransferSyntax);
        Assert.Equal(new byte[] { 0, 0 }, ((DicomValueElement)file.Dataset[DicomTag.PixelData]!).Span.ToArray());
        var outer = file.Dataset.GetSequence(new DicomTag(0x0001, 0x0001))!;
        Assert.Equal("Double Nested SQ", outer.Items[0].GetSequence(new DicomTag(0x0001, 0x0001))!.Items[0].GetString(new DicomTag(0x0001, 0x0001)));
    }

    [CorpusFact]
    public void The_truncated_pixel_data_error_names_the_tag_and_the_lengths()
    {
        var exception = Assert.ThrowsAny<DicomFormatException>(() => DicomFile.Open(Corpus.Get("truncated_pixel_data").Path));

        Assert.Equal(new DicomTag(0x7FE0, 0x0010), exception.Tag);
        Assert.Contains("(7FE0,0010)", exception.Message);
    }

    [Fact]
    public void Nesting_deeper_than_the_limit_fails_with_the_limit_named()
    {
        var bytes = new MemoryStream();
        for (var i = 0; i < 100; i++)
        {
            WriteHeader(bytes, 0x0040, 0xA730, "SQ", 0xFFFFFFFF); // Content Sequence, undefined length
            WriteItem(bytes, 0xE000, 0xFFFFFFFF);
        }

        var exception = Assert.Throws<DicomLimitExceededException>(() => DicomFile.Read(bytes.ToArray(), DicomReadOptions.Default with { MaxDepth = 32 }));

        Assert.Equal(nameof(DicomReadOptions.MaxDepth), exception.LimitName);
        Assert.Contains("MaxDepth of 32", exception.Message);
    }

    [Fact]
    public void An_endless_stream_of_items_stops_at_the_element_limit()
    {
        // A sequence that never ends: billions of empty items would be read without a count limit.
        var header = new MemoryStream();
        WriteHeader(header, 0x0040, 0xA730, "SQ", 0xFFFFFFFF);
        using var endless = new RepeatingStream(header.ToArray(), [0xFE, 0xFF, 0x00, 0xE0, 0x00, 0x00, 0x00, 0x00]);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var exception = Assert.Throws<DicomLimitExceededException>(() => DicomFile.Read(endless, DicomReadOptions.Default with { MaxElementCount = 50_000 }));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(nameof(DicomReadOptions.MaxElementCount), exception.LimitName);
        Assert.True(allocated < 64L * 1024 * 1024, $"allocated {allocated} bytes");
    }

    [Fact]
    public void A_hostile_length_on_a_stream_of_unknown_length_fails_at_the_end_without_allocating_it()
    {
        var bytes = new MemoryStream();
        WriteHeader(bytes, 0x0009, 0x1010, "OB", 0xFFFFFFF0); // claims 4 GB
        bytes.Write(new byte[1000]);
        using var unseekable = new UnseekableStream(bytes.ToArray());

        var before = GC.GetAllocatedBytesForCurrentThread();
        var exception = Assert.ThrowsAny<DicomFormatException>(() => DicomFile.Read(unseekable, DicomReadOptions.Default with { MaxValueLength = long.MaxValue }));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains("(0009,1010)", exception.Message);
        Assert.True(allocated < 4L * 1024 * 1024, $"allocated {allocated} bytes");
    }

    [Fact]
    public void A_hostile_length_in_memory_fails_before_reading()
    {
        var bytes = new MemoryStream();
        WriteHeader(bytes, 0x0010, 0x0010, "PN", 8);
        bytes.Write("Doe^John"u8);
        WriteHeader(bytes, 0x0010, 0x1010, "UT", 0x7FFFFFF0);

        var exception = Assert.ThrowsAny<DicomFormatException>(() => DicomFile.Read(bytes.ToArray()));

        Assert.Contains("exceeds", exception.Message);
        Assert.Equal(new DicomTag(0x0010, 0x1010), exception.Tag);
    }

    [Fact]
    public void A_deflate_bomb_stops_at_the_inflated_length_limit()
    {
        var dataset = new DicomDataset().AddOrUpdate(DicomTag.SOPInstanceUID, DicomVR.UI, "1.2.3");
        dataset.Add(new DicomValueElement(new DicomTag(0x0009, 0x1010), DicomVR.OB, new byte[8 * 1024 * 1024]));
        var bomb = new DicomFile(dataset).ToBytes(DicomTransferSyntax.DeflatedExplicitVRLittleEndian);
        Assert.True(bomb.Length < 100_000, "8 MiB of zeros deflate to a few kB");

        var exception = Assert.Throws<DicomLimitExceededException>(() => DicomFile.Read(bomb, DicomReadOptions.Default with { MaxInflatedLength = 1024 * 1024 }));

        Assert.Equal(nameof(DicomReadOptions.MaxInflatedLength), exception.LimitName);
    }

    [Fact]
    public void Garbage_is_rejected_with_a_format_exception()
    {
        var random = new Random(7);
        var garbage = new byte[4096];
        random.NextBytes(garbage);

        Assert.ThrowsAny<DicomFormatException>(() => DicomFile.Read(garbage));
        Assert.ThrowsAny<DicomFormatException>(() => DicomFile.Read("not dicom at all"u8.ToArray()));
    }

    internal static void WriteHeader(Stream stream, ushort group, ushort element, string vr, uint length)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt16LittleEndian(header, group);
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], element);
        header[4] = (byte)vr[0];
        header[5] = (byte)vr[1];
        if (vr is "OB" or "OW" or "SQ" or "UN" or "UT" or "UC" or "UR")
        {
            header[6] = header[7] = 0;
            BinaryPrimitives.WriteUInt32LittleEndian(header[8..], length);
            stream.Write(header);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(header[6..], (ushort)length);
            stream.Write(header[..8]);
        }
    }

    private static void WriteItem(Stream stream, ushort element, uint length)
    {
        Span<byte> header = stackalloc byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(header, 0xFFFE);
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], element);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], length);
        stream.Write(header);
    }

    /// <summary>A prefix, then one pattern repeated forever.</summary>
    private sealed class RepeatingStream(byte[] prefix, byte[] pattern) : Stream
    {
        private long position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            for (var i = 0; i < count; i++, position++)
            {
                buffer[offset + i] = position < prefix.Length ? prefix[position] : pattern[(position - prefix.Length) % pattern.Length];
            }

            return count;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>A read-only stream that cannot seek and does not know its length, like a network stream.</summary>
internal sealed class UnseekableStream(byte[] bytes) : Stream
{
    private readonly MemoryStream inner = new(bytes, writable: false);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, 1500));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
