using System.Collections;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using Hounsfield.Dicom.IO;
using Hounsfield.Dicom.Text;

namespace Hounsfield.Dicom;

/// <summary>
/// A data set (PS3.5 §7): elements kept in ascending tag order, with typed access that decodes values
/// in the data set's Specific Character Set (inherited by sequence items that do not declare their own).
/// </summary>
public sealed class DicomDataset : IEnumerable<DicomElement>
{
    private readonly List<DicomElement> elements = [];
    private DicomCharacterSet? characterSet;

    public DicomDataset()
    {
    }

    public DicomDataset(IEnumerable<DicomElement> elements)
    {
        foreach (var element in elements)
        {
            Add(element);
        }
    }

    public int Count => elements.Count;

    internal IReadOnlyList<DicomElement> Elements => elements;

    /// <summary>Whether this item was (and by default will be) encoded with undefined length.</summary>
    public bool UndefinedLength { get; set; } = true;

    /// <summary>The sequence this data set is an item of, if any.</summary>
    public DicomSequence? ParentSequence { get; internal set; }

    public DicomDataset? Parent => ParentSequence?.Owner;

    /// <summary>The character set from (0008,0005) of this data set, else of the enclosing one, else the default.</summary>
    public DicomCharacterSet CharacterSet
    {
        get
        {
            if (characterSet is not null)
            {
                return characterSet;
            }

            if (Find(DicomTag.SpecificCharacterSet) is DicomValueElement declared)
            {
                var terms = SplitStrings(DecodeAscii(declared.Span), DicomVR.CS);
                characterSet = DicomCharacterSet.FromTermsLenient(terms);
                return characterSet;
            }

            return Parent?.CharacterSet ?? DicomCharacterSet.Default;
        }
    }

    public DicomElement? this[DicomTag tag] => Find(tag);

    public IEnumerator<DicomElement> GetEnumerator() => elements.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public bool Contains(DicomTag tag) => IndexOf(tag) >= 0;

    public DicomElement? Find(DicomTag tag)
    {
        var index = IndexOf(tag);
        return index >= 0 ? elements[index] : null;
    }

    /// <summary>Adds the element, replacing one with the same tag.</summary>
    public DicomDataset Add(DicomElement element)
    {
        if (element is DicomSequence sequence)
        {
            sequence.Owner = this;
        }

        if (element.Tag == DicomTag.SpecificCharacterSet)
        {
            characterSet = null;
        }

        var count = elements.Count;
        if (count == 0 || elements[count - 1].Tag < element.Tag)
        {
            elements.Add(element);
            return this;
        }

        var index = IndexOf(element.Tag);
        if (index >= 0)
        {
            elements[index] = element;
        }
        else
        {
            elements.Insert(~index, element);
        }

        return this;
    }

    public bool Remove(DicomTag tag)
    {
        var index = IndexOf(tag);
        if (index < 0)
        {
            return false;
        }

        if (tag == DicomTag.SpecificCharacterSet)
        {
            characterSet = null;
        }

        elements.RemoveAt(index);
        return true;
    }

    public void RemoveAll(Predicate<DicomElement> match) => elements.RemoveAll(match);

    public void Clear()
    {
        elements.Clear();
        characterSet = null;
    }

    /// <summary>A deep copy: sequence items are copied, value buffers (immutable) are shared.</summary>
    public DicomDataset Clone()
    {
        var copy = new DicomDataset { UndefinedLength = UndefinedLength };
        foreach (var element in elements)
        {
            copy.Add(element switch
            {
                DicomSequence sequence => CloneSequence(sequence),
                _ => element,
            });
        }

        return copy;

        static DicomSequence CloneSequence(DicomSequence sequence)
        {
            var clone = new DicomSequence(sequence.Tag) { UndefinedLength = sequence.UndefinedLength };
            foreach (var item in sequence.Items)
            {
                clone.Items.Add(item.Clone());
            }

            return clone;
        }
    }

    // ---- typed reading ----

    /// <summary>The whole value as text (all values joined by '\'), trailing padding removed; null when absent.</summary>
    public string? GetString(DicomTag tag)
    {
        return Find(tag) switch
        {
            DicomValueElement element => DecodeString(element).TrimEndPadding(),
            DicomSequence => throw new InvalidOperationException($"{tag} is a sequence, not a string."),
            _ => null,
        };
    }

    /// <summary>The values of a string element, split at '\' and trimmed per PS3.5 §6.2; empty when absent or empty.</summary>
    public string[] GetStrings(DicomTag tag)
    {
        return Find(tag) is DicomValueElement element ? GetStrings(element) : [];
    }

