// Native DICOM Model, PS3.19 Annex A.1.
using System.Globalization;
using System.Text;
using System.Xml;
using Hounsfield.Dicom.Json;

namespace Hounsfield.Dicom.Xml;

/// <summary>
/// Writes data sets as the Native DICOM Model (PS3.19 A.1): one DicomAttribute per element with numbered Value,
/// PersonName (component by component) or Item children, InlineBinary base64 or a BulkData reference. Bulk data
/// follows the same options as the JSON writer. A string value holding a character XML cannot carry (a control
/// character) is written as InlineBinary of its encoded bytes, so nothing is lost.
/// </summary>
public static class DicomXmlWriter
{
    /// <summary>The namespace of the Native DICOM Model.</summary>
    public const string Namespace = "http://dicom.nema.org/PS3.19/models/NativeDICOM";

    private static readonly string[] ComponentNames = ["FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix"];
    private static readonly string[] GroupNames = ["Alphabetic", "Ideographic", "Phonetic"];

    public static string Serialize(DicomDataset dataset, DicomJsonOptions? options = null)
    {
        using var memory = new MemoryStream();
        Write(memory, dataset, options);
        return Encoding.UTF8.GetString(memory.GetBuffer(), 0, (int)memory.Length);
    }

    /// <summary>Writes an XML document in UTF-8 (without a byte order mark) to the stream, which stays open.</summary>
    public static void Write(Stream stream, DicomDataset dataset, DicomJsonOptions? options = null)
    {
        using var writer = XmlWriter.Create(stream, WriterSettings(options));
        writer.WriteStartDocument();
        Write(writer, dataset, options);
        writer.WriteEndDocument();
    }

    /// <summary>Writes the NativeDicomModel element to <paramref name="writer"/>.</summary>
    public static void Write(XmlWriter writer, DicomDataset dataset, DicomJsonOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(dataset);
        writer.WriteStartElement("NativeDicomModel", Namespace);
        writer.WriteAttributeString("xml", "space", null, "preserve"); // PS3.19 Table A.1.5-1
        WriteDataset(writer, dataset, options ?? DicomJsonOptions.Default, []);
        writer.WriteEndElement();
    }

    private static readonly XmlWriterSettings Compact = NewWriterSettings(indent: false);
    private static readonly XmlWriterSettings Indented = NewWriterSettings(indent: true);

    private static XmlWriterSettings WriterSettings(DicomJsonOptions? options) => options?.Indented == true ? Indented : Compact;

    private static XmlWriterSettings NewWriterSettings(bool indent) => new()
    {
        Encoding = new UTF8Encoding(false),
        Indent = indent,
        NewLineHandling = NewLineHandling.Entitize, // a CR in a value survives the parser's line-end normalisation
        CloseOutput = false,
    };

    private static void WriteDataset(XmlWriter writer, DicomDataset dataset, DicomJsonOptions options, List<(DicomTag, int)> path)
    {
        foreach (var element in dataset)
        {
            if (element.Tag.IsGroupLength && !options.IncludeGroupLengths)
            {
                continue;
            }

            writer.WriteStartElement("DicomAttribute", Namespace);
            writer.WriteAttributeString("tag", element.Tag.ToHexString());
            writer.WriteAttributeString("vr", element.VR == DicomVR.None ? "UN" : element.VR.ToCode());
            if (DicomDictionary.Find(element.Tag)?.Keyword is { Length: > 0 } keyword)
            {
                writer.WriteAttributeString("keyword", keyword);
            }

            if (dataset.GetPrivateCreator(element.Tag) is { } creator && IsXmlSafe(creator))
            {
                writer.WriteAttributeString("privateCreator", creator);
            }

            switch (element)
            {
                case DicomSequence sequence:
                    for (var i = 0; i < sequence.Items.Count; i++)
                    {
                        writer.WriteStartElement("Item", Namespace);
                        writer.WriteAttributeString("number", Number(i));
                        path.Add((sequence.Tag, i));
                        WriteDataset(writer, sequence.Items[i], options, path);
                        path.RemoveAt(path.Count - 1);
                        writer.WriteEndElement();
                    }

                    break;
                case DicomFragmentSequence fragments:
                    WriteBinary(writer, element, fragments.GetEncodedItems(), options, path);
                    break;
                case DicomValueElement value:
                    WriteValue(writer, dataset, value, options, path);
                    break;
            }

            writer.WriteEndElement();
        }
    }

