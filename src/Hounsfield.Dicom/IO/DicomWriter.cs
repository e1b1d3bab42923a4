// Part 10 file format (PS3.10 §7.1), data set encoding (PS3.5 §7), encapsulation (PS3.5 A.4), deflate (PS3.5 A.5).
using System.Buffers.Binary;
using System.IO.Compression;

namespace Hounsfield.Dicom.IO;

public sealed record DicomWriteOptions
{
    public static readonly DicomWriteOptions Default = new();

    /// <summary>Implementation Class UID written in the meta information of files this library writes or transcodes.</summary>
    public string ImplementationClassUid { get; init; } = DicomImplementation.ClassUid;

    public string ImplementationVersionName { get; init; } = DicomImplementation.VersionName;

    public CompressionLevel DeflateLevel { get; init; } = CompressionLevel.Optimal;
}

/// <summary>Identity of this implementation in file meta information and associations (PS3.7 D.3.3.2).</summary>
public static class DicomImplementation
{
    public const string ClassUid = "2.25.237505117807266016578076930378106583707";

    public const string VersionName = "HOUNSFIELD_01";
}

/// <summary>Writes data sets and Part 10 files in any native transfer syntax; encapsulated pixel data is kept as fragments.</summary>
public static class DicomWriter
{
    private const uint UndefinedLength = 0xFFFFFFFF;

    public static void WriteFile(Stream stream, DicomFile file, DicomTransferSyntax transferSyntax, DicomWriteOptions? options = null)
    {
        options ??= DicomWriteOptions.Default;
        var meta = BuildMeta(file, transferSyntax, options);
        using var output = new DicomOutput(stream);
        output.Write(file.Preamble is { Length: 128 } preamble ? preamble : new byte[128]);
        output.Write("DICM"u8);
        WriteDataSetCore(output, meta, new Encoding(true, false));
        output.Flush();
        WriteDataSet(stream, file.Dataset, transferSyntax, options);
    }

    /// <summary>Writes a data set (no meta information) in <paramref name="transferSyntax"/>.</summary>
    public static void WriteDataSet(Stream stream, DicomDataset dataset, DicomTransferSyntax transferSyntax, DicomWriteOptions? options = null)
    {
        options ??= DicomWriteOptions.Default;
        var encoding = new Encoding(transferSyntax.IsExplicitVR, transferSyntax.IsBigEndian);
        if (transferSyntax.IsNative && ContainsFragments(dataset))
        {
            throw new InvalidOperationException($"Encapsulated pixel data cannot be written in {transferSyntax.Name}; decode it first.");
        }

        if (transferSyntax.IsDeflated)
        {
            using var deflate = new DeflateStream(stream, options.DeflateLevel, leaveOpen: true);
            using var deflated = new DicomOutput(deflate);
            WriteDataSetCore(deflated, dataset, encoding);
            deflated.Flush();
            return;
        }

        using var output = new DicomOutput(stream);
        WriteDataSetCore(output, dataset, encoding);
        output.Flush();
    }

    /// <summary>The meta information to write: what was read, completed and corrected for <paramref name="transferSyntax"/> (PS3.10 §7.1).</summary>
    public static DicomDataset BuildMeta(DicomFile file, DicomTransferSyntax transferSyntax, DicomWriteOptions options)
    {
        var meta = new DicomDataset();
        foreach (var element in file.Meta)
        {
            if (!element.Tag.IsGroupLength)
            {
                meta.Add(element);
            }
        }

        if (!meta.Contains(DicomTag.FileMetaInformationVersion))
        {
            meta.AddOrUpdate(DicomTag.FileMetaInformationVersion, DicomVR.OB, new byte[] { 0x00, 0x01 });
        }

        CopyUid(DicomTag.MediaStorageSOPClassUID, DicomTag.SOPClassUID);
        CopyUid(DicomTag.MediaStorageSOPInstanceUID, DicomTag.SOPInstanceUID);
        var transcoded = !transferSyntax.Equals(file.TransferSyntax);
        meta.AddOrUpdate(DicomTag.TransferSyntaxUID, DicomVR.UI, transferSyntax.Uid);
        if (transcoded || !meta.Contains(DicomTag.ImplementationClassUID))
        {
            meta.AddOrUpdate(DicomTag.ImplementationClassUID, DicomVR.UI, options.ImplementationClassUid);
            meta.AddOrUpdate(DicomTag.ImplementationVersionName, DicomVR.SH, options.ImplementationVersionName);
        }

        var groupLength = 0L;
        foreach (var element in meta)
        {
            groupLength += EncodedLength(element, new Encoding(true, false));
        }

        meta.AddOrUpdate(DicomTag.FileMetaInformationGroupLength, DicomVR.UL, (uint)groupLength);
        return meta;

        void CopyUid(DicomTag metaTag, DicomTag datasetTag)
        {
            if (string.IsNullOrEmpty(meta.GetString(metaTag)) && file.Dataset.GetString(datasetTag) is { Length: > 0 } uid)
            {
                meta.AddOrUpdate(metaTag, DicomVR.UI, uid);
            }
        }
    }

