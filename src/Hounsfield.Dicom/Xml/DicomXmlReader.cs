// Native DICOM Model, PS3.19 Annex A.1.
using System.Globalization;
using System.Text;
using System.Xml;
using Hounsfield.Dicom.Json;

namespace Hounsfield.Dicom.Xml;

/// <summary>
/// Reads a data set from the Native DICOM Model (PS3.19 A.1), the inverse of <see cref="DicomXmlWriter"/>. DTDs are
/// refused and no external resource is ever fetched. Value and PersonName numbers give the position of each value
/// (a gap is an empty value). Malformed XML or content that does not fit the model raises
/// <see cref="DicomFormatException"/> naming the line, position and tag.
/// </summary>
public static class DicomXmlReader
{
    private const int MaxValueNumber = 1 << 24;

    private static readonly string[] ComponentNames = ["FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix"];

    public static DicomDataset Read(string xml, DicomJsonReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(xml);
        var opts = options ?? DicomJsonReadOptions.Default;
        using var reader = XmlReader.Create(new StringReader(xml), ReaderSettings(opts));
        return Read(reader, opts);
    }

    /// <summary>Reads a document from the stream (its encoding from the XML declaration or byte order mark; UTF-8 by default).</summary>
    public static DicomDataset Read(Stream stream, DicomJsonReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var opts = options ?? DicomJsonReadOptions.Default;
        using var reader = XmlReader.Create(stream, ReaderSettings(opts));
        return Read(reader, opts);
    }

    private static XmlReaderSettings ReaderSettings(DicomJsonReadOptions options) => new()
    {
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        IgnoreComments = true,
        IgnoreProcessingInstructions = true,
        IgnoreWhitespace = false, // whitespace inside a Value is data
        MaxCharactersInDocument = options.MaxInputLength,
        CloseInput = false,
    };

    private static DicomDataset Read(XmlReader reader, DicomJsonReadOptions options)
    {
        try
        {
            if (reader.MoveToContent() != XmlNodeType.Element || reader.LocalName != "NativeDicomModel" || !IsModelNamespace(reader))
            {
                throw Fail(reader, $"the root element must be NativeDicomModel in namespace {DicomXmlWriter.Namespace}, not {reader.NodeType} '{reader.Name}'", null);
            }

            var builder = new DicomModelBuilder(options, (problem, tag, position) => Fail(problem, tag, (int)(position >> 32), (int)position));
            var dataset = new DicomDataset();
            ReadDataset(reader, dataset, builder, []);
            while (reader.Read())
            {
                // The XmlReader itself rejects a second root element or text after the root.
            }

            builder.Finish(dataset);
            return dataset;
        }
        catch (XmlException exception)
        {
            throw new DicomFormatException($"Invalid Native DICOM Model XML: {exception.Message}", exception);
        }
    }

    /// <summary>Reads the DicomAttribute children of the element the reader is on (NativeDicomModel or Item).</summary>
    private static void ReadDataset(XmlReader reader, DicomDataset dataset, DicomModelBuilder builder, List<(DicomTag Tag, int Item)> path)
    {
        if (reader.IsEmptyElement)
        {
            return;
        }

        HashSet<uint>? seen = null;
        while (NextChild(reader, builder, null))
        {
            if (!IsModelElement(reader, "DicomAttribute"))
            {
                throw Fail(reader, $"expected a DicomAttribute element, found '{reader.Name}'", null);
            }

            var tagText = reader.GetAttribute("tag");
            if (tagText is null || !DicomModelBuilder.TryParseTag(tagText, out var tag))
            {
                throw Fail(reader, $"a DicomAttribute needs a tag attribute of eight hexadecimal digits, not '{tagText}'", null);
            }

            var vrText = reader.GetAttribute("vr");
            if (vrText is null || !DicomVRInfo.TryParse(vrText, out var vr))
            {
                throw Fail(reader, vrText is null ? "the DicomAttribute has no vr attribute" : $"'{vrText}' is not a value representation", tag);
            }

            if (!(seen ??= []).Add(tag.Value))
            {
                throw Fail(reader, "the element appears twice in one data set", tag);
            }

            ReadAttribute(reader, dataset, tag, vr, builder, path);
        }
    }

