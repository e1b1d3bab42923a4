// DICOM JSON Model, PS3.18 Annex F.
using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Hounsfield.Dicom.Json;

/// <summary>
/// Reads data sets from DICOM JSON (PS3.18 Annex F). IS and DS numbers keep the text they have in the JSON; binary
/// numbers may also be given as strings; a null value is an empty value. Malformed input, an unknown VR, a value of
/// the wrong type or bad base64 raise <see cref="DicomFormatException"/> naming the tag and the offset in the input.
/// </summary>
public static class DicomJsonReader
{
    public static DicomDataset Read(ReadOnlySpan<byte> utf8Json, DicomJsonReadOptions? options = null)
    {
        var opts = options ?? DicomJsonReadOptions.Default;
        var reader = CreateReader(utf8Json, opts);
        try
        {
            Next(ref reader);
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw Fail($"the document must be a JSON object (a data set), not {Describe(reader.TokenType)}", null, reader.TokenStartIndex);
            }

            var dataset = ReadTopLevel(ref reader, opts);
            EnsureEnd(ref reader);
            return dataset;
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException)
        {
            throw Invalid(exception);
        }
    }

    public static DicomDataset Read(string json, DicomJsonReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        return Read(Encoding.UTF8.GetBytes(json), options);
    }

    /// <summary>Reads the whole stream (at most <see cref="DicomJsonReadOptions.MaxInputLength"/> bytes), then parses it.</summary>
    public static DicomDataset Read(Stream stream, DicomJsonReadOptions? options = null)
    {
        var opts = options ?? DicomJsonReadOptions.Default;
        var bytes = ReadAll(stream, opts.MaxInputLength);
        return Read(bytes.Span, opts);
    }

    /// <summary>Reads a JSON array of data sets, as QIDO-RS and WADO-RS metadata responses are.</summary>
    public static IReadOnlyList<DicomDataset> ReadArray(ReadOnlySpan<byte> utf8Json, DicomJsonReadOptions? options = null)
    {
        var opts = options ?? DicomJsonReadOptions.Default;
        var reader = CreateReader(utf8Json, opts);
        try
        {
            Next(ref reader);
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                throw Fail($"the document must be a JSON array of data sets, not {Describe(reader.TokenType)}", null, reader.TokenStartIndex);
            }

            var datasets = new List<DicomDataset>();
            while (true)
            {
                Next(ref reader);
                if (reader.TokenType == JsonTokenType.EndArray)
                {
                    break;
                }

                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    throw Fail($"data set {datasets.Count + 1} of the array is {Describe(reader.TokenType)}, not an object", null, reader.TokenStartIndex);
                }

                datasets.Add(ReadTopLevel(ref reader, opts));
            }

            EnsureEnd(ref reader);
            return datasets;
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException)
        {
            throw Invalid(exception);
        }
    }

    public static IReadOnlyList<DicomDataset> ReadArray(string json, DicomJsonReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        return ReadArray(Encoding.UTF8.GetBytes(json), options);
    }

    public static IReadOnlyList<DicomDataset> ReadArray(Stream stream, DicomJsonReadOptions? options = null)
    {
        var opts = options ?? DicomJsonReadOptions.Default;
        var bytes = ReadAll(stream, opts.MaxInputLength);
        return ReadArray(bytes.Span, opts);
    }

    private static Utf8JsonReader CreateReader(ReadOnlySpan<byte> utf8Json, DicomJsonReadOptions options)
    {
        if (utf8Json.StartsWith("\uFEFF"u8))
        {
            utf8Json = utf8Json[3..];
        }

        return new Utf8JsonReader(utf8Json, new JsonReaderOptions
        {
            MaxDepth = options.MaxDepth,
            CommentHandling = JsonCommentHandling.Disallow,
            AllowTrailingCommas = false,
        });
    }

    private static DicomDataset ReadTopLevel(ref Utf8JsonReader reader, DicomJsonReadOptions options)
    {
        var builder = new DicomModelBuilder(options, Fail);
        var dataset = new DicomDataset();
        ReadDataset(ref reader, dataset, builder, []);
        builder.Finish(dataset);
        return dataset;
    }

    /// <summary>Reads the members of a data set object; the reader is on its StartObject and ends on its EndObject.</summary>
    private static void ReadDataset(ref Utf8JsonReader reader, DicomDataset dataset, DicomModelBuilder builder, List<(DicomTag Tag, int Item)> path)
    {
        HashSet<uint>? seen = null;
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return;
            }

            var keyPosition = reader.TokenStartIndex;
            var key = reader.GetString()!;
            if (!DicomModelBuilder.TryParseTag(key, out var tag))
            {
                throw Fail($"'{key}' is not an element key (eight hexadecimal digits)", null, keyPosition);
            }

            if (!(seen ??= []).Add(tag.Value))
            {
                throw Fail("the element appears twice in one data set", tag, keyPosition);
            }

            Next(ref reader);
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw Fail($"an element must be a JSON object, not {Describe(reader.TokenType)}", tag, reader.TokenStartIndex);
            }

            ReadElement(ref reader, dataset, tag, builder, path);
        }
    }

    /// <summary>Reads one element object: "vr" and at most one of "Value", "InlineBinary" and "BulkDataURI", in any order.</summary>
    private static void ReadElement(ref Utf8JsonReader reader, DicomDataset dataset, DicomTag tag, DicomModelBuilder builder, List<(DicomTag Tag, int Item)> path)
    {
        var elementPosition = reader.TokenStartIndex;
        DicomVR? vr = null;
        Utf8JsonReader values = default;
        var hasValues = false;
        byte[]? inline = null;
        string? bulkDataUri = null;
        var kinds = 0;
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }

            if (reader.ValueTextEquals("vr"u8))
            {
                Next(ref reader);
                if (reader.TokenType != JsonTokenType.String)
                {
                    throw Fail($"\"vr\" must be a string, not {Describe(reader.TokenType)}", tag, reader.TokenStartIndex);
                }

                var code = reader.GetString()!;
                if (!DicomVRInfo.TryParse(code, out var parsed))
                {
                    throw Fail($"'{code}' is not a value representation", tag, reader.TokenStartIndex);
                }

                vr = parsed;
            }
            else if (reader.ValueTextEquals("Value"u8))
            {
                Next(ref reader);
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    throw Fail($"\"Value\" must be an array, not {Describe(reader.TokenType)}", tag, reader.TokenStartIndex);
                }

                values = reader; // read once the VR is known, which may come later in the object
                hasValues = true;
                kinds++;
                reader.Skip();
            }
            else if (reader.ValueTextEquals("InlineBinary"u8))
            {
                Next(ref reader);
                if (reader.TokenType != JsonTokenType.String || !reader.TryGetBytesFromBase64(out inline))
                {
                    throw Fail("\"InlineBinary\" must be a base64 string", tag, reader.TokenStartIndex);
                }

                kinds++;
            }
            else if (reader.ValueTextEquals("BulkDataURI"u8))
            {
                Next(ref reader);
                if (reader.TokenType != JsonTokenType.String)
                {
                    throw Fail($"\"BulkDataURI\" must be a string, not {Describe(reader.TokenType)}", tag, reader.TokenStartIndex);
                }

                bulkDataUri = reader.GetString()!;
                kinds++;
            }
            else
            {
                Next(ref reader);
                reader.Skip(); // members PS3.18 does not define are ignored
            }
        }

        if (vr is not { } elementVR)
        {
            throw Fail("the element has no \"vr\"", tag, elementPosition);
        }

        if (kinds > 1)
        {
            throw Fail("an element holds only one of \"Value\", \"InlineBinary\" and \"BulkDataURI\"", tag, elementPosition);
        }

        if (inline is not null)
        {
            if (elementVR == DicomVR.SQ)
            {
                throw Fail("a sequence cannot have \"InlineBinary\"", tag, elementPosition);
            }

            DicomModelBuilder.AddBytes(dataset, tag, elementVR, inline);
        }
        else if (bulkDataUri is not null)
        {
            builder.AddBulkData(dataset, tag, elementVR, bulkDataUri, path);
        }
        else if (hasValues)
        {
            ReadValues(ref values, dataset, tag, elementVR, builder, path);
        }
        else if (elementVR == DicomVR.SQ)
        {
            dataset.Add(new DicomSequence(tag));
        }
        else
        {
            dataset.Add(new DicomValueElement(tag, elementVR, ReadOnlyMemory<byte>.Empty));
        }
    }

    /// <summary>Reads a "Value" array; the reader is on its StartArray.</summary>
    private static void ReadValues(ref Utf8JsonReader reader, DicomDataset dataset, DicomTag tag, DicomVR vr, DicomModelBuilder builder, List<(DicomTag Tag, int Item)> path)
    {
        if (vr == DicomVR.SQ)
        {
            var sequence = new DicomSequence(tag);
            dataset.Add(sequence);
            while (true)
            {
                Next(ref reader);
                if (reader.TokenType == JsonTokenType.EndArray)
                {
                    return;
                }

                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    throw Fail($"item {sequence.Items.Count + 1} of the sequence is {Describe(reader.TokenType)}, not an object", tag, reader.TokenStartIndex);
                }

                var item = new DicomDataset();
                sequence.Items.Add(item);
                path.Add((tag, sequence.Items.Count - 1));
                ReadDataset(ref reader, item, builder, path);
                path.RemoveAt(path.Count - 1);
            }
        }

        if (vr.IsBulk())
        {
            throw Fail($"VR {vr.ToCode()} takes \"InlineBinary\" or \"BulkDataURI\", not \"Value\"", tag, reader.TokenStartIndex);
        }

        if (vr == DicomVR.AT || vr.IsBinaryNumber())
        {
            ReadBinaryValues(ref reader, dataset, tag, vr);
            return;
        }

        var arrayPosition = reader.TokenStartIndex;
        var texts = new List<string?>();
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                break;
            }

            texts.Add(reader.TokenType switch
            {
                JsonTokenType.Null => null,
                JsonTokenType.String => reader.GetString(),
                JsonTokenType.Number when vr is DicomVR.IS or DicomVR.DS => Encoding.ASCII.GetString(reader.ValueSpan),
                JsonTokenType.StartObject when vr == DicomVR.PN => ReadPersonName(ref reader, tag),
                _ => throw Fail($"value {texts.Count + 1} is {Describe(reader.TokenType)}; VR {vr.ToCode()} takes {Expected(vr)}", tag, reader.TokenStartIndex),
            });
        }

        builder.AddText(dataset, tag, vr, texts, arrayPosition);
    }

    private static void ReadBinaryValues(ref Utf8JsonReader reader, DicomDataset dataset, DicomTag tag, DicomVR vr)
    {
        var bytes = new List<byte>();
        var index = 0;
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                break;
            }

            index++;
            string text;
            if (reader.TokenType == JsonTokenType.String)
            {
                text = reader.GetString()!;
            }
            else if (reader.TokenType == JsonTokenType.Number && vr != DicomVR.AT)
            {
                text = Encoding.ASCII.GetString(reader.ValueSpan);
            }
            else
            {
                throw Fail($"value {index} is {Describe(reader.TokenType)}; VR {vr.ToCode()} takes {Expected(vr)}", tag, reader.TokenStartIndex);
            }

            var ok = vr == DicomVR.AT ? DicomModelBuilder.TryAppendTag(text, bytes) : DicomModelBuilder.TryAppendNumber(text, vr, bytes);
            if (!ok)
            {
                throw Fail($"value {index} '{text}' is not {Expected(vr)}", tag, reader.TokenStartIndex);
            }
        }

        dataset.Add(new DicomValueElement(tag, vr, bytes.ToArray()));
    }

    /// <summary>A PN object {"Alphabetic", "Ideographic", "Phonetic"} as the encoded form "A=I=P".</summary>
    private static string ReadPersonName(ref Utf8JsonReader reader, DicomTag tag)
    {
        string alphabetic = string.Empty, ideographic = string.Empty, phonetic = string.Empty;
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return new DicomPersonName(alphabetic, ideographic, phonetic).ToString();
            }

            var group = reader.ValueTextEquals("Alphabetic"u8) ? 0 : reader.ValueTextEquals("Ideographic"u8) ? 1 : reader.ValueTextEquals("Phonetic"u8) ? 2 : -1;
            var name = reader.GetString();
            Next(ref reader);
            if (group < 0)
            {
                reader.Skip();
                continue;
            }

            if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.Null))
            {
                throw Fail($"the {name} component group of a person name must be a string, not {Describe(reader.TokenType)}", tag, reader.TokenStartIndex);
            }

            var text = reader.GetString() ?? string.Empty;
            if (text.Contains('='))
            {
                throw Fail($"the {name} component group of a person name contains '=', the group delimiter", tag, reader.TokenStartIndex);
            }

            switch (group)
            {
                case 0: alphabetic = text; break;
                case 1: ideographic = text; break;
                default: phonetic = text; break;
            }
        }
    }

    private static string Expected(DicomVR vr) => vr switch
    {
        DicomVR.AT => "tags as \"GGGGEEEE\" strings",
        DicomVR.PN => "person name objects, strings or null",
        DicomVR.IS or DicomVR.DS => "numbers, strings or null",
        DicomVR.FL or DicomVR.FD => "decimal numbers",
        _ when vr.IsBinaryNumber() => $"integers in the range of {vr.ToCode()}",
        _ => "strings or null",
    };

    private static void Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
        {
            throw Fail("the JSON ends early", null, reader.BytesConsumed);
        }
    }

    private static void EnsureEnd(ref Utf8JsonReader reader)
    {
        if (reader.Read())
        {
            throw Fail("unexpected content after the end of the document", null, reader.TokenStartIndex);
        }
    }

    private static string Describe(JsonTokenType type) => type switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => type.ToString(),
    };

    private static ReadOnlyMemory<byte> ReadAll(Stream stream, long limit)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var memory = new MemoryStream();
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            int n;
            while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                if (memory.Length + n > limit)
                {
                    throw new DicomLimitExceededException(nameof(DicomJsonReadOptions.MaxInputLength), limit, memory.Length, null);
                }

                memory.Write(buffer, 0, n);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return memory.GetBuffer().AsMemory(0, (int)memory.Length);
    }

    private static DicomFormatException Fail(string problem, DicomTag? tag, long offset) =>
        new($"Invalid DICOM JSON: {problem}", offset, tag);

    /// <summary>Malformed JSON (the reader's JsonException) or a string that is not valid UTF-8 (InvalidOperationException).</summary>
    private static DicomFormatException Invalid(Exception exception) =>
        new($"Invalid DICOM JSON: {exception.Message}", exception);
}
