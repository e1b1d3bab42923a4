// DICOM JSON Model, PS3.18 Annex F.
using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Hounsfield.Dicom.Json;

/// <summary>Writes data sets as DICOM JSON (PS3.18 Annex F): IS/DS as JSON numbers always valid, PN as component groups, AT as hex.</summary>
public static class DicomJsonWriter
{

    public static string Serialize(DicomDataset dataset, DicomJsonOptions? options = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions(options)))
        {
            Write(writer, dataset, options);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Writes the data set as one JSON object into <paramref name="output"/> (a buffer a caller may reuse).</summary>
    public static void Write(IBufferWriter<byte> output, DicomDataset dataset, DicomJsonOptions? options = null)
    {
        using var writer = new Utf8JsonWriter(output, WriterOptions(options));
        Write(writer, dataset, options);
    }

    public static void Write(Stream stream, DicomDataset dataset, DicomJsonOptions? options = null)
    {
        using var writer = new Utf8JsonWriter(stream, WriterOptions(options));
        Write(writer, dataset, options);
    }

    /// <summary>Writes a JSON array of data sets, as QIDO-RS and WADO-RS metadata responses are.</summary>
    public static void WriteArray(Stream stream, IEnumerable<DicomDataset> datasets, DicomJsonOptions? options = null)
    {
        using var writer = new Utf8JsonWriter(stream, WriterOptions(options));
        writer.WriteStartArray();
        foreach (var dataset in datasets)
        {
            Write(writer, dataset, options);
        }

        writer.WriteEndArray();
    }

    public static void Write(Utf8JsonWriter writer, DicomDataset dataset, DicomJsonOptions? options = null) =>
        WriteDataset(writer, dataset, options ?? DicomJsonOptions.Default, []);

    private static JsonWriterOptions WriterOptions(DicomJsonOptions? options) => new()
    {
        Indented = options?.Indented ?? false,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    private static void WriteDataset(Utf8JsonWriter writer, DicomDataset dataset, DicomJsonOptions options, List<(DicomTag, int)> path)
    {
        writer.WriteStartObject();
        Span<byte> key = stackalloc byte[8];
        foreach (var element in dataset)
        {
            if (element.Tag.IsGroupLength && !options.IncludeGroupLengths)
            {
                continue;
            }

            element.Tag.Value.TryFormat(key, out _, "X8", CultureInfo.InvariantCulture);
            writer.WritePropertyName(key);
            writer.WriteStartObject();
            // Encapsulated Pixel Data is OB whatever a file says (PS3.5 §A.4).
            writer.WriteString("vr"u8, element is DicomFragmentSequence ? "OB" : element.VR == DicomVR.None ? "UN" : element.VR.ToCode());
            switch (element)
            {
                case DicomSequence sequence:
                    if (sequence.Items.Count > 0)
                    {
                        writer.WriteStartArray("Value"u8);
                        for (var i = 0; i < sequence.Items.Count; i++)
                        {
                            path.Add((sequence.Tag, i));
                            WriteDataset(writer, sequence.Items[i], options, path);
                            path.RemoveAt(path.Count - 1);
                        }

                        writer.WriteEndArray();
                    }

                    break;
                case DicomFragmentSequence fragments:
                    WriteBinary(writer, element, fragments.EncodedItemsLength, static e => ((DicomFragmentSequence)e).GetEncodedItems(), options, path);
                    break;
                case DicomValueElement value:
                    WriteValue(writer, dataset, value, options, path);
                    break;
            }

            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }

    private static void WriteValue(Utf8JsonWriter writer, DicomDataset dataset, DicomValueElement element, DicomJsonOptions options, List<(DicomTag, int)> path)
    {
        var vr = element.VR;
        if (options.WritesAsEmpty(element))
        {
            return;
        }

        if (vr.HasBinaryValue())
        {
            WriteBinary(writer, element, element.Length, static e => ((DicomValueElement)e).Buffer.GetMemory(), options, path);
            return;
        }

        string[]? texts = null;
        if (vr.IsString())
        {
            texts = dataset.GetStrings(element);
            if (vr == DicomVR.PN)
            {
                texts = Array.ConvertAll(texts, NormalizePersonName);
            }

            if (Array.TrueForAll(texts, t => t.Length == 0))
            {
                return; // only padding: an empty value, written without "Value" (PS3.18 F.2.5)
            }
        }

        writer.WriteStartArray("Value"u8);
        switch (vr)
        {
            case DicomVR.AT:
                foreach (var tag in dataset.GetTags(element))
                {
                    writer.WriteStringValue(tag.ToHexString());
                }

                break;
            case DicomVR.US or DicomVR.UL or DicomVR.UV:
                foreach (var number in dataset.GetValues<ulong>(element))
                {
                    writer.WriteNumberValue(number);
                }

                break;
            case DicomVR.SS or DicomVR.SL or DicomVR.SV:
                foreach (var number in dataset.GetValues<long>(element))
                {
                    writer.WriteNumberValue(number);
                }

                break;
            case DicomVR.FL:
                foreach (var number in dataset.GetValues<float>(element))
                {
                    if (float.IsFinite(number))
                    {
                        writer.WriteNumberValue(number);
                    }
                    else
                    {
                        WriteFloat(writer, number);
                    }
                }

                break;
            case DicomVR.FD:
                foreach (var number in dataset.GetValues<double>(element))
                {
                    WriteFloat(writer, number);
                }

                break;
            case DicomVR.IS or DicomVR.DS:
                foreach (var text in texts!)
                {
                    WriteDecimalString(writer, text);
                }

                break;
            case DicomVR.PN:
                foreach (var name in texts!)
                {
                    WritePersonName(writer, name);
                }

                break;
            default:
                foreach (var text in texts!)
                {
                    if (text.Length == 0)
                    {
                        writer.WriteNullValue();
                    }
                    else
                    {
                        writer.WriteStringValue(text);
                    }
                }

                break;
        }

        writer.WriteEndArray();
    }

    private static void WriteFloat(Utf8JsonWriter writer, double number)
    {
        if (double.IsFinite(number))
        {
            writer.WriteNumberValue(number);
        }
        else
        {
            // JSON has no NaN or infinity; PS3.18 leaves them unspecified, so they travel as strings.
            writer.WriteStringValue(number.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>IS/DS text as a JSON number: verbatim when it already is a valid JSON number, else normalised ("127." → 127, "+5" → 5).</summary>
    private static void WriteDecimalString(Utf8JsonWriter writer, string text)
    {
        if (text.Length == 0)
        {
            writer.WriteNullValue();
            return;
        }

        if (IsJsonNumber(text))
        {
            writer.WriteRawValue(text, skipInputValidation: true);
            return;
        }

        if (decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var asDecimal))
        {
            writer.WriteNumberValue(asDecimal);
        }
        else if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var asDouble) && double.IsFinite(asDouble))
        {
            writer.WriteNumberValue(asDouble);
        }
        else
        {
            writer.WriteStringValue(text); // not a number at all: kept as text rather than lost
        }
    }

    private static bool IsJsonNumber(string text)
    {
        var i = 0;
        if (text[i] == '-')
        {
            i++;
        }

        if (i >= text.Length || !char.IsAsciiDigit(text[i]))
        {
            return false;
        }

        if (text[i] == '0' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1]))
        {
            return false;
        }

        while (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            i++;
        }

        if (i < text.Length && text[i] == '.')
        {
            i++;
            var start = i;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
            }

            if (i == start)
            {
                return false;
            }
        }

        if (i < text.Length && text[i] is 'e' or 'E')
        {
            i++;
            if (i < text.Length && text[i] is '+' or '-')
            {
                i++;
            }

            var start = i;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
            }

            if (i == start)
            {
                return false;
            }
        }

        return i == text.Length;
    }

    /// <summary>Drops trailing empty components and component groups (PS3.5 §6.2.1.1), so "OB^^^^" is "OB" and "^^^^" is empty.</summary>
    private static string NormalizePersonName(string value)
    {
        var groups = value.Split('=');
        for (var i = 0; i < groups.Length; i++)
        {
            groups[i] = groups[i].TrimEnd('^', ' ');
        }

        return string.Join('=', groups).TrimEnd('=');
    }

    private static void WritePersonName(Utf8JsonWriter writer, string value)
    {
        if (value.Length == 0)
        {
            writer.WriteNullValue();
            return;
        }

        var name = DicomPersonName.Parse(value);
        writer.WriteStartObject();
        if (name.Alphabetic.Length > 0)
        {
            writer.WriteString("Alphabetic"u8, name.Alphabetic);
        }

        if (name.Ideographic.Length > 0)
        {
            writer.WriteString("Ideographic"u8, name.Ideographic);
        }

        if (name.Phonetic.Length > 0)
        {
            writer.WriteString("Phonetic"u8, name.Phonetic);
        }

        writer.WriteEndObject();
    }

    /// <summary>A BulkDataURI when the value is over the threshold, without reading it; else the value read now as InlineBinary.</summary>
    /// <param name="read">Reads the element's value; static, so that no closure is allocated per element.</param>
    private static void WriteBinary(Utf8JsonWriter writer, DicomElement element, long length, Func<DicomElement, ReadOnlyMemory<byte>> read, DicomJsonOptions options, List<(DicomTag, int)> path)
    {
        if (options.BulkDataUri is { } makeUri && length > options.BulkDataThreshold
            && makeUri(new DicomElementPath([.. path], element.Tag), element) is { } uri)
        {
            writer.WriteString("BulkDataURI"u8, uri);
            return;
        }

        if (length > 0) // an empty value is offered to the URI factory only (see DicomJsonOptions.BulkDataThreshold)
        {
            writer.WriteBase64String("InlineBinary"u8, read(element).Span);
        }
    }
}