    private enum Content
    {
        None,
        Value,
        PersonName,
        Item,
        InlineBinary,
        BulkData,
    }

    /// <summary>Reads one DicomAttribute's content; the reader ends on its end tag.</summary>
    private static void ReadAttribute(XmlReader reader, DicomDataset dataset, DicomTag tag, DicomVR vr, DicomModelBuilder builder, List<(DicomTag Tag, int Item)> path)
    {
        var position = Position(reader);
        var content = Content.None;
        var texts = new List<string?>();
        var lastNumber = 0;
        DicomSequence? sequence = vr == DicomVR.SQ ? new DicomSequence(tag) : null;
        byte[]? inline = null;
        string? bulkDataUri = null;

        if (sequence is not null)
        {
            dataset.Add(sequence);
        }

        if (!reader.IsEmptyElement)
        {
            while (NextChild(reader, builder, tag))
            {
                var kind = !IsModelNamespace(reader) ? Content.None : reader.LocalName switch
                {
                    "Value" => Content.Value,
                    "PersonName" => Content.PersonName,
                    "Item" => Content.Item,
                    "InlineBinary" => Content.InlineBinary,
                    "BulkData" => Content.BulkData,
                    _ => Content.None,
                };
                if (kind == Content.None)
                {
                    throw Fail(reader, $"unexpected element '{reader.Name}' in a DicomAttribute", tag);
                }

                if (content != Content.None && (content != kind || kind is Content.InlineBinary or Content.BulkData))
                {
                    throw Fail(reader, $"a DicomAttribute holds either Value, PersonName, Item, InlineBinary or BulkData children, not {content} and {kind}", tag);
                }

                content = kind;
                switch (kind)
                {
                    case Content.Value or Content.PersonName:
                        var number = ReadNumber(reader, lastNumber, tag);
                        while (texts.Count < number - 1)
                        {
                            texts.Add(null); // a skipped number is an empty value
                        }

                        lastNumber = number;
                        texts.Add(kind == Content.Value ? ReadText(reader, builder, tag) : ReadPersonName(reader, builder, tag));
                        break;
                    case Content.Item:
                        if (sequence is null)
                        {
                            throw Fail(reader, $"VR {vr.ToCode()} cannot hold Item children", tag);
                        }

                        var itemNumber = ReadNumber(reader, lastNumber, tag);
                        if (itemNumber != sequence.Items.Count + 1)
                        {
                            throw Fail(reader, $"Item number {itemNumber} where {sequence.Items.Count + 1} was expected", tag);
                        }

                        lastNumber = itemNumber;
                        var item = new DicomDataset();
                        sequence.Items.Add(item);
                        path.Add((tag, itemNumber - 1));
                        ReadDataset(reader, item, builder, path);
                        path.RemoveAt(path.Count - 1);
                        break;
                    case Content.InlineBinary:
                        inline = ReadBase64(reader, tag);
                        break;
                    case Content.BulkData:
                        bulkDataUri = reader.GetAttribute("uri") ?? reader.GetAttribute("uuid")
                            ?? throw Fail(reader, "BulkData needs a uri attribute", tag);
                        SkipElement(reader, builder, tag);
                        break;
                }
            }
        }

        if (sequence is not null)
        {
            if (content is Content.Value or Content.PersonName or Content.InlineBinary)
            {
                throw Fail(reader, $"a sequence holds Item children, not {content}", tag);
            }

            if (bulkDataUri is not null)
            {
                builder.AddBulkData(dataset, tag, vr, bulkDataUri, path);
            }

            return;
        }

        switch (content)
        {
            case Content.None:
                dataset.Add(new DicomValueElement(tag, vr, ReadOnlyMemory<byte>.Empty));
                break;
            case Content.InlineBinary:
                DicomModelBuilder.AddBytes(dataset, tag, vr, inline!);
                break;
            case Content.BulkData:
                builder.AddBulkData(dataset, tag, vr, bulkDataUri!, path);
                break;
            case Content.PersonName when vr != DicomVR.PN:
                throw Fail(reader, $"VR {vr.ToCode()} cannot hold PersonName children", tag);
            default:
                AddValues(reader, dataset, tag, vr, texts, builder, position);
                break;
        }
    }