    /// <summary>Bytes <paramref name="dataset"/> occupies in the given encoding (item headers excluded).</summary>
    public static long EncodedLength(DicomDataset dataset, DicomTransferSyntax transferSyntax) =>
        DataSetLength(dataset, new Encoding(transferSyntax.IsExplicitVR, transferSyntax.IsBigEndian));

    private readonly record struct Encoding(bool ExplicitVR, bool BigEndian);

    private static bool ContainsFragments(DicomDataset dataset)
    {
        foreach (var element in dataset)
        {
            if (element is DicomFragmentSequence)
            {
                return true;
            }
        }

        return false;
    }

    private static void WriteDataSetCore(DicomOutput output, DicomDataset dataset, Encoding encoding)
    {
        var list = dataset.Elements;
        for (var i = 0; i < list.Count; i++)
        {
            var element = list[i];
            if (element.Tag.IsGroupLength && element is DicomValueElement)
            {
                var groupLength = 0L;
                for (var j = i + 1; j < list.Count && list[j].Tag.Group == element.Tag.Group; j++)
                {
                    groupLength += EncodedLength(list[j], encoding);
                }

                var bytes = new byte[4];
                BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)groupLength);
                WriteElement(output, new DicomValueElement(element.Tag, DicomVR.UL, bytes), encoding);
            }
            else
            {
                WriteElement(output, element, encoding);
            }
        }
    }

    private static void WriteElement(DicomOutput output, DicomElement element, Encoding encoding)
    {
        switch (element)
        {
            case DicomValueElement value:
                WriteValueElement(output, value, encoding);
                break;
            case DicomSequence sequence:
                WriteHeader(output, sequence.Tag, DicomVR.SQ, sequence.UndefinedLength ? UndefinedLength : checked((uint)SequenceContentLength(sequence, encoding)), encoding);
                foreach (var item in sequence.Items)
                {
                    WriteTag(output, DicomTag.Item, UndefinedLengthOr(item.UndefinedLength, () => DataSetLength(item, encoding)), encoding);
                    WriteDataSetCore(output, item, encoding);
                    if (item.UndefinedLength)
                    {
                        WriteTag(output, DicomTag.ItemDelimitationItem, 0, encoding);
                    }
                }

                if (sequence.UndefinedLength)
                {
                    WriteTag(output, DicomTag.SequenceDelimitationItem, 0, encoding);
                }

                break;
            case DicomFragmentSequence fragments:
                WriteHeader(output, fragments.Tag, fragments.VR, UndefinedLength, encoding);
                WriteTag(output, DicomTag.Item, checked((uint)fragments.BasicOffsetTable.Length), encoding);
                output.Write(fragments.BasicOffsetTable);
                foreach (var fragment in fragments.Fragments)
                {
                    var padded = (fragment.Length & 1) == 1;
                    WriteTag(output, DicomTag.Item, checked((uint)(fragment.Length + (padded ? 1 : 0))), encoding);
                    output.Write(fragment);
                    if (padded)
                    {
                        output.WriteByte(0);
                    }
                }

                WriteTag(output, DicomTag.SequenceDelimitationItem, 0, encoding);
                break;
        }
    }

    private static uint UndefinedLengthOr(bool undefined, Func<long> length) => undefined ? UndefinedLength : checked((uint)length());

    private static void WriteValueElement(DicomOutput output, DicomValueElement element, Encoding encoding)
    {
        var length = element.Length;
        var padded = (length & 1) == 1;
        var vr = element.VR;
        if (encoding.ExplicitVR && !vr.HasLongLength() && length + (padded ? 1 : 0) > 0xFFFF)
        {
            vr = DicomVR.UN; // PS3.5 §6.2.2 note: a value too long for a 16-bit length is written as UN.
        }

        WriteHeader(output, element.Tag, vr, checked((uint)(length + (padded ? 1 : 0))), encoding);
        var unit = element.VR.UnitSize();
        if (encoding.BigEndian && unit > 1 && vr != DicomVR.UN)
        {
            var swapped = element.Buffer.GetMemory().ToArray();
            DicomReader.SwapBytes(swapped, unit);
            output.Write(swapped);
        }
        else
        {
            output.Write(element.Buffer);
        }

        if (padded)
        {
            output.WriteByte(element.VR.PaddingByte());
        }
    }

    private static void WriteHeader(DicomOutput output, DicomTag tag, DicomVR vr, uint length, Encoding encoding)
    {
        Span<byte> header = stackalloc byte[12];
        WriteUInt16(header, tag.Group, encoding.BigEndian);
        WriteUInt16(header[2..], tag.Element, encoding.BigEndian);
        if (!encoding.ExplicitVR)
        {
            WriteUInt32(header[4..], length, encoding.BigEndian);
            output.Write(header[..8]);
            return;
        }

        header[4] = (byte)((ushort)vr >> 8);
        header[5] = (byte)vr;
        if (vr.HasLongLength())
        {
            header[6] = 0;
            header[7] = 0;
            WriteUInt32(header[8..], length, encoding.BigEndian);
            output.Write(header);
        }
        else
        {
            WriteUInt16(header[6..], (ushort)length, encoding.BigEndian);
            output.Write(header[..8]);
        }
    }

    private static void WriteTag(DicomOutput output, DicomTag tag, uint length, Encoding encoding)
    {
        Span<byte> header = stackalloc byte[8];
        WriteUInt16(header, tag.Group, encoding.BigEndian);
        WriteUInt16(header[2..], tag.Element, encoding.BigEndian);
        WriteUInt32(header[4..], length, encoding.BigEndian);
        output.Write(header);
    }

    private static long DataSetLength(DicomDataset dataset, Encoding encoding)
    {
        var total = 0L;
        foreach (var element in dataset)
        {
            total += EncodedLength(element, encoding);
        }

        return total;
    }

    private static long SequenceContentLength(DicomSequence sequence, Encoding encoding)
    {
        var total = 0L;
        foreach (var item in sequence.Items)
        {
            total += 8 + DataSetLength(item, encoding) + (item.UndefinedLength ? 8 : 0);
        }

        return total;
    }

    private static long EncodedLength(DicomElement element, Encoding encoding)
    {
        switch (element)
        {
            case DicomValueElement value:
                var length = value.Length + (value.Length & 1);
                var longHeader = !encoding.ExplicitVR || value.VR.HasLongLength() || length > 0xFFFF;
                return (encoding.ExplicitVR ? (longHeader ? 12 : 8) : 8) + length;
            case DicomSequence sequence:
                return (encoding.ExplicitVR ? 12 : 8) + SequenceContentLength(sequence, encoding) + (sequence.UndefinedLength ? 8 : 0);
            case DicomFragmentSequence fragments:
                var content = 8 + fragments.BasicOffsetTable.Length + 8;
                foreach (var fragment in fragments.Fragments)
                {
                    content += 8 + fragment.Length + (fragment.Length & 1);
                }

                return (encoding.ExplicitVR ? 12 : 8) + content;
            default:
                return 0;
        }
    }

    private static void WriteUInt16(Span<byte> span, ushort value, bool bigEndian)
    {
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt16BigEndian(span, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span, value);
        }
    }

    private static void WriteUInt32(Span<byte> span, uint value, bool bigEndian)
    {
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt32BigEndian(span, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(span, value);
        }
    }

    /// <summary>A pooled write buffer in front of the destination stream.</summary>
    private sealed class DicomOutput(Stream destination) : IDisposable
    {
        private byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
        private int count;

        public void Write(ReadOnlySpan<byte> bytes)
        {
            if (bytes.Length > buffer.Length - count)
            {
                Flush();
                if (bytes.Length > buffer.Length)
                {
                    destination.Write(bytes);
                    return;
                }
            }

            bytes.CopyTo(buffer.AsSpan(count));
            count += bytes.Length;
        }

        public void Write(DicomBuffer value)
        {
            if (value.IsInMemory)
            {
                Write(value.GetMemory().Span);
                return;
            }

            Flush();
            value.CopyTo(destination);
        }

        public void WriteByte(byte value) => Write([value]);

        public void Flush()
        {
            if (count > 0)
            {
                destination.Write(buffer, 0, count);
                count = 0;
            }
        }

        public void Dispose()
        {
            if (buffer.Length > 0)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                buffer = [];
            }
        }
    }
}