    public string[] GetStrings(DicomValueElement element)
    {
        if (element.VR == DicomVR.AT)
        {
            return Array.ConvertAll(GetTags(element), t => t.ToHexString());
        }

        if (element.VR.IsBinaryNumber())
        {
            return GetNumbersAsStrings(element);
        }

        return element.Length == 0 ? [] : SplitStrings(DecodeString(element), element.VR);
    }

    /// <summary>Decodes the raw value bytes to text in this data set's character set where the VR uses it.</summary>
    public string DecodeString(DicomValueElement element)
    {
        var bytes = element.Span;
        return element.VR.UsesSpecificCharacterSet() ? CharacterSet.Decode(bytes, element.VR) : DecodeAscii(bytes);
    }

    public T GetValue<T>(DicomTag tag, int index = 0)
        where T : struct, INumber<T>
    {
        return TryGetValue<T>(tag, out var value, index)
            ? value
            : throw new InvalidOperationException($"{tag} has no value {index} of type {typeof(T).Name}.");
    }

    public T? GetValueOrDefault<T>(DicomTag tag, int index = 0)
        where T : struct, INumber<T>
    {
        return TryGetValue<T>(tag, out var value, index) ? value : null;
    }

    public bool TryGetValue<T>(DicomTag tag, out T value, int index = 0)
        where T : struct, INumber<T>
    {
        value = default;
        if (Find(tag) is not DicomValueElement element)
        {
            return false;
        }

        var values = GetValues<T>(element);
        if (index >= values.Length)
        {
            return false;
        }

        value = values[index];
        return true;
    }

    /// <summary>All values of a numeric element (US SS UL SL FL FD SV UV, IS, DS, or OW/OB/OL/OF/OD/OV read as T).</summary>
    public T[] GetValues<T>(DicomTag tag)
        where T : struct, INumber<T>
    {
        return Find(tag) is DicomValueElement element ? GetValues<T>(element) : [];
    }

    public T[] GetValues<T>(DicomValueElement element)
        where T : struct, INumber<T>
    {
        var bytes = element.Span;
        switch (element.VR)
        {
            case DicomVR.US or DicomVR.OW: return Convert<ushort, T>(bytes);
            case DicomVR.SS: return Convert<short, T>(bytes);
            case DicomVR.UL or DicomVR.OL: return Convert<uint, T>(bytes);
            case DicomVR.SL: return Convert<int, T>(bytes);
            case DicomVR.FL or DicomVR.OF: return Convert<float, T>(bytes);
            case DicomVR.FD or DicomVR.OD: return Convert<double, T>(bytes);
            case DicomVR.SV: return Convert<long, T>(bytes);
            case DicomVR.UV or DicomVR.OV: return Convert<ulong, T>(bytes);
            case DicomVR.OB or DicomVR.UN: return Convert<byte, T>(bytes);
            case DicomVR.IS or DicomVR.DS:
                var texts = SplitStrings(DecodeAscii(bytes), element.VR);
                var values = new T[texts.Length];
                for (var i = 0; i < texts.Length; i++)
                {
                    if (!DicomValueParser.TryParseNumber(texts[i], out values[i]))
                    {
                        throw new DicomFormatException($"'{texts[i]}' is not a valid {element.VR.ToCode()} value of {element.Tag}");
                    }
                }

                return values;
            default:
                throw new InvalidOperationException($"{element.Tag} has VR {element.VR.ToCode()}, which holds no numbers.");
        }

        static TTarget[] Convert<TSource, TTarget>(ReadOnlySpan<byte> bytes)
            where TSource : struct, INumber<TSource>
            where TTarget : struct, INumber<TTarget>
        {
            var size = System.Runtime.CompilerServices.Unsafe.SizeOf<TSource>();
            var source = MemoryMarshal.Cast<byte, TSource>(bytes[..(bytes.Length / size * size)]);
            var result = new TTarget[source.Length];
            for (var i = 0; i < source.Length; i++)
            {
                result[i] = TTarget.CreateChecked(source[i]);
            }

            return result;
        }
    }

