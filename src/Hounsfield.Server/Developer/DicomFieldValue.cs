// Value representations, PS3.5 §6.2 (Table 6.2-1): character repertoires, lengths and formats; value multiplicity, PS3.5 §6.4.
using System.Globalization;
using System.Text.RegularExpressions;
using Hounsfield.Dicom;

namespace Hounsfield.Server.Developer;

/// <summary>
/// A form field's text checked against its keyword's VR and VM and turned into an element. Several values are separated by
/// '\' as in DICOM; an empty text gives an empty element. Bulk (OB, OW, ...), sequence and UN values cannot be given as text.
/// </summary>
internal sealed partial class DicomFieldValue
{
    private readonly string[] texts;
    private readonly Array? numbers;
    private readonly DicomTag[]? tags;

    private DicomFieldValue(DicomTag tag, DicomVR vr, string[] texts, Array? numbers, DicomTag[]? tags)
    {
        Tag = tag;
        VR = vr;
        this.texts = texts;
        this.numbers = numbers;
        this.tags = tags;
    }

    public DicomTag Tag { get; }

    public DicomVR VR { get; }

    /// <summary>Whether the value needs a character set beyond ASCII (the generator then declares UTF-8, ISO_IR 192).</summary>
    public bool NeedsUnicode => VR.UsesSpecificCharacterSet() && texts.Any(t => t.Any(c => c > 0x7F));

    /// <summary>Parses <paramref name="text"/> for <paramref name="entry"/>; throws <see cref="FormatException"/> with the message for the client.</summary>
    public static DicomFieldValue Parse(DicomDictionaryEntry entry, string text)
    {
        var vr = entry.DefaultVR;
        if (vr.IsBulk() || vr is DicomVR.SQ or DicomVR.None)
        {
            throw new FormatException($"Values of VR {vr.ToCode()} cannot be given as a form field.");
        }

        var values = text.Length == 0 ? [] : vr.IsMultiValuedString() || vr.IsBinaryNumber() || vr == DicomVR.AT ? text.Split('\\') : [text];
        CheckMultiplicity(entry.ValueMultiplicity, values.Length);
        if (vr == DicomVR.AT)
        {
            return new DicomFieldValue(entry.Tag, vr, values, null, [.. values.Select(ParseTag)]);
        }

        if (vr.IsBinaryNumber())
        {
            return new DicomFieldValue(entry.Tag, vr, values, ParseNumbers(vr, values), null);
        }

        for (var i = 0; i < values.Length; i++)
        {
            var problem = CheckString(vr, values[i]);
            if (problem is not null)
            {
                throw new FormatException(values.Length == 1 ? problem : string.Create(CultureInfo.InvariantCulture, $"Value {i + 1}: {problem}"));
            }
        }

        return new DicomFieldValue(entry.Tag, vr, values, null, null);
    }

    /// <summary>Sets the element in <paramref name="dataset"/>, whose Specific Character Set must already be declared.</summary>
    public void ApplyTo(DicomDataset dataset)
    {
        switch (numbers)
        {
            case ushort[] v: dataset.AddOrUpdate(Tag, VR, v); return;
            case short[] v: dataset.AddOrUpdate(Tag, VR, v); return;
            case uint[] v: dataset.AddOrUpdate(Tag, VR, v); return;
            case int[] v: dataset.AddOrUpdate(Tag, VR, v); return;
            case ulong[] v: dataset.AddOrUpdate(Tag, VR, v); return;
            case long[] v: dataset.AddOrUpdate(Tag, VR, v); return;
            case float[] v: dataset.AddOrUpdate(Tag, VR, v); return;
            case double[] v: dataset.AddOrUpdate(Tag, VR, v); return;
        }

        if (tags is not null)
        {
            dataset.AddOrUpdate(Tag, tags);
            return;
        }

        dataset.AddOrUpdate(Tag, VR, texts);
    }