    private static void WriteValue(XmlWriter writer, DicomDataset dataset, DicomValueElement element, DicomJsonOptions options, List<(DicomTag, int)> path)
    {
        var vr = element.VR;
        if (options.WritesAsEmpty(element))
        {
            return;
        }

        if (vr.HasBinaryValue())
        {
            WriteBinary(writer, element, null, options, path);
            return;
        }

        switch (vr)
        {
            case DicomVR.AT:
                WriteValues(writer, Array.ConvertAll(dataset.GetTags(element), t => t.ToHexString()));
                return;
            case DicomVR.US or DicomVR.UL or DicomVR.UV:
                WriteValues(writer, Array.ConvertAll(dataset.GetValues<ulong>(element), v => v.ToString(CultureInfo.InvariantCulture)));
                return;
            case DicomVR.SS or DicomVR.SL or DicomVR.SV:
                WriteValues(writer, Array.ConvertAll(dataset.GetValues<long>(element), v => v.ToString(CultureInfo.InvariantCulture)));
                return;
            case DicomVR.FL:
                WriteValues(writer, Array.ConvertAll(dataset.GetValues<float>(element), XmlConvert.ToString));
                return;
            case DicomVR.FD:
                WriteValues(writer, Array.ConvertAll(dataset.GetValues<double>(element), XmlConvert.ToString));
                return;
        }

        var texts = dataset.GetStrings(element);
        if (Array.TrueForAll(texts, t => t.Length == 0))
        {
            return; // only padding: an empty value, written without Value elements as the JSON writer does
        }

        if (!Array.TrueForAll(texts, IsXmlSafe))
        {
            WriteBinary(writer, element, null, options with { BulkDataUri = null }, path);
            return;
        }

        if (vr == DicomVR.PN)
        {
            for (var i = 0; i < texts.Length; i++)
            {
                WritePersonName(writer, i, texts[i]);
            }

            return;
        }

        WriteValues(writer, texts);
    }

    private static void WriteValues(XmlWriter writer, string[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            writer.WriteStartElement("Value", Namespace);
            writer.WriteAttributeString("number", Number(i));
            if (values[i].Length > 0)
            {
                writer.WriteString(values[i]);
            }

            writer.WriteEndElement();
        }
    }

    /// <summary>
    /// Writes each component group present, and in it each component up to the last one present, empty ones as empty
    /// elements, so that the reader restores the value exactly ("Doe^^Q" keeps its empty given name).
    /// </summary>
    private static void WritePersonName(XmlWriter writer, int index, string value)
    {
        writer.WriteStartElement("PersonName", Namespace);
        writer.WriteAttributeString("number", Number(index));
        if (value.Length > 0)
        {
            var groups = value.Split('=', GroupNames.Length);
            for (var g = 0; g < groups.Length; g++)
            {
                writer.WriteStartElement(GroupNames[g], Namespace);
                if (groups[g].Length > 0)
                {
                    var components = groups[g].Split('^', ComponentNames.Length);
                    for (var c = 0; c < components.Length; c++)
                    {
                        writer.WriteStartElement(ComponentNames[c], Namespace);
                        if (components[c].Length > 0)
                        {
                            writer.WriteString(components[c]);
                        }

                        writer.WriteEndElement();
                    }
                }

                writer.WriteEndElement();
            }
        }

        writer.WriteEndElement();
    }

    private static void WriteBinary(XmlWriter writer, DicomElement element, byte[]? bytes, DicomJsonOptions options, List<(DicomTag, int)> path)
    {
        var length = bytes?.LongLength ?? ((DicomValueElement)element).Length;
        if (options.BulkDataUri is { } makeUri && length > options.BulkDataThreshold
            && makeUri(new DicomElementPath([.. path], element.Tag), element) is { } uri)
        {
            writer.WriteStartElement("BulkData", Namespace);
            writer.WriteAttributeString("uri", uri);
            writer.WriteEndElement();
            return;
        }

        if (length == 0)
        {
            return; // an empty value, offered to the URI factory only (see DicomJsonOptions.BulkDataThreshold)
        }

        var memory = bytes ?? ((DicomValueElement)element).Buffer.GetMemory();
        writer.WriteStartElement("InlineBinary", Namespace);
        if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(memory, out var segment))
        {
            writer.WriteBase64(segment.Array!, segment.Offset, segment.Count);
        }
        else
        {
            var copy = memory.ToArray();
            writer.WriteBase64(copy, 0, copy.Length);
        }

        writer.WriteEndElement();
    }

    private static string Number(int index) => (index + 1).ToString(CultureInfo.InvariantCulture);

    /// <summary>Whether every character of the text may appear in an XML 1.0 document.</summary>
    internal static bool IsXmlSafe(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (XmlConvert.IsXmlChar(c))
            {
                continue;
            }

            if (i + 1 < text.Length && XmlConvert.IsXmlSurrogatePair(text[i + 1], c))
            {
                i++;
                continue;
            }

            return false;
        }

        return true;
    }
}
