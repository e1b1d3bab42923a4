using System.Globalization;
using System.Numerics;

namespace Hounsfield.Dicom;

/// <summary>Parsing of the text VRs that carry numbers, dates and times (PS3.5 Table 6.2-1).</summary>
public static class DicomValueParser
{
    /// <summary>Parses an IS or DS value ("  +12.5E3 " included) into T.</summary>
    public static bool TryParseNumber<T>(string text, out T value)
        where T : struct, INumber<T>
    {
        var trimmed = text.AsSpan().Trim();
        if (T.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out value))
        {
            return true;
        }

        // An IS value read as a floating type, or a DS value read as an integer type when it is integral.
        if (decimal.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out var asDecimal))
        {
            try
            {
                value = T.CreateChecked(asDecimal);
                return asDecimal == decimal.Truncate(asDecimal) || !IsIntegerType<T>();
            }
            catch (OverflowException)
            {
                return false;
            }
        }

        if (double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out var asDouble) && !IsIntegerType<T>())
        {
            value = T.CreateSaturating(asDouble);
            return true;
        }

        return false;
    }

    /// <summary>DA: YYYYMMDD (and the ACR-NEMA form YYYY.MM.DD, read leniently).</summary>
    public static DateOnly? ParseDate(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var t = text.Trim().Replace(".", string.Empty, StringComparison.Ordinal);
        return DateOnly.TryParseExact(t, "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date) ? date : null;
    }

    /// <summary>TM: HH[MM[SS[.F{1-6}]]] (and HH:MM:SS, read leniently).</summary>
    public static TimeOnly? ParseTime(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var t = text.Trim().Replace(":", string.Empty, StringComparison.Ordinal);
        var fraction = 0L;
        var dot = t.IndexOf('.');
        if (dot >= 0)
        {
            var digits = t[(dot + 1)..];
            if (digits.Length is 0 or > 6 || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out fraction))
            {
                return null;
            }

            fraction *= (long)Math.Pow(10, 6 - digits.Length);
            t = t[..dot];
        }

        if (t.Length is not (2 or 4 or 6) || !int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return null;
        }

        var hour = int.Parse(t[..2], CultureInfo.InvariantCulture);
        var minute = t.Length >= 4 ? int.Parse(t[2..4], CultureInfo.InvariantCulture) : 0;
        var second = t.Length >= 6 ? int.Parse(t[4..6], CultureInfo.InvariantCulture) : 0;
        if (second == 60)
        {
            second = 59; // a leap second, allowed by PS3.5
        }

        if (hour > 23 || minute > 59 || second > 59)
        {
            return null;
        }

        return new TimeOnly(hour, minute, second).Add(TimeSpan.FromTicks(fraction * 10));
    }

    /// <summary>DT: YYYY[MM[DD[HH[MM[SS[.F{1-6}]]]]]][&amp;ZZXX]; missing parts take their lowest value, no offset means UTC+0 is not assumed (offset zero).</summary>
    public static DateTimeOffset? ParseDateTime(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var t = text.Trim();
        var offset = TimeSpan.Zero;
        var signIndex = t.IndexOfAny(['+', '-'], 4);
        if (signIndex > 0)
        {
            var zone = t[(signIndex + 1)..];
            if (zone.Length != 4 || !int.TryParse(zone, NumberStyles.None, CultureInfo.InvariantCulture, out var hhmm))
            {
                return null;
            }

            offset = new TimeSpan(hhmm / 100, hhmm % 100, 0);
            if (t[signIndex] == '-')
            {
                offset = -offset;
            }

            t = t[..signIndex];
        }

        var datePart = t.Length >= 8 ? t[..8] : t.PadRight(8, '0');
        if (t.Length < 8)
        {
            datePart = t.Length switch
            {
                4 => t + "0101",
                6 => t + "01",
                _ => string.Empty,
            };
        }

        var date = ParseDate(datePart);
        if (date is null)
        {
            return null;
        }

        var time = t.Length > 8 ? ParseTime(t[8..]) : TimeOnly.MinValue;
        if (time is null)
        {
            return null;
        }

        try
        {
            return new DateTimeOffset(date.Value.ToDateTime(time.Value), offset);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static bool IsIntegerType<T>()
        where T : struct, INumber<T> => T.IsInteger(T.One) && !(typeof(T) == typeof(decimal) || typeof(T) == typeof(double) || typeof(T) == typeof(float) || typeof(T) == typeof(Half));
}

/// <summary>A DA, TM or DT match value: a single point or a range with optional open ends (PS3.4 C.2.2.2.5).</summary>
public sealed record DicomDateTimeRange(string? Start, string? End, bool IsRange)
{
    public static DicomDateTimeRange Parse(string text, DicomVR vr)
    {
        var dash = vr == DicomVR.DT ? FindRangeDash(text) : text.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return new DicomDateTimeRange(text.Trim(), text.Trim(), IsRange: false);
        }

        var start = text[..dash].Trim();
        var end = text[(dash + 1)..].Trim();
        return new DicomDateTimeRange(start.Length == 0 ? null : start, end.Length == 0 ? null : end, IsRange: true);
    }

    // In DT a '-' may also start a UTC offset (YYYYMMDDHHMMSS-0500); the range dash is the one not followed by exactly 4 digits then end/dash.
    private static int FindRangeDash(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '-')
            {
                continue;
            }

            var isOffset = i >= 4 && i + 5 <= text.Length && text.AsSpan(i + 1, 4).IndexOfAnyExceptInRange('0', '9') < 0
                && (i + 5 == text.Length || text[i + 5] == '-') && text.AsSpan(0, i).IndexOfAnyExceptInRange('0', '9') < 0 && i > 8;
            if (!isOffset)
            {
                return i;
            }
        }

        return -1;
    }
}
