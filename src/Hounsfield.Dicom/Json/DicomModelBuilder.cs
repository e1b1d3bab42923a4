using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Hounsfield.Dicom.Json;

/// <summary>
/// Builds the data sets the JSON and XML readers read. Text of VRs that use the Specific Character Set is held back
/// until the whole document is read, then encoded in the character set of the data set it belongs to: an item's
/// own (0008,0005), else its parent's. When no data set declares one and some such text is not ASCII, the top
/// level gets "ISO_IR 192" and the text is encoded as UTF-8.
/// </summary>
internal sealed class DicomModelBuilder(DicomJsonReadOptions options, Func<string, DicomTag?, long, DicomFormatException> fail)
{
    private const string Utf8Term = "ISO_IR 192";

    private readonly List<PendingText> pending = [];

    public DicomJsonReadOptions Options => options;

    public DicomFormatException Fail(string problem, DicomTag? tag, long position) => fail(problem, tag, position);

    /// <summary>Adds a string element; a null value is an empty value.</summary>
    public void AddText(DicomDataset dataset, DicomTag tag, DicomVR vr, IReadOnlyList<string?> values, long position)
    {
        if (values.Count == 0)
        {
            dataset.Add(new DicomValueElement(tag, vr, ReadOnlyMemory<byte>.Empty));
            return;
        }

        if (values.Count > 1 && !vr.IsMultiValuedString())
        {
            throw fail($"VR {vr.ToCode()} holds one value, not {values.Count}", tag, position);
        }

        var text = new StringBuilder();
        for (var i = 0; i < values.Count; i++)
        {
            var value = values[i] ?? string.Empty;
            if (vr.IsMultiValuedString() && value.Contains('\\', StringComparison.Ordinal))
            {
                throw fail($"value {i + 1} contains a backslash, the value delimiter of VR {vr.ToCode()}", tag, position);
            }

            if (i > 0)
            {
                text.Append('\\');
            }

            text.Append(value);
        }

        if (text.Length == 0)
        {
            // One empty value is an empty element, as the writers write an element of only padding (PS3.18 F.2.5).
            dataset.Add(new DicomValueElement(tag, vr, ReadOnlyMemory<byte>.Empty));
            return;
        }

        if (vr.UsesSpecificCharacterSet())
        {
            pending.Add(new PendingText(dataset, tag, vr, text.ToString(), position));
            return;
        }

        // Default-repertoire VRs: the data set decodes them as Latin-1, so they are encoded the same way.
        var bytes = new byte[text.Length];
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] > 0xFF)
            {
                throw fail($"VR {vr.ToCode()} allows only the default character repertoire; '{text[i]}' is outside it", tag, position);
            }

            bytes[i] = (byte)text[i];
        }

        dataset.Add(new DicomValueElement(tag, vr, DicomDataset.PadToEven(bytes, vr)));
    }

    /// <summary>Adds an element whose value is given as bytes (InlineBinary, or values already encoded).</summary>
    public static void AddBytes(DicomDataset dataset, DicomTag tag, DicomVR vr, byte[] bytes) =>
        dataset.Add(new DicomValueElement(tag, vr, vr.IsString() ? DicomDataset.PadToEven(bytes, vr) : bytes));

    /// <summary>Resolves a bulk data reference through the options, or adds the element empty and reports it.</summary>
    public void AddBulkData(DicomDataset dataset, DicomTag tag, DicomVR vr, string uri, IReadOnlyList<(DicomTag Tag, int Item)> parents)
    {
        if (vr == DicomVR.SQ)
        {
            dataset.Add(new DicomSequence(tag));
        }
        else if (options.BulkDataResolver?.Invoke(uri, tag, vr) is { } bytes)
        {
            dataset.Add(new DicomValueElement(tag, vr, bytes));
            return;
        }
        else
        {
            dataset.Add(new DicomValueElement(tag, vr, ReadOnlyMemory<byte>.Empty));
        }

        options.UnresolvedBulkData?.Invoke(new DicomBulkDataReference(new DicomElementPath([.. parents], tag), vr, uri, dataset));
    }

    /// <summary>Encodes the held-back text once the document is read.</summary>
    public void Finish(DicomDataset root)
    {
        if (!root.Contains(DicomTag.SpecificCharacterSet) && pending.Exists(p => !Ascii.IsValid(p.Text) && InheritsFrom(p.Dataset, root)))
        {
            root.AddOrUpdate(DicomTag.SpecificCharacterSet, DicomVR.CS, Utf8Term);
        }

        foreach (var text in pending)
        {
            byte[] bytes;
            try
            {
                bytes = text.Dataset.CharacterSet.Encode(text.Text, text.VR);
            }
            catch (DicomFormatException exception)
            {
                throw fail($"the value cannot be encoded in the character set {text.Dataset.CharacterSet}: {exception.Message}", text.Tag, text.Position);
            }

            text.Dataset.Add(new DicomValueElement(text.Tag, text.VR, DicomDataset.PadToEven(bytes, text.VR)));
        }

        pending.Clear();
    }

    /// <summary>Parses one value of a binary numeric VR from text and appends its little-endian bytes.</summary>
    public static bool TryAppendNumber(string text, DicomVR vr, List<byte> output)
    {
        const NumberStyles integer = NumberStyles.AllowLeadingSign | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite;
        const NumberStyles real = NumberStyles.Float;
        var culture = CultureInfo.InvariantCulture;
        Span<byte> bytes = stackalloc byte[8];
        int size;
        switch (vr)
        {
            case DicomVR.US when ushort.TryParse(text, integer, culture, out var us):
                BinaryPrimitives.WriteUInt16LittleEndian(bytes, us);
                size = 2;
                break;
            case DicomVR.SS when short.TryParse(text, integer, culture, out var ss):
                BinaryPrimitives.WriteInt16LittleEndian(bytes, ss);
                size = 2;
                break;
            case DicomVR.UL when uint.TryParse(text, integer, culture, out var ul):
                BinaryPrimitives.WriteUInt32LittleEndian(bytes, ul);
                size = 4;
                break;
            case DicomVR.SL when int.TryParse(text, integer, culture, out var sl):
                BinaryPrimitives.WriteInt32LittleEndian(bytes, sl);
                size = 4;
                break;
            case DicomVR.UV when ulong.TryParse(text, integer, culture, out var uv):
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, uv);
                size = 8;
                break;
            case DicomVR.SV when long.TryParse(text, integer, culture, out var sv):
                BinaryPrimitives.WriteInt64LittleEndian(bytes, sv);
                size = 8;
                break;
            case DicomVR.FL when TryParseReal(text, real, out var fl):
                BinaryPrimitives.WriteSingleLittleEndian(bytes, (float)fl);
                size = 4;
                break;
            case DicomVR.FD when TryParseReal(text, real, out var fd):
                BinaryPrimitives.WriteDoubleLittleEndian(bytes, fd);
                size = 8;
                break;
            default:
                return false;
        }

        for (var i = 0; i < size; i++)
        {
            output.Add(bytes[i]);
        }

        return true;
    }

    /// <summary>"GGGGEEEE" as the four little-endian bytes of an AT value.</summary>
    public static bool TryAppendTag(string text, List<byte> output)
    {
        if (text.Length != 8 || !uint.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }

        var tag = new DicomTag(value);
        output.Add((byte)tag.Group);
        output.Add((byte)(tag.Group >> 8));
        output.Add((byte)tag.Element);
        output.Add((byte)(tag.Element >> 8));
        return true;
    }

    /// <summary>An element key: exactly eight hexadecimal digits.</summary>
    public static bool TryParseTag(ReadOnlySpan<char> text, out DicomTag tag)
    {
        tag = default;
        if (text.Length != 8 || text.ContainsAnyExcept("0123456789ABCDEFabcdef"))
        {
            return false;
        }

        tag = new DicomTag(uint.Parse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
        return true;
    }

    private static bool TryParseReal(string text, NumberStyles styles, out double value)
    {
        var trimmed = text.Trim();
        switch (trimmed)
        {
            case "INF" or "+INF" or "Infinity" or "+Infinity":
                value = double.PositiveInfinity;
                return true;
            case "-INF" or "-Infinity":
                value = double.NegativeInfinity;
                return true;
            case "NaN":
                value = double.NaN;
                return true;
            default:
                return double.TryParse(trimmed, styles, CultureInfo.InvariantCulture, out value);
        }
    }

    /// <summary>Whether the data set takes its character set from <paramref name="root"/> (no item on the way declares one).</summary>
    private static bool InheritsFrom(DicomDataset dataset, DicomDataset root)
    {
        for (var current = dataset; current is not null && current != root; current = current.Parent)
        {
            if (current.Contains(DicomTag.SpecificCharacterSet))
            {
                return false;
            }
        }

        return true;
    }

    private sealed record PendingText(DicomDataset Dataset, DicomTag Tag, DicomVR VR, string Text, long Position);
}
