// Part 10 file format (PS3.10 §7), data set encoding (PS3.5 §7), encapsulation (PS3.5 A.4), deflate (PS3.5 A.5),
// UN with undefined length read as an implicit VR little endian sequence (PS3.5 §6.2.2, CP-246).
using System.Buffers.Binary;
using System.IO.Compression;

namespace Hounsfield.Dicom.IO;

/// <summary>
/// Reads DICOM Part 10 files, and raw data sets without file meta information (detecting implicit/explicit VR and
/// byte order as DCMTK does). Every failure is a <see cref="DicomFormatException"/> naming the offset and tag.
/// </summary>
public sealed partial class DicomReader
{
    private const uint UndefinedLength = 0xFFFFFFFF;
    private static readonly DicomTag PixelData = new(0x7FE0, 0x0010);
    private static readonly DicomTag FloatPixelData = new(0x7FE0, 0x0008);
    private static readonly DicomTag DoubleFloatPixelData = new(0x7FE0, 0x0009);

    private readonly DicomReadOptions options;
    private readonly DicomInput input;
    private readonly Func<Stream>? reopenSource;
    private readonly List<string> warnings = [];
    private long elementCount;
    private bool lazyAllowed;
    private DicomTag currentTag;

    private DicomReader(DicomInput input, DicomReadOptions options, Func<Stream>? reopenSource)
    {
        this.input = input;
        this.options = options;
        this.reopenSource = reopenSource;
    }

    private readonly record struct Syntax(bool ExplicitVR, bool BigEndian)
    {
        public static readonly Syntax ImplicitLittle = new(false, false);
        public static readonly Syntax ExplicitLittle = new(true, false);
    }

    /// <summary>Reads a file; large values stay on disk and are read on demand (see <see cref="DicomReadOptions.LazyValueThreshold"/>).</summary>
    public static DicomFile ReadFile(string path, DicomReadOptions? options = null)
    {
        Stream Open() => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        using var input = new DicomInput(stream);
        return Read(input, options ?? DicomReadOptions.Default, Open);
    }

    /// <summary>Reads from a stream, which is consumed but not disposed; every value is loaded into memory.</summary>
    public static DicomFile Read(Stream stream, DicomReadOptions? options = null, Func<Stream>? reopenSource = null)
    {
        using var input = new DicomInput(stream, stream.CanSeek ? stream.Position : 0);
        return Read(input, options ?? DicomReadOptions.Default, reopenSource);
    }

    /// <summary>Reads from memory; values are slices of <paramref name="bytes"/>, not copies.</summary>
    public static DicomFile Read(ReadOnlyMemory<byte> bytes, DicomReadOptions? options = null)
    {
        using var input = new DicomInput(bytes);
        return Read(input, options ?? DicomReadOptions.Default, null);
    }

    private static DicomFile Read(DicomInput input, DicomReadOptions options, Func<Stream>? reopenSource)
    {
        var reader = new DicomReader(input, options, reopenSource);
        try
        {
            return reader.ReadFile();
        }
        catch (DicomFormatException)
        {
            throw;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or OverflowException or ArgumentException or InvalidOperationException or IndexOutOfRangeException or FormatException or OutOfMemoryException)
        {
            throw new DicomFormatException($"Unreadable DICOM input: {ex.Message}", input.Position, reader.currentTag, ex);
        }
    }

