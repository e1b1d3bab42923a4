using System.Globalization;
using System.Text;
using Hounsfield.Dicom.Text;

namespace Hounsfield.Dicom;

/// <summary>A readable text dump of a file, one line per element (tag, VR, value, length, VM, keyword), in the spirit of dcmdump.</summary>
public static class DicomDump
{
    private const int MaxShownValue = 64;
    private const int MaxShownBinaryValues = 16;

    public static void Write(TextWriter writer, DicomFile file)
    {
        writer.Write("# File meta information (");
        writer.Write(file.TransferSyntax.Name);
        writer.WriteLine(")");
        WriteDataset(writer, file.Meta, 0);
        writer.WriteLine("# Data set");
        WriteDataset(writer, file.Dataset, 0);
    }

    public static string ToString(DicomDataset dataset)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        WriteDataset(writer, dataset, 0);
        return writer.ToString();
    }

    public static void WriteDataset(TextWriter writer, DicomDataset dataset, int depth)
    {
        var line = new StringBuilder(128);
        foreach (var element in dataset)
        {
            line.Clear();
            line.Append(' ', depth * 2);
            AppendTag(line, element.Tag);
            line.Append(' ').Append(element.VR.ToCode()).Append(' ');
            long length;
            int multiplicity;
            switch (element)
            {
                case DicomSequence sequence:
                    line.Append("(Sequence with ").Append(sequence.UndefinedLength ? "undefined" : "explicit").Append(" length #=").Append(sequence.Items.Count).Append(')');
                    length = sequence.UndefinedLength ? -1 : sequence.Items.Sum(item => 8 + IO.DicomWriter.EncodedLength(item, DicomTransferSyntax.ExplicitVRLittleEndian) + (item.UndefinedLength ? 8 : 0));
                    multiplicity = 1;
                    break;
                case DicomFragmentSequence fragments:
                    line.Append("(PixelSequence #=").Append(fragments.Fragments.Count + 1).Append(')');
                    length = -1;
                    multiplicity = 1;
                    break;
                case DicomValueElement value:
                    multiplicity = AppendValue(line, dataset, value);
                    length = value.Length;
                    break;
                default:
                    continue;
            }

            Pad(line, (depth * 2) + 56);
            line.Append("# ").Append(length < 0 ? "u/l" : length.ToString(CultureInfo.InvariantCulture)).Append(", ").Append(multiplicity).Append(' ');
            line.Append(Keyword(dataset, element.Tag));
            writer.WriteLine(line);

            if (element is DicomSequence items)
            {
                for (var i = 0; i < items.Items.Count; i++)
                {
                    line.Clear().Append(' ', (depth + 1) * 2).Append("(FFFE,E000) na (Item #").Append(i + 1).Append(')');
                    writer.WriteLine(line);
                    WriteDataset(writer, items.Items[i], depth + 2);
                }
            }
            else if (element is DicomFragmentSequence pixelItems)
            {
                var indent = new string(' ', (depth + 1) * 2);
                writer.WriteLine($"{indent}(FFFE,E000) pi offset table, {pixelItems.BasicOffsetTable.Length} bytes");
                for (var i = 0; i < pixelItems.Fragments.Count; i++)
                {
                    writer.WriteLine($"{indent}(FFFE,E000) pi fragment #{i + 1}, {pixelItems.Fragments[i].Length} bytes");
                }
            }
        }
    }

    private static int AppendValue(StringBuilder line, DicomDataset dataset, DicomValueElement element)
    {
        if (element.Length == 0)
        {
            line.Append("(no value available)");
            return 0;
        }

        if (element.VR.HasBinaryValue())
        {
            var shown = Math.Min(element.Length, MaxShownBinaryValues);
            Span<byte> head = stackalloc byte[MaxShownBinaryValues];
            element.Buffer.Read(0, head[..(int)shown]);
            for (var i = 0; i < shown; i++)
            {
                line.Append(i == 0 ? string.Empty : "\\").Append(head[i].ToString("x2", CultureInfo.InvariantCulture));
            }

            if (element.Length > shown)
            {
                line.Append("...");
            }

            return 1;
        }

        if (!element.VR.IsString())
        {
            var values = dataset.GetStrings(element);
            AppendClipped(line, string.Join('\\', values), brackets: element.VR == DicomVR.AT);
            return values.Length;
        }

        var text = dataset.DecodeString(element).TrimEndPadding();
        AppendClipped(line, text, brackets: true);
        return element.VR.IsMultiValuedString() ? text.AsSpan().Count('\\') + 1 : 1;
    }

    private static void AppendClipped(StringBuilder line, string text, bool brackets)
    {
        var clipped = text.Length > MaxShownValue;
        if (brackets)
        {
            line.Append('[');
        }

        var start = line.Length;
        line.Append(text.AsSpan(0, clipped ? MaxShownValue : text.Length));
        for (var i = start; i < line.Length; i++)
        {
            if (char.IsControl(line[i]))
            {
                line[i] = '.';
            }
        }

        if (brackets)
        {
            line.Append(']');
        }

        if (clipped)
        {
            line.Append("...");
        }
    }

    private static void AppendTag(StringBuilder line, DicomTag tag)
    {
        Span<char> text = stackalloc char[11];
        text[0] = '(';
        tag.Group.TryFormat(text[1..], out _, "X4", CultureInfo.InvariantCulture);
        text[5] = ',';
        tag.Element.TryFormat(text[6..], out _, "X4", CultureInfo.InvariantCulture);
        text[10] = ')';
        line.Append(text);
    }

    private static string Keyword(DicomDataset dataset, DicomTag tag)
    {
        if (tag.IsPrivate && !tag.IsPrivateCreator)
        {
            var creator = dataset.GetPrivateCreator(tag);
            var entry = creator is null ? null : DicomDictionary.FindPrivate(creator, tag);
            return entry?.Keyword ?? (creator is null ? "PrivateTag" : $"Private [{creator}]");
        }

        return DicomDictionary.Find(tag)?.Keyword ?? "Unknown Tag & Data";
    }

    private static void Pad(StringBuilder line, int column)
    {
        if (line.Length < column)
        {
            line.Append(' ', column - line.Length);
        }
        else
        {
            line.Append(' ');
        }
    }
}