    public DicomTag[] GetTags(DicomValueElement element)
    {
        var bytes = element.Span;
        var tags = new DicomTag[bytes.Length / 4];
        for (var i = 0; i < tags.Length; i++)
        {
            var group = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 4)..]);
            var number = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(bytes[((i * 4) + 2)..]);
            tags[i] = new DicomTag(group, number);
        }

        return tags;
    }

    public DateOnly? GetDate(DicomTag tag) => DicomValueParser.ParseDate(GetString(tag));

    public TimeOnly? GetTime(DicomTag tag) => DicomValueParser.ParseTime(GetString(tag));

    public DateTimeOffset? GetDateTime(DicomTag tag) => DicomValueParser.ParseDateTime(GetString(tag));

    /// <summary>A DA, TM or DT value that may be a range "a-b", "-b" or "a-" (PS3.4 C.2.2.2.5).</summary>
    public DicomDateTimeRange? GetDateTimeRange(DicomTag tag)
    {
        var element = Find(tag) as DicomValueElement;
        var text = GetString(tag);
        return element is null || string.IsNullOrEmpty(text) ? null : DicomDateTimeRange.Parse(text, element.VR);
    }

    public DicomPersonName? GetPersonName(DicomTag tag, int index = 0)
    {
        var names = GetStrings(tag);
        return index < names.Length ? DicomPersonName.Parse(names[index]) : null;
    }

    public DicomSequence? GetSequence(DicomTag tag) => Find(tag) as DicomSequence;

    /// <summary>The creator string that reserves the block of a private data element, when declared.</summary>
    public string? GetPrivateCreator(DicomTag tag)
    {
        if (!tag.IsPrivate || tag.IsPrivateCreator || tag.Element < 0x1000)
        {
            return null;
        }

        return GetString(tag.PrivateCreatorTag)?.Trim();
    }

    // ---- typed writing ----

    /// <summary>Sets a string element (several values joined by '\'), encoded in this data set's character set.</summary>
    public DicomDataset AddOrUpdate(DicomTag tag, DicomVR vr, params string[] values)
    {
        var text = string.Join('\\', values);
        var bytes = vr.UsesSpecificCharacterSet() ? CharacterSet.Encode(text, vr) : EncodeAscii(text, tag, vr);
        return Add(new DicomValueElement(tag, vr, PadToEven(bytes, vr)));
    }

    /// <summary>
    /// Call before setting <paramref name="text"/> into this data set or an item of it: when the text has a character
    /// beyond ASCII and no enclosing data set declares a character set, declares UTF-8 (ISO_IR 192) in the outermost one,
    /// so that the text is encoded instead of refused by the default repertoire. ASCII text or a declared set changes nothing.
    /// </summary>
    public void DeclareUtf8IfNeeded(string text)
    {
        if (System.Text.Ascii.IsValid(text))
        {
            return;
        }

        var outermost = this;
        for (var dataset = this; dataset is not null; dataset = dataset.Parent)
        {
            if (dataset.Contains(DicomTag.SpecificCharacterSet))
            {
                return;
            }

            outermost = dataset;
        }

        outermost.AddOrUpdate(DicomTag.SpecificCharacterSet, DicomVR.CS, "ISO_IR 192");
    }

    /// <summary>
    /// A copy of this data set with its text in the character set that <paramref name="specificCharacterSet"/> declares
    /// (the terms of (0008,0005), which the copy carries), its sequences' items included (an item's own declaration gives
    /// way to the copy's); null when that character set is unknown or lacks a character of some value.
    /// </summary>
    public DicomDataset? TryReencode(IReadOnlyList<string> specificCharacterSet)
    {
        if (!DicomCharacterSet.TryFromTerms(specificCharacterSet, out var target, out _))
        {
            return null;
        }

        var copy = new DicomDataset().AddOrUpdate(DicomTag.SpecificCharacterSet, DicomVR.CS, [.. specificCharacterSet]);
        return CopyReencoded(this, copy, target) ? copy : null;

        static bool CopyReencoded(DicomDataset source, DicomDataset copy, DicomCharacterSet target)
        {
            foreach (var element in source.Where(element => element.Tag != DicomTag.SpecificCharacterSet))
            {
                switch (element)
                {
                    case DicomSequence sequence:
                        var items = new List<DicomDataset>(sequence.Items.Count);
                        foreach (var item in sequence.Items)
                        {
                            var itemCopy = new DicomDataset();
                            if (!CopyReencoded(item, itemCopy, target))
                            {
                                return false;
                            }

                            items.Add(itemCopy);
                        }

                        copy.Add(new DicomSequence(sequence.Tag, items));
                        break;
                    case DicomValueElement value when value.VR.UsesSpecificCharacterSet() && value.Length > 0:
                        if (!target.TryEncode(source.CharacterSet.Decode(value.Span, value.VR), value.VR, out var bytes))
                        {
                            return false;
                        }

                        copy.Add(new DicomValueElement(value.Tag, value.VR, PadToEven(bytes, value.VR)));
                        break;
                    default:
                        copy.Add(element);
                        break;
                }
            }

            return true;
        }
    }

    /// <summary>Sets a string element with the VR of the dictionary.</summary>
    public DicomDataset AddOrUpdate(DicomTag tag, params string[] values) => AddOrUpdate(tag, DicomDictionary.GetDefaultVR(tag), values);

    /// <summary>Sets a binary numeric element (US SS UL SL FL FD SV UV or an O* VR) from values of the matching width.</summary>
    public DicomDataset AddOrUpdate<T>(DicomTag tag, DicomVR vr, params T[] values)
        where T : unmanaged
    {
        if (vr.UnitSize() != Marshal.SizeOf<T>() && vr is not (DicomVR.OB or DicomVR.UN))
        {
            throw new ArgumentException($"VR {vr.ToCode()} holds {vr.UnitSize()}-byte values, not {typeof(T).Name}.", nameof(values));
        }

        var bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        return Add(new DicomValueElement(tag, vr, PadToEven(bytes, vr)));
    }

    public DicomDataset AddOrUpdate(DicomTag tag, params DicomTag[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 4), values[i].Group);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan((i * 4) + 2), values[i].Element);
        }

        return Add(new DicomValueElement(tag, DicomVR.AT, bytes));
    }

    public override string ToString() => $"DicomDataset ({Count} elements)";

    // ---- helpers shared with the codecs of this library ----

    internal static string DecodeAscii(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    internal static string[] SplitStrings(string text, DicomVR vr)
    {
        if (!vr.IsMultiValuedString())
        {
            return [TrimValue(text, vr)];
        }

        var parts = text.Split('\\');
        for (var i = 0; i < parts.Length; i++)
        {
            parts[i] = TrimValue(parts[i], vr);
        }

        return parts;
    }

    /// <summary>Removes the padding PS3.5 §6.2 declares insignificant for the VR.</summary>
    internal static string TrimValue(string value, DicomVR vr) => vr switch
    {
        DicomVR.LT or DicomVR.ST or DicomVR.UT => value.TrimEndPadding(),
        DicomVR.UI => value.TrimPadding(),
        DicomVR.PN or DicomVR.DA or DicomVR.TM or DicomVR.DT or DicomVR.UC or DicomVR.UR => value.TrimEndPadding(),
        _ => value.TrimPadding(),
    };

    internal static byte[] PadToEven(byte[] bytes, DicomVR vr)
    {
        if ((bytes.Length & 1) == 0)
        {
            return bytes;
        }

        var padded = new byte[bytes.Length + 1];
        bytes.CopyTo(padded, 0);
        padded[^1] = vr.PaddingByte();
        return padded;
    }

    private static byte[] EncodeAscii(string text, DicomTag tag, DicomVR vr)
    {
        foreach (var c in text)
        {
            if (c > 0x7F)
            {
                throw new ArgumentException($"VR {vr.ToCode()} of {tag} allows only the default repertoire; '{c}' is outside it.");
            }
        }

        return Encoding.ASCII.GetBytes(text);
    }

    private string[] GetNumbersAsStrings(DicomValueElement element) => element.VR switch
    {
        DicomVR.FL => Array.ConvertAll(GetValues<float>(element), v => v.ToString("R", CultureInfo.InvariantCulture)),
        DicomVR.FD => Array.ConvertAll(GetValues<double>(element), v => v.ToString("R", CultureInfo.InvariantCulture)),
        DicomVR.SV => Array.ConvertAll(GetValues<long>(element), v => v.ToString(CultureInfo.InvariantCulture)),
        DicomVR.UV => Array.ConvertAll(GetValues<ulong>(element), v => v.ToString(CultureInfo.InvariantCulture)),
        DicomVR.SL or DicomVR.SS => Array.ConvertAll(GetValues<long>(element), v => v.ToString(CultureInfo.InvariantCulture)),
        _ => Array.ConvertAll(GetValues<ulong>(element), v => v.ToString(CultureInfo.InvariantCulture)),
    };

    private int IndexOf(DicomTag tag)
    {
        int low = 0, high = elements.Count - 1;
        while (low <= high)
        {
            var middle = low + ((high - low) >> 1);
            var value = elements[middle].Tag.Value;
            if (value == tag.Value)
            {
                return middle;
            }

            if (value < tag.Value)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return ~low;
    }
}