    private DicomFile ReadFile()
    {
        byte[]? preamble = null;
        if (input.Ensure(132) && input.Peek(132)[128..132].SequenceEqual("DICM"u8))
        {
            preamble = input.Peek(128).ToArray();
            input.Advance(132);
        }

        var meta = new DicomDataset();
        var hasMeta = preamble is not null || LooksLikeMetaGroup();
        if (hasMeta)
        {
            ReadMetaGroup(meta);
        }

        var declared = meta.GetString(DicomTag.TransferSyntaxUID);
        DicomTransferSyntax transferSyntax;
        if (string.IsNullOrEmpty(declared))
        {
            transferSyntax = DetectDataSetSyntax();
            warnings.Add(hasMeta
                ? $"File meta information has no Transfer Syntax UID; the data set was read as {transferSyntax.Name}."
                : $"No file meta information; the data set was read as {transferSyntax.Name}, detected from its first element.");
        }
        else
        {
            transferSyntax = DicomTransferSyntax.Lookup(declared);
            if (!transferSyntax.IsKnown)
            {
                warnings.Add($"Unknown transfer syntax {declared}; read as explicit VR little endian.");
            }
        }

        var dataset = new DicomDataset();
        if (transferSyntax.IsDeflated)
        {
            using var inflated = new LimitedReadStream(new DeflateStream(input.RemainderAsStream(), CompressionMode.Decompress), options.MaxInflatedLength);
            using var inflatedInput = new DicomInput(inflated);
            var inner = new DicomReader(inflatedInput, options, null) { elementCount = elementCount };
            inner.ReadDataSet(dataset, Syntax.ExplicitLittle, end: -1, depth: 0, topLevel: true);
            warnings.AddRange(inner.warnings);
        }
        else
        {
            var syntax = new Syntax(transferSyntax.IsExplicitVR, transferSyntax.IsBigEndian);
            if (syntax.ExplicitVR && !input.AtEnd && !NextElementHasExplicitVR(syntax.BigEndian))
            {
                warnings.Add($"The data set is declared {transferSyntax.Name} but is encoded with implicit VR; read as implicit.");
                syntax = syntax with { ExplicitVR = false };
            }

            lazyAllowed = reopenSource is not null && input.CanSeek && !syntax.BigEndian;
            ReadDataSet(dataset, syntax, end: -1, depth: 0, topLevel: true);
        }

        return new DicomFile(meta, dataset, transferSyntax, preamble, warnings);
    }

    private bool LooksLikeMetaGroup() => input.Ensure(6) && BinaryPrimitives.ReadUInt16LittleEndian(input.Peek(2)) == 0x0002;

    private void ReadMetaGroup(DicomDataset meta)
    {
        // Group 0002 is explicit VR little endian (PS3.10 §7.1); some writers use implicit VR, which is tolerated.
        while (input.Ensure(6) && BinaryPrimitives.ReadUInt16LittleEndian(input.Peek(2)) == 0x0002)
        {
            var explicitVR = DicomVRInfo.TryParse(input.Peek(6)[4], input.Peek(6)[5], out _);
            ReadElement(meta, new Syntax(explicitVR, false), end: -1, depth: 0, topLevel: false);
        }
    }

    /// <summary>Guesses the encoding of a data set without meta information as DCMTK does: byte order from the first group, VR from its letters.</summary>
    private DicomTransferSyntax DetectDataSetSyntax()
    {
        if (!input.Ensure(8))
        {
            return DicomTransferSyntax.ImplicitVRLittleEndian;
        }

        var head = input.Peek(8);
        var groupLittle = BinaryPrimitives.ReadUInt16LittleEndian(head);
        var groupBig = BinaryPrimitives.ReadUInt16BigEndian(head);
        var bigEndian = groupBig < groupLittle;
        var explicitVR = DicomVRInfo.TryParse(head[4], head[5], out _);
        return (explicitVR, bigEndian) switch
        {
            (true, true) => DicomTransferSyntax.ExplicitVRBigEndian,
            (true, false) => DicomTransferSyntax.ExplicitVRLittleEndian,
            (false, true) => throw new DicomFormatException("Implicit VR big endian is not a DICOM encoding", input.Position, null),
            _ => DicomTransferSyntax.ImplicitVRLittleEndian,
        };
    }

    private bool NextElementHasExplicitVR(bool bigEndian)
    {
        if (!input.Ensure(6))
        {
            return true;
        }

        var head = input.Peek(6);
        var group = bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(head) : BinaryPrimitives.ReadUInt16LittleEndian(head);
        return group == 0xFFFE || DicomVRInfo.TryParse(head[4], head[5], out _);
    }