    private static void AddValues(XmlReader reader, DicomDataset dataset, DicomTag tag, DicomVR vr, List<string?> texts, DicomModelBuilder builder, long position)
    {
        if (vr.IsBulk())
        {
            throw Fail(reader, $"VR {vr.ToCode()} takes InlineBinary or BulkData, not Value", tag);
        }

        if (vr == DicomVR.AT || vr.IsBinaryNumber())
        {
            var bytes = new List<byte>();
            for (var i = 0; i < texts.Count; i++)
            {
                var text = texts[i];
                var ok = text is not null && (vr == DicomVR.AT ? DicomModelBuilder.TryAppendTag(text.Trim(), bytes) : DicomModelBuilder.TryAppendNumber(text, vr, bytes));
                if (!ok)
                {
                    throw Fail(reader, text is null ? $"value {i + 1} is missing; VR {vr.ToCode()} has no empty values" : $"value {i + 1} '{text}' is not a valid {vr.ToCode()} value", tag);
                }
            }

            dataset.Add(new DicomValueElement(tag, vr, bytes.ToArray()));
            return;
        }

        builder.AddText(dataset, tag, vr, texts, position);
    }

    /// <summary>The number attribute of a Value, PersonName or Item: after the previous one, and the next one when absent.</summary>
    private static int ReadNumber(XmlReader reader, int previous, DicomTag tag)
    {
        var text = reader.GetAttribute("number");
        if (text is null)
        {
            return previous + 1;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number <= previous || number > MaxValueNumber)
        {
            throw Fail(reader, $"number=\"{text}\" must be a whole number above {previous} and at most {MaxValueNumber}", tag);
        }

        return number;
    }

    /// <summary>A PersonName's component groups as the encoded form "A=I=P", each "family^given^middle^prefix^suffix".</summary>
    private static string ReadPersonName(XmlReader reader, DicomModelBuilder builder, DicomTag tag)
    {
        var groups = new string?[3];
        if (!reader.IsEmptyElement)
        {
            while (NextChild(reader, builder, tag))
            {
                var group = !IsModelNamespace(reader) ? -1 : reader.LocalName switch
                {
                    "Alphabetic" or "SingleByte" => 0, // SingleByte: the name before PS3.19-2013
                    "Ideographic" => 1,
                    "Phonetic" => 2,
                    _ => -1,
                };
                if (group < 0)
                {
                    throw Fail(reader, $"unexpected element '{reader.Name}' in a PersonName", tag);
                }

                if (groups[group] is not null)
                {
                    throw Fail(reader, $"the {reader.LocalName} group appears twice in a PersonName", tag);
                }

                groups[group] = ReadComponents(reader, builder, tag);
            }
        }

        var count = groups[2] is not null ? 3 : groups[1] is not null ? 2 : groups[0] is not null ? 1 : 0;
        return string.Join('=', groups.Take(count).Select(g => g ?? string.Empty));
    }

    private static string ReadComponents(XmlReader reader, DicomModelBuilder builder, DicomTag tag)
    {
        var components = new string?[ComponentNames.Length];
        if (!reader.IsEmptyElement)
        {
            while (NextChild(reader, builder, tag))
            {
                var index = IsModelNamespace(reader) ? Array.IndexOf(ComponentNames, reader.LocalName) : -1;
                if (index < 0)
                {
                    throw Fail(reader, $"unexpected element '{reader.Name}' in a person name component group", tag);
                }

                if (components[index] is not null)
                {
                    throw Fail(reader, $"{reader.LocalName} appears twice in a person name component group", tag);
                }

                components[index] = ReadText(reader, builder, tag);
            }
        }

        var count = Array.FindLastIndex(components, c => c is not null) + 1;
        return string.Join('^', components.Take(count).Select(c => c ?? string.Empty));
    }

