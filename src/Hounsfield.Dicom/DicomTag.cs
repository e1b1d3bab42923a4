using System.Globalization;

namespace Hounsfield.Dicom;

/// <summary>A data element tag (group, element), PS3.5 §7.1.</summary>
public readonly partial struct DicomTag : IEquatable<DicomTag>, IComparable<DicomTag>
{
    public DicomTag(ushort group, ushort element) => Value = ((uint)group << 16) | element;

    public DicomTag(uint value) => Value = value;

    public uint Value { get; }

    public ushort Group => (ushort)(Value >> 16);

    public ushort Element => (ushort)Value;

    /// <summary>Odd groups other than 0001, 0003, 0005, 0007 and FFFF are private (PS3.5 §7.8.1).</summary>
    public bool IsPrivate => (Group & 1) == 1 && Group > 0x0007 && Group != 0xFFFF;

    /// <summary>(gggg,0010)-(gggg,00FF) in a private group reserve a block for a creator.</summary>
    public bool IsPrivateCreator => IsPrivate && Element is >= 0x0010 and <= 0x00FF;

    public bool IsGroupLength => Element == 0x0000;

    /// <summary>For a private data element (gggg,xxyy) the creator element (gggg,00xx) that reserves its block.</summary>
    public DicomTag PrivateCreatorTag => new(Group, (ushort)(Element >> 8));

    public static readonly DicomTag Item = new(0xFFFE, 0xE000);
    public static readonly DicomTag ItemDelimitationItem = new(0xFFFE, 0xE00D);
    public static readonly DicomTag SequenceDelimitationItem = new(0xFFFE, 0xE0DD);

    public static bool operator ==(DicomTag left, DicomTag right) => left.Value == right.Value;

    public static bool operator !=(DicomTag left, DicomTag right) => left.Value != right.Value;

    public static bool operator <(DicomTag left, DicomTag right) => left.Value < right.Value;

    public static bool operator >(DicomTag left, DicomTag right) => left.Value > right.Value;

    public static bool operator <=(DicomTag left, DicomTag right) => left.Value <= right.Value;

    public static bool operator >=(DicomTag left, DicomTag right) => left.Value >= right.Value;

    public bool Equals(DicomTag other) => Value == other.Value;

    public override bool Equals(object? obj) => obj is DicomTag other && Equals(other);

    public override int GetHashCode() => (int)Value;

    public int CompareTo(DicomTag other) => Value.CompareTo(other.Value);

    /// <summary>"(GGGG,EEEE)" in upper-case hex, as in PS3.6.</summary>
    public override string ToString() => string.Create(11, Value, static (span, value) =>
    {
        span[0] = '(';
        ((ushort)(value >> 16)).TryFormat(span[1..], out _, "X4", CultureInfo.InvariantCulture);
        span[5] = ',';
        ((ushort)value).TryFormat(span[6..], out _, "X4", CultureInfo.InvariantCulture);
        span[10] = ')';
    });

    /// <summary>"GGGGEEEE", the form used as a key in DICOM JSON.</summary>
    public string ToHexString() => Value.ToString("X8", CultureInfo.InvariantCulture);

    /// <summary>Parses "(gggg,eeee)", "gggg,eeee", "ggggeeee" or a dictionary keyword.</summary>
    public static DicomTag Parse(string text)
    {
        if (TryParse(text, out var tag))
        {
            return tag;
        }

        throw new FormatException($"'{text}' is neither a tag like (0010,0010) nor a known keyword.");
    }

    public static bool TryParse(string? text, out DicomTag tag)
    {
        tag = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var span = text.AsSpan().Trim();
        if (span.Length > 2 && span[0] == '(' && span[^1] == ')')
        {
            span = span[1..^1];
        }

        if (span.Length == 9 && span[4] == ',')
        {
            if (ushort.TryParse(span[..4], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var group)
                && ushort.TryParse(span[5..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var element))
            {
                tag = new DicomTag(group, element);
                return true;
            }

            return false;
        }

        if (span.Length == 8 && uint.TryParse(span, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
        {
            tag = new DicomTag(value);
            return true;
        }

        var entry = DicomDictionary.FindByKeyword(span.ToString());
        if (entry is not null && entry.Mask == 0xFFFFFFFF)
        {
            tag = entry.Tag;
            return true;
        }

        return false;
    }
}