    /// <summary>Reads elements into <paramref name="dataset"/> until <paramref name="end"/> (absolute), an item delimiter, or the end of input.</summary>
    private void ReadDataSet(DicomDataset dataset, Syntax syntax, long end, int depth, bool topLevel)
    {
        while (true)
        {
            if (end >= 0 ? input.Position >= end : input.AtEnd)
            {
                if (end >= 0 && input.Position > end)
                {
                    throw new DicomFormatException($"An element runs {input.Position - end} bytes past the end of its item", input.Position, currentTag);
                }

                return;
            }

            if (!ReadElement(dataset, syntax, end, depth, topLevel))
            {
                return;
            }
        }
    }

    /// <summary>Reads one element; false when an item delimiter (or the pixel data stop) ends the data set.</summary>
    private bool ReadElement(DicomDataset dataset, Syntax syntax, long end, int depth, bool topLevel)
    {
        var headerOffset = input.Position;
        if (!input.Ensure(8))
        {
            if (topLevel && input.Available > 0 && input.Available < 8)
            {
                warnings.Add($"{input.Available} trailing bytes after the last element were ignored.");
                input.Advance(input.Available);
                return false;
            }

            throw new DicomFormatException("Unexpected end of input in an element header", headerOffset, null);
        }

        var group = input.ReadUInt16(syntax.BigEndian);
        var number = input.ReadUInt16(syntax.BigEndian);
        var tag = new DicomTag(group, number);
        currentTag = tag;
        CountElement(headerOffset, tag);

        if (group == 0xFFFE)
        {
            var delimiterLength = input.ReadUInt32(syntax.BigEndian);
            if (tag == DicomTag.ItemDelimitationItem)
            {
                if (topLevel)
                {
                    warnings.Add($"A stray item delimiter at offset {headerOffset} was ignored.");
                    return true;
                }

                return false;
            }

            if (tag == DicomTag.SequenceDelimitationItem && topLevel)
            {
                warnings.Add($"A stray sequence delimiter at offset {headerOffset} was ignored.");
                return true;
            }

            throw new DicomFormatException($"Unexpected {(tag == DicomTag.Item ? "item" : "delimiter")} tag with length {delimiterLength} in a data set", headerOffset, tag);
        }

        DicomVR vr;
        uint length;
        var explicitVR = syntax.ExplicitVR;
        if (explicitVR)
        {
            var vrBytes = input.Peek(2);
            if (!DicomVRInfo.TryParse(vrBytes[0], vrBytes[1], out vr))
            {
                throw new DicomFormatException($"Invalid VR bytes 0x{vrBytes[0]:X2}{vrBytes[1]:X2} in an explicit VR data set", headerOffset, tag);
            }

            input.Advance(2);
            if (vr.HasLongLength())
            {
                if (!input.Ensure(6))
                {
                    throw new DicomFormatException("Unexpected end of input in an element header", headerOffset, tag);
                }

                input.Advance(2);
                length = input.ReadUInt32(syntax.BigEndian);
            }
            else
            {
                length = input.ReadUInt16(syntax.BigEndian);
            }
        }
        else
        {
            length = input.ReadUInt32(syntax.BigEndian);
            vr = ImplicitVR(tag, dataset);
        }

        if (topLevel && options.StopBeforePixelData && (tag == PixelData || tag == FloatPixelData || tag == DoubleFloatPixelData))
        {
            // Leave the input positioned at the element header so that a caller could go on.
            return false;
        }

        if (length == UndefinedLength)
        {
            dataset.Add(ReadUndefinedLength(tag, vr, syntax, depth, headerOffset));
            return true;
        }

        if (vr == DicomVR.SQ)
        {
            dataset.Add(ReadSequence(tag, syntax, length, depth));
            return true;
        }

        if (end >= 0 && input.Position + length > end)
        {
            throw new DicomFormatException($"Value length {length} runs past the end of the enclosing item", headerOffset, tag);
        }

        dataset.Add(new DicomValueElement(tag, vr, ReadValue(tag, vr, length, syntax, headerOffset)));
        return true;
    }