    /// <summary>Decodes the base64 content of a leaf element chunk by chunk; the reader ends on its end tag.</summary>
    private static byte[] ReadBase64(XmlReader reader, DicomTag tag)
    {
        if (reader.IsEmptyElement)
        {
            return [];
        }

        using var bytes = new MemoryStream();
        var buffer = new byte[65536];
        try
        {
            reader.Read();
            int n;
            while ((n = reader.ReadContentAsBase64(buffer, 0, buffer.Length)) > 0)
            {
                bytes.Write(buffer, 0, n);
            }
        }
        catch (Exception exception) when (exception is FormatException or XmlException)
        {
            throw Fail(reader, "InlineBinary is not valid base64", tag);
        }

        if (reader.NodeType != XmlNodeType.EndElement)
        {
            throw Fail(reader, $"unexpected {reader.NodeType} '{reader.Name}' inside InlineBinary", tag);
        }

        return bytes.ToArray();
    }

    /// <summary>The text content of a leaf element; the reader ends on its end tag (or stays on an empty element).</summary>
    private static string ReadText(XmlReader reader, DicomModelBuilder builder, DicomTag tag)
    {
        if (reader.IsEmptyElement)
        {
            return string.Empty;
        }

        var text = new StringBuilder();
        while (reader.Read())
        {
            switch (reader.NodeType)
            {
                case XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace:
                    text.Append(reader.Value);
                    break;
                case XmlNodeType.EndElement:
                    return text.ToString();
                case XmlNodeType.Element:
                    throw Fail(reader, $"unexpected element '{reader.Name}' inside a text value", tag);
            }

            CheckDepth(reader, builder, tag);
        }

        throw Fail(reader, "the document ends inside a value", tag);
    }

    private static void SkipElement(XmlReader reader, DicomModelBuilder builder, DicomTag tag)
    {
        if (reader.IsEmptyElement)
        {
            return;
        }

        while (NextChild(reader, builder, tag))
        {
            SkipElement(reader, builder, tag);
        }
    }

    /// <summary>Moves to the next child element of the current element (true) or to its end tag (false). Text between elements must be whitespace.</summary>
    private static bool NextChild(XmlReader reader, DicomModelBuilder builder, DicomTag? tag)
    {
        while (reader.Read())
        {
            switch (reader.NodeType)
            {
                case XmlNodeType.Element:
                    CheckDepth(reader, builder, tag);
                    return true;
                case XmlNodeType.EndElement:
                    return false;
                case XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace:
                    continue;
                default:
                    throw Fail(reader, $"unexpected {reader.NodeType} content", tag);
            }
        }

        throw Fail(reader, "the document ends early", tag);
    }

    private static void CheckDepth(XmlReader reader, DicomModelBuilder builder, DicomTag? tag)
    {
        if (reader.Depth > builder.Options.MaxDepth)
        {
            throw Fail(reader, $"{nameof(DicomJsonReadOptions.MaxDepth)} of {builder.Options.MaxDepth} exceeded", tag);
        }
    }

    private static bool IsModelNamespace(XmlReader reader) => reader.NamespaceURI is DicomXmlWriter.Namespace or "";

    private static bool IsModelElement(XmlReader reader, string localName) => reader.LocalName == localName && IsModelNamespace(reader);

    private static long Position(XmlReader reader) =>
        reader is IXmlLineInfo info && info.HasLineInfo() ? ((long)info.LineNumber << 32) | (uint)info.LinePosition : 0;

    private static DicomFormatException Fail(XmlReader reader, string problem, DicomTag? tag)
    {
        var position = Position(reader);
        return Fail(problem, tag, (int)(position >> 32), (int)position);
    }

    private static DicomFormatException Fail(string problem, DicomTag? tag, int line, int column)
    {
        var where = line > 0 ? $"line {line}, position {column}" : "unknown position";
        return new DicomFormatException(tag is { } t ? $"Invalid Native DICOM Model XML: {problem} (at {where}, tag {t})" : $"Invalid Native DICOM Model XML: {problem} (at {where})");
    }
}
