using System.Collections.ObjectModel;
using Hounsfield.Dicom.IO;

namespace Hounsfield.Dicom;

/// <summary>A data element of a data set: a value, a sequence of items, or encapsulated pixel data fragments.</summary>
public abstract class DicomElement
{
    protected DicomElement(DicomTag tag, DicomVR vr)
    {
        Tag = tag;
        VR = vr;
    }

    public DicomTag Tag { get; }

    public DicomVR VR { get; }

    public override string ToString() => $"{Tag} {VR.ToCode()}";
}

/// <summary>An element whose value is a run of bytes (little-endian for binary VRs, as encoded for strings).</summary>
public sealed class DicomValueElement : DicomElement
{
    public DicomValueElement(DicomTag tag, DicomVR vr, DicomBuffer buffer)
        : base(tag, vr)
    {
        Buffer = buffer;
    }

    public DicomValueElement(DicomTag tag, DicomVR vr, ReadOnlyMemory<byte> bytes)
        : this(tag, vr, DicomBuffer.FromBytes(bytes))
    {
    }

    public DicomBuffer Buffer { get; }

    public long Length => Buffer.Length;

    /// <summary>The value bytes; for a lazily read value this reads them from the source now.</summary>
    public ReadOnlySpan<byte> Span => Buffer.GetMemory().Span;
}

/// <summary>A sequence of items (PS3.5 §7.5). Items know the sequence's data set, for inherited character sets.</summary>
public sealed class DicomSequence : DicomElement
{
    public DicomSequence(DicomTag tag, params IEnumerable<DicomDataset> items)
        : base(tag, DicomVR.SQ)
    {
        Items = new DicomSequenceItems(this);
        foreach (var item in items)
        {
            Items.Add(item);
        }
    }

    public Collection<DicomDataset> Items { get; }

    /// <summary>Whether the sequence was (and by default will be) encoded with undefined length.</summary>
    public bool UndefinedLength { get; set; } = true;

    /// <summary>The data set holding this sequence; set when the sequence is added to one.</summary>
    public DicomDataset? Owner { get; internal set; }

    private sealed class DicomSequenceItems(DicomSequence sequence) : Collection<DicomDataset>
    {
        protected override void InsertItem(int index, DicomDataset item)
        {
            item.ParentSequence = sequence;
            base.InsertItem(index, item);
        }

        protected override void SetItem(int index, DicomDataset item)
        {
            item.ParentSequence = sequence;
            base.SetItem(index, item);
        }
    }
}

/// <summary>Encapsulated pixel data (PS3.5 A.4): a Basic Offset Table item and the fragments that follow.</summary>
public sealed class DicomFragmentSequence : DicomElement
{
    public DicomFragmentSequence(DicomTag tag, DicomVR vr, DicomBuffer basicOffsetTable, IEnumerable<DicomBuffer> fragments)
        : base(tag, vr)
    {
        BasicOffsetTable = basicOffsetTable;
        Fragments = [.. fragments];
    }

    /// <summary>The first item's value: empty, or one 32-bit offset per frame into the fragment stream.</summary>
    public DicomBuffer BasicOffsetTable { get; }

    public List<DicomBuffer> Fragments { get; }

    /// <summary>The length of <see cref="GetEncodedItems"/>, known without reading a fragment.</summary>
    public long EncodedItemsLength => 8 + BasicOffsetTable.Length + Fragments.Sum(f => 8 + f.Length);

    /// <summary>The value as its items are encoded (offset table item, then fragment items, without the delimiter), for InlineBinary.</summary>
    public byte[] GetEncodedItems()
    {
        using var memory = new MemoryStream();
        Span<byte> header = stackalloc byte[8];
        WriteItem(memory, header, BasicOffsetTable);
        foreach (var fragment in Fragments)
        {
            WriteItem(memory, header, fragment);
        }

        return memory.ToArray();

        static void WriteItem(MemoryStream memory, Span<byte> header, DicomBuffer value)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(header, DicomTag.Item.Group);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(header[2..], DicomTag.Item.Element);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)value.Length);
            memory.Write(header);
            value.CopyTo(memory);
        }
    }

    /// <summary>Offsets of the Basic Offset Table, or empty when it is empty.</summary>
    public uint[] GetBasicOffsets()
    {
        var bytes = BasicOffsetTable.GetMemory().Span;
        var offsets = new uint[bytes.Length / 4];
        for (var i = 0; i < offsets.Length; i++)
        {
            offsets[i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes[(i * 4)..]);
        }

        return offsets;
    }
}