    private DicomElement ReadUndefinedLength(DicomTag tag, DicomVR vr, Syntax syntax, int depth, long headerOffset)
    {
        if (tag == PixelData && vr is not (DicomVR.SQ or DicomVR.UN))
        {
            return ReadFragments(tag, vr == DicomVR.OW && syntax.ExplicitVR ? DicomVR.OW : DicomVR.OB, syntax);
        }

        return vr switch
        {
            DicomVR.SQ => ReadSequence(tag, syntax, UndefinedLength, depth),

            // CP-246: the content of a UN element with undefined length is implicit VR little endian.
            DicomVR.UN => ReadSequence(tag, Syntax.ImplicitLittle, UndefinedLength, depth),
            _ when !syntax.ExplicitVR => ReadSequence(tag, syntax, UndefinedLength, depth),
            DicomVR.OB or DicomVR.OW => ReadFragments(tag, vr, syntax),
            _ => throw new DicomFormatException($"VR {vr.ToCode()} cannot have undefined length", headerOffset, tag),
        };
    }

    private DicomVR ImplicitVR(DicomTag tag, DicomDataset dataset)
    {
        if (tag.IsGroupLength)
        {
            return DicomVR.UL;
        }

        if (tag.IsPrivateCreator)
        {
            return DicomVR.LO;
        }

        if (tag.IsPrivate)
        {
            return DicomVR.UN;
        }

        var entry = DicomDictionary.Find(tag);
        if (entry is null || entry.ValueRepresentations.Count == 0)
        {
            return DicomVR.UN;
        }

        var vrs = entry.ValueRepresentations;
        if (vrs.Count == 1)
        {
            return vrs[0];
        }

        // Ambiguous VRs (PS3.5 Annex A.1 c): OB or OW is OW in implicit VR; US or SS follows Pixel Representation.
        if (vrs.Contains(DicomVR.OW) && !vrs.Contains(DicomVR.US))
        {
            return DicomVR.OW;
        }

        if (vrs.Contains(DicomVR.SS) && dataset.Find(DicomTag.PixelRepresentation) is DicomValueElement { Length: >= 2 } representation
            && BinaryPrimitives.ReadUInt16LittleEndian(representation.Span) == 1)
        {
            return DicomVR.SS;
        }

        return vrs.Contains(DicomVR.US) ? DicomVR.US : vrs[0];
    }

    private DicomBuffer ReadValue(DicomTag tag, DicomVR vr, uint length, Syntax syntax, long headerOffset)
    {
        if (length == 0)
        {
            return DicomBuffer.Empty;
        }

        if (input.Remaining is { } remaining && length > remaining)
        {
            throw new DicomFormatException($"Value length {length} exceeds the {remaining} bytes left in the input", headerOffset, tag);
        }

        if (lazyAllowed && length >= options.LazyValueThreshold && !input.IsMemory)
        {
            var offset = input.Position;
            if (!input.Skip(length))
            {
                throw new DicomFormatException($"Value length {length} exceeds the input", headerOffset, tag);
            }

            return new StreamRangeDicomBuffer(reopenSource!, offset, length);
        }

        if (length > options.MaxValueLength)
        {
            throw new DicomLimitExceededException(nameof(options.MaxValueLength), options.MaxValueLength, headerOffset, tag);
        }

        var bytes = input.ReadValue((int)length)
            ?? throw new DicomFormatException($"Unexpected end of input in a value of length {length}", headerOffset, tag);
        if (syntax.BigEndian && vr.UnitSize() > 1)
        {
            var swapped = bytes.ToArray();
            SwapBytes(swapped, vr.UnitSize());
            return DicomBuffer.FromBytes(swapped);
        }

        return DicomBuffer.FromBytes(bytes);
    }