    /// <summary>"1", "1-3", "1-n", "2-2n", ...: the count of values must fit (an empty value always does).</summary>
    private static void CheckMultiplicity(string multiplicity, int count)
    {
        if (count == 0)
        {
            return;
        }

        var parts = multiplicity.Split('-');
        if (!int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var minimum))
        {
            return;
        }

        var maximum = minimum;
        var step = 1;
        if (parts.Length == 2)
        {
            var upper = parts[1];
            if (upper.EndsWith('n'))
            {
                maximum = int.MaxValue;
                step = upper.Length > 1 && int.TryParse(upper[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : 1;
            }
            else if (!int.TryParse(upper, NumberStyles.None, CultureInfo.InvariantCulture, out maximum))
            {
                return;
            }
        }

        if (count < minimum || count > maximum || count % step != 0)
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"Expected {multiplicity} value(s) (VM), separated by '\\'; got {count}."));
        }
    }

    private static Array ParseNumbers(DicomVR vr, string[] values)
    {
        return vr switch
        {
            DicomVR.US => Parse<ushort>(values, NumberStyles.Integer),
            DicomVR.SS => Parse<short>(values, NumberStyles.Integer),
            DicomVR.UL => Parse<uint>(values, NumberStyles.Integer),
            DicomVR.SL => Parse<int>(values, NumberStyles.Integer),
            DicomVR.UV => Parse<ulong>(values, NumberStyles.Integer),
            DicomVR.SV => Parse<long>(values, NumberStyles.Integer),
            DicomVR.FL => Parse<float>(values, NumberStyles.Float),
            _ => Parse<double>(values, NumberStyles.Float),
        };

        T[] Parse<T>(string[] texts, NumberStyles styles)
            where T : struct, System.Numerics.INumber<T>, System.Numerics.IMinMaxValue<T>
        {
            var result = new T[texts.Length];
            for (var i = 0; i < texts.Length; i++)
            {
                if (!T.TryParse(texts[i].Trim(), styles, CultureInfo.InvariantCulture, out result[i]) || !T.IsFinite(result[i]))
                {
                    throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                        $"'{texts[i]}' is not a {vr.ToCode()} value: {(styles == NumberStyles.Integer ? "an integer" : "a finite number")} from {T.MinValue} to {T.MaxValue}."));
                }
            }

            return result;
        }
    }

    /// <summary>"(gggg,eeee)", "gggg,eeee", "ggggeeee" or a keyword.</summary>
    private static DicomTag ParseTag(string text) => DicomTag.TryParse(text, out var tag)
        ? tag
        : throw new FormatException($"'{text}' is not an attribute tag: give (gggg,eeee), ggggeeee or a keyword.");

    /// <summary>The problem with one string value, or null when it is a valid value of <paramref name="vr"/>.</summary>
    private static string? CheckString(DicomVR vr, string value)
    {
        var text = vr.UsesSpecificCharacterSet();
        var multiline = vr is DicomVR.LT or DicomVR.ST or DicomVR.UT;
        foreach (var c in value)
        {
            if (c < 0x20 && !(multiline && c is '\r' or '\n' or '\f' or '\t'))
            {
                return $"Control characters are not allowed in VR {vr.ToCode()}.";
            }

            if (!text && c > 0x7E)
            {
                return $"VR {vr.ToCode()} allows only ASCII characters.";
            }
        }

        var trimmed = value.Trim(' ');
        var format = vr switch
        {
            DicomVR.AE when trimmed.Length == 0 && value.Length > 0 => "An AE title cannot be only spaces.",
            DicomVR.AS when !AgeString().IsMatch(value) => "An age is three digits and D, W, M or Y, e.g. 045Y.",
            DicomVR.CS when !CodeString().IsMatch(value) => "A code string holds upper-case letters, digits, spaces and underscores.",
            DicomVR.DA when !DateOnly.TryParseExact(value, "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _) => "A date is YYYYMMDD, e.g. 19800131.",
            DicomVR.DS when !DecimalString().IsMatch(trimmed) || !double.IsFinite(double.Parse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture)) => "A decimal string is a number such as 1.5, -2 or 3e-4.",
            DicomVR.IS when !int.TryParse(trimmed, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _) => "An integer string is an integer from -2147483648 to 2147483647.",
            DicomVR.TM when !TimeString().IsMatch(value.TrimEnd(' ')) => "A time is HH, HHMM, HHMMSS or HHMMSS.FFFFFF, e.g. 142503.",
            DicomVR.DT when !IsDateTime(value.TrimEnd(' ')) => "A date-time is YYYY[MM[DD[HH[MM[SS[.FFFFFF]]]]]][+/-ZZXX], e.g. 20240131142503+0100.",
            DicomVR.UI when !DicomUidGenerator.IsValid(value) => "A UID holds digits separated by dots, at most 64 characters, without leading zeros in a component.",
            DicomVR.PN => CheckPersonName(value),
            DicomVR.UR when value.TrimEnd(' ').Contains(' ', StringComparison.Ordinal) => "A URI cannot contain spaces.",
            _ => null,
        };
        if (format is not null)
        {
            return format;
        }

        var maxLength = vr switch
        {
            DicomVR.AE or DicomVR.CS or DicomVR.DS or DicomVR.SH => 16,
            DicomVR.IS => 12,
            DicomVR.DT => 26,
            DicomVR.LO => 64,
            DicomVR.ST => 1024,
            DicomVR.LT => 10240,
            _ => int.MaxValue, // AS DA TM UI PN: bounded by their format; UC UR UT: 2^32 - 2, beyond any form field
        };
        return value.Length > maxLength ? string.Create(CultureInfo.InvariantCulture, $"Longer than the {maxLength} characters VR {vr.ToCode()} allows.") : null;
    }

    private static string? CheckPersonName(string value)
    {
        var groups = value.Split('=');
        if (groups.Length > 3)
        {
            return "A person name has at most three component groups separated by '='.";
        }

        foreach (var group in groups)
        {
            if (group.Length > 64)
            {
                return "Each component group of a person name is at most 64 characters.";
            }

            if (group.Split('^').Length > 5)
            {
                return "A person name has at most five components separated by '^' (family^given^middle^prefix^suffix).";
            }
        }

        return null;
    }

    private static bool IsDateTime(string value)
    {
        var match = DateTimeString().Match(value);
        if (!match.Success)
        {
            return false;
        }

        var year = int.Parse(match.Groups["y"].Value, CultureInfo.InvariantCulture);
        var month = match.Groups["m"].Success ? int.Parse(match.Groups["m"].Value, CultureInfo.InvariantCulture) : 1;
        var day = match.Groups["d"].Success ? int.Parse(match.Groups["d"].Value, CultureInfo.InvariantCulture) : 1;
        return year >= 1 && day <= DateTime.DaysInMonth(year, month);
    }

    [GeneratedRegex(@"^\d{3}[DWMY]$")]
    private static partial Regex AgeString();

    [GeneratedRegex(@"^[A-Z0-9 _]*$")]
    private static partial Regex CodeString();

    [GeneratedRegex(@"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")]
    private static partial Regex DecimalString();

    [GeneratedRegex(@"^([01]\d|2[0-3])([0-5]\d(([0-5]\d|60)(\.\d{1,6})?)?)?$")]
    private static partial Regex TimeString();

    [GeneratedRegex(@"^(?<y>\d{4})((?<m>0[1-9]|1[0-2])((?<d>0[1-9]|[12]\d|3[01])(([01]\d|2[0-3])([0-5]\d(([0-5]\d|60)(\.\d{1,6})?)?)?)?)?)?([+-]((0\d|1[0-4])[0-5]\d))?$")]
    private static partial Regex DateTimeString();
}