    private DicomSequence ReadSequence(DicomTag tag, Syntax syntax, uint length, int depth)
    {
        if (depth >= options.MaxDepth)
        {
            throw new DicomLimitExceededException(nameof(options.MaxDepth), options.MaxDepth, input.Position, tag);
        }

        var sequence = new DicomSequence(tag) { UndefinedLength = length == UndefinedLength };
        var end = length == UndefinedLength ? -1 : input.Position + length;
        if (end >= 0 && input.Length is { } total && end > total)
        {
            throw new DicomFormatException($"Sequence length {length} exceeds the input", input.Position, tag);
        }

        while (end < 0 || input.Position < end)
        {
            var itemOffset = input.Position;
            if (!input.Ensure(8))
            {
                throw new DicomFormatException("Unexpected end of input in a sequence", itemOffset, tag);
            }

            var itemTag = new DicomTag(input.ReadUInt16(syntax.BigEndian), input.ReadUInt16(syntax.BigEndian));
            var itemLength = input.ReadUInt32(syntax.BigEndian);
            CountElement(itemOffset, itemTag);
            if (itemTag == DicomTag.SequenceDelimitationItem)
            {
                if (end >= 0)
                {
                    warnings.Add($"A sequence delimiter inside the defined-length sequence {tag} was ignored.");
                }

                return sequence;
            }

            if (itemTag != DicomTag.Item)
            {
                throw new DicomFormatException($"Expected an item in sequence {tag} but found {itemTag}", itemOffset, tag);
            }

            var item = new DicomDataset { UndefinedLength = itemLength == UndefinedLength };
            sequence.Items.Add(item);
            if (itemLength == UndefinedLength)
            {
                ReadDataSet(item, syntax, end: -1, depth + 1, topLevel: false);
            }
            else
            {
                var itemEnd = input.Position + itemLength;
                if ((end >= 0 && itemEnd > end) || (input.Length is { } total2 && itemEnd > total2))
                {
                    throw new DicomFormatException($"Item length {itemLength} runs past the end of its sequence", itemOffset, tag);
                }

                ReadDataSet(item, syntax, itemEnd, depth + 1, topLevel: false);
            }

            currentTag = tag;
        }

        if (input.Position > end)
        {
            throw new DicomFormatException("Items run past the end of their sequence", input.Position, tag);
        }

        return sequence;
    }

    private DicomFragmentSequence ReadFragments(DicomTag tag, DicomVR vr, Syntax syntax)
    {
        DicomBuffer? offsetTable = null;
        var fragments = new List<DicomBuffer>();
        while (true)
        {
            var itemOffset = input.Position;
            if (!input.Ensure(8))
            {
                throw new DicomFormatException("Unexpected end of input in encapsulated pixel data", itemOffset, tag);
            }

            var itemTag = new DicomTag(input.ReadUInt16(syntax.BigEndian), input.ReadUInt16(syntax.BigEndian));
            var itemLength = input.ReadUInt32(syntax.BigEndian);
            CountElement(itemOffset, itemTag);
            if (itemTag == DicomTag.SequenceDelimitationItem)
            {
                return new DicomFragmentSequence(tag, vr, offsetTable ?? DicomBuffer.Empty, fragments);
            }

            if (itemTag != DicomTag.Item || itemLength == UndefinedLength)
            {
                throw new DicomFormatException($"Expected a fragment item in encapsulated pixel data but found {itemTag} with length 0x{itemLength:X8}", itemOffset, tag);
            }

            var value = ReadValue(tag, DicomVR.OB, itemLength, syntax, itemOffset);
            if (offsetTable is null)
            {
                offsetTable = value;
            }
            else
            {
                fragments.Add(value);
            }
        }
    }

    private void CountElement(long offset, DicomTag tag)
    {
        if (++elementCount > options.MaxElementCount)
        {
            throw new DicomLimitExceededException(nameof(options.MaxElementCount), options.MaxElementCount, offset, tag);
        }
    }

    internal static void SwapBytes(Span<byte> bytes, int unitSize)
    {
        var whole = bytes.Length / unitSize * unitSize;
        for (var i = 0; i < whole; i += unitSize)
        {
            bytes.Slice(i, unitSize).Reverse();
        }
    }

    /// <summary>Fails a read that goes beyond a byte budget: the zip-bomb guard of deflated data sets.</summary>
    private sealed class LimitedReadStream(Stream inner, long limit) : Stream
    {
        private long total;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => total; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer);
            total += n;
            if (total > limit)
            {
                throw new DicomLimitExceededException(nameof(DicomReadOptions.MaxInflatedLength), limit, total, null);
            }

            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
