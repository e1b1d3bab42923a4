// DICOM PS3.3 C.12.1.1.2 (Tables C.12-2 to C.12-5) and PS3.5 §6.1.2.4-6.1.2.5: the graphic character sets
// that a Specific Character Set designates into the G0 (bytes 0x21-0x7E) and G1 (bytes 0xA0-0xFF) code elements.
using System.Text;

namespace Hounsfield.Dicom.Text;

internal enum GraphicSetKind : byte
{
    /// <summary>ISO-IR 6 (ISO 646 / ASCII), G0.</summary>
    Ascii,

    /// <summary>ISO-IR 14, JIS X 0201 Romaji, G0: ASCII but 0x7E is OVERLINE (0x5C is kept as the DICOM delimiter).</summary>
    JisRoman,

    /// <summary>A 96-character single-byte set in G1 (an ISO 8859 part, or TIS 620).</summary>
    SingleByte96,

    /// <summary>ISO-IR 13, JIS X 0201 Katakana, G1: 0xA1-0xDF are the half-width katakana U+FF61-U+FF9F.</summary>
    JisKatakana,

    /// <summary>ISO-IR 87, JIS X 0208, 94x94 in G0.</summary>
    JisX0208,

    /// <summary>ISO-IR 159, JIS X 0212, 94x94 in G0.</summary>
    JisX0212,

    /// <summary>ISO-IR 149, KS X 1001, 94x94 in G1.</summary>
    KsX1001,

    /// <summary>ISO-IR 58, GB 2312, 94x94 in G1.</summary>
    Gb2312,
}

/// <summary>One graphic character set and the escape sequence that designates it (ISO/IEC 2022).</summary>
internal sealed class GraphicSet
{
    private const char Replacement = '\uFFFD';
    private const int Cells = 94 * 94;

    private readonly int _codePage;
    private char[]? _high;                       // SingleByte96: 0x80..0xFF
    private Dictionary<char, byte>? _highReverse;
    private char[]? _cells;                      // 94x94 sets
    private Dictionary<char, ushort>? _cellsReverse;

    private GraphicSet(string term, GraphicSetKind kind, bool isG1, byte[] escape, int codePage)
    {
        Term = term;
        Kind = kind;
        IsG1 = isG1;
        Escape = escape;
        _codePage = codePage;
    }

    /// <summary>The code extension defined term that designates this set, e.g. "ISO 2022 IR 87".</summary>
    public string Term { get; }

    public GraphicSetKind Kind { get; }

    public bool IsG1 { get; }

    public bool IsMultiByte => Kind >= GraphicSetKind.JisX0208;

    /// <summary>The designation escape sequence, ESC included.</summary>
    public byte[] Escape { get; }

    // ---- the sets of PS3.3 Tables C.12-3 and C.12-4 ---------------------------------------------------------------

    public static readonly GraphicSet Ascii = new("ISO 2022 IR 6", GraphicSetKind.Ascii, false, [0x1B, 0x28, 0x42], 0);
    public static readonly GraphicSet JisRoman = new("ISO 2022 IR 13", GraphicSetKind.JisRoman, false, [0x1B, 0x28, 0x4A], 0);
    public static readonly GraphicSet JisKatakana = new("ISO 2022 IR 13", GraphicSetKind.JisKatakana, true, [0x1B, 0x29, 0x49], 0);
    public static readonly GraphicSet Latin1 = Latin("ISO 2022 IR 100", 0x41, 28591);
    public static readonly GraphicSet Latin2 = Latin("ISO 2022 IR 101", 0x42, 28592);
    public static readonly GraphicSet Latin3 = Latin("ISO 2022 IR 109", 0x43, 28593);
    public static readonly GraphicSet Latin4 = Latin("ISO 2022 IR 110", 0x44, 28594);
    public static readonly GraphicSet Cyrillic = Latin("ISO 2022 IR 144", 0x4C, 28595);
    public static readonly GraphicSet Arabic = Latin("ISO 2022 IR 127", 0x47, 28596);
    public static readonly GraphicSet Greek = Latin("ISO 2022 IR 126", 0x46, 28597);
    public static readonly GraphicSet Hebrew = Latin("ISO 2022 IR 138", 0x48, 28598);
    public static readonly GraphicSet Latin5 = Latin("ISO 2022 IR 148", 0x4D, 28599);
    public static readonly GraphicSet Latin9 = Latin("ISO 2022 IR 203", 0x62, 28605);
    public static readonly GraphicSet Thai = Latin("ISO 2022 IR 166", 0x54, 874);
    public static readonly GraphicSet JisX0208 = new("ISO 2022 IR 87", GraphicSetKind.JisX0208, false, [0x1B, 0x24, 0x42], 20932);
    public static readonly GraphicSet JisX0212 = new("ISO 2022 IR 159", GraphicSetKind.JisX0212, false, [0x1B, 0x24, 0x28, 0x44], 0);
    public static readonly GraphicSet KsX1001 = new("ISO 2022 IR 149", GraphicSetKind.KsX1001, true, [0x1B, 0x24, 0x29, 0x43], 51949);
    public static readonly GraphicSet Gb2312 = new("ISO 2022 IR 58", GraphicSetKind.Gb2312, true, [0x1B, 0x24, 0x29, 0x41], 936);

    private static GraphicSet Latin(string term, byte final, int codePage) =>
        new(term, GraphicSetKind.SingleByte96, true, [0x1B, 0x2D, final], codePage);

    /// <summary>
    /// Reads the escape sequence at the start of <paramref name="span"/> (which begins with ESC): its length
    /// (ESC, intermediate bytes 0x20-0x2F, one final byte 0x30-0x7E; the rest of the span when truncated) and
    /// the set it designates, or null when it is not one of the DICOM designations.
    /// </summary>
    public static int ReadEscape(ReadOnlySpan<byte> span, out GraphicSet? set)
    {
        set = null;
        int i = 1;
        while (i < span.Length && span[i] is >= 0x20 and <= 0x2F)
        {
            i++;
        }

        if (i >= span.Length || span[i] is < 0x30 or > 0x7E)
        {
            return Math.Max(1, i);   // malformed: consume ESC and its intermediates
        }

        int length = i + 1;
        var sequence = span[1..length];
        set = sequence switch
        {
            [0x28, 0x42] => Ascii,
            [0x28, 0x4A] => JisRoman,
            [0x29, 0x49] => JisKatakana,
            [0x2D, 0x41] => Latin1,
            [0x2D, 0x42] => Latin2,
            [0x2D, 0x43] => Latin3,
            [0x2D, 0x44] => Latin4,
            [0x2D, 0x4C] => Cyrillic,
            [0x2D, 0x47] => Arabic,
            [0x2D, 0x46] => Greek,
            [0x2D, 0x48] => Hebrew,
            [0x2D, 0x4D] => Latin5,
            [0x2D, 0x62] => Latin9,
            [0x2D, 0x54] => Thai,
            [0x24, 0x42] or [0x24, 0x40] or [0x24, 0x28, 0x42] => JisX0208,   // ESC $ @ (JIS C 6226-1978) read as JIS X 0208
            [0x24, 0x28, 0x44] => JisX0212,
            [0x24, 0x29, 0x43] => KsX1001,
            [0x24, 0x29, 0x41] => Gb2312,
            _ => null,
        };
        return length;
    }

    // ---- single-byte sets -------------------------------------------------------------------------------------------

    /// <summary>The character of byte <paramref name="b"/> (0x00-0x7F for G0 sets, 0x80-0xFF for G1 sets).</summary>
    public char DecodeByte(byte b)
    {
        switch (Kind)
        {
            case GraphicSetKind.Ascii:
                return (char)b;
            case GraphicSetKind.JisRoman:
                return b == 0x7E ? '\u203E' : (char)b;
            case GraphicSetKind.JisKatakana:
                return b is >= 0xA1 and <= 0xDF ? (char)(0xFF61 + (b - 0xA1)) : Replacement;
            case GraphicSetKind.SingleByte96:
                return b >= 0x80 ? HighTable[b - 0x80] : (char)b;
            default:
                return Replacement;
        }
    }

    /// <summary>The byte of <paramref name="c"/> in this single-byte set (graphic characters and SPACE only for G0 sets).</summary>
    public bool TryEncodeByte(char c, out byte b)
    {
        switch (Kind)
        {
            case GraphicSetKind.Ascii when c is >= ' ' and < '\u007F':
                b = (byte)c;
                return true;
            case GraphicSetKind.JisRoman when c is >= ' ' and < '~':
                b = (byte)c;
                return true;
            case GraphicSetKind.JisRoman when c == '\u203E':
                b = 0x7E;
                return true;
            case GraphicSetKind.JisKatakana when c is >= '\uFF61' and <= '\uFF9F':
                b = (byte)(0xA1 + (c - 0xFF61));
                return true;
            case GraphicSetKind.SingleByte96 when c >= '\u0080':
                if (_codePage == 28591)
                {
                    b = (byte)c;
                    return c <= '\u00FF';
                }

                return HighReverse.TryGetValue(c, out b);
            default:
                b = 0;
                return false;
        }
    }

    /// <summary>Bytes 0x80-0xFF of a 96-character set: C1 controls at 0x80-0x9F, the set's characters at 0xA0-0xFF.</summary>
    public char[] HighTable => _high ?? LazyInitializer.EnsureInitialized(ref _high, BuildHighTable);

    private Dictionary<char, byte> HighReverse => _highReverse ?? LazyInitializer.EnsureInitialized(ref _highReverse, () =>
    {
        var table = HighTable;
        var reverse = new Dictionary<char, byte>(128);
        for (int i = 0; i < table.Length; i++)
        {
            if (table[i] != Replacement)
            {
                reverse.TryAdd(table[i], (byte)(0x80 + i));
            }
        }

        return reverse;
    });

    private char[] BuildHighTable()
    {
        var table = new char[128];
        var encoding = CodePages.Get(_codePage);
        Span<char> chars = stackalloc char[4];
        for (int i = 0; i < 128; i++)
        {
            if (i < 0x20)
            {
                table[i] = (char)(0x80 + i);
                continue;
            }

            ReadOnlySpan<byte> one = [(byte)(0x80 + i)];
            int n = encoding.GetChars(one, chars);
            table[i] = n == 1 ? chars[0] : Replacement;
        }

        return table;
    }

    // ---- 94x94 sets -------------------------------------------------------------------------------------------------

    /// <summary>The character of the cell (<paramref name="row"/>, <paramref name="column"/>), each 0x21-0x7E (or with the high bit set).</summary>
    public char DecodePair(byte row, byte column) => CellTable[((row & 0x7F) - 0x21) * 94 + ((column & 0x7F) - 0x21)];

    /// <summary>The cell of <paramref name="c"/>, as two bytes 0x21-0x7E (a G1 writer sets their high bits).</summary>
    public bool TryEncodePair(char c, out byte row, out byte column)
    {
        if (c >= '\u0080' && CellsReverse.TryGetValue(c, out ushort cell))
        {
            row = (byte)(cell >> 8);
            column = (byte)cell;
            return true;
        }

        row = column = 0;
        return false;
    }

    private char[] CellTable => _cells ?? LazyInitializer.EnsureInitialized(ref _cells, BuildCellTable);

    private Dictionary<char, ushort> CellsReverse => _cellsReverse ?? LazyInitializer.EnsureInitialized(ref _cellsReverse, () =>
    {
        var table = CellTable;
        var reverse = new Dictionary<char, ushort>(8192);
        for (int i = 0; i < table.Length; i++)
        {
            if (table[i] != Replacement && IsStandardCell(0x21 + i / 94, table[i]))
            {
                reverse.TryAdd(table[i], (ushort)(((0x21 + i / 94) << 8) | (0x21 + i % 94)));
            }
        }

        return reverse;
    });

    /// <summary>
    /// Whether an encoder may write this cell: the .NET code pages add vendor rows (NEC row 13 and IBM rows 89-92 to
    /// JIS X 0208; GBK symbols and private-use cells to GB 2312) that other readers reject, so those are read only.
    /// </summary>
    private bool IsStandardCell(int row, char c) => Kind switch
    {
        GraphicSetKind.JisX0208 => row is (>= 0x21 and <= 0x28) or (>= 0x30 and <= 0x74),
        GraphicSetKind.Gb2312 => (row is (>= 0x21 and <= 0x29) or (>= 0x30 and <= 0x77)) && c is < '\uE000' or > '\uF8FF',
        _ => c is < '\uE000' or > '\uF8FF',
    };

    private char[] BuildCellTable()
    {
        var table = new char[Cells];
        Array.Fill(table, Replacement);
        if (Kind == GraphicSetKind.JisX0212)
        {
            var runs = JisX0212Table.Runs;
            int p = 0;
            while (p < runs.Length)
            {
                int cell = runs[p], count = runs[p + 1];
                p += 2;
                int index = ((cell >> 8) - 0x21) * 94 + ((cell & 0xFF) - 0x21);
                runs.AsSpan(p, count).CopyTo(table.AsSpan(index));
                p += count;
            }

            return table;
        }

        // EUC form of the set in a .NET code page: both bytes with the high bit set.
        var encoding = CodePages.Get(_codePage);
        Span<byte> pair = stackalloc byte[2];
        Span<char> chars = stackalloc char[4];
        for (int i = 0; i < Cells; i++)
        {
            pair[0] = (byte)(0xA1 + i / 94);
            pair[1] = (byte)(0xA1 + i % 94);
            int n = encoding.GetChars(pair, chars);
            if (n == 1 && !char.IsSurrogate(chars[0]))
            {
                table[i] = chars[0];
            }
        }

        return table;
    }
}

/// <summary>The .NET encodings used, each created once.</summary>
internal static class CodePages
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, Encoding> Cache = new();

    static CodePages() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    /// <summary>
    /// The encoding of <paramref name="codePage"/>: decoding replaces invalid input with U+FFFD; encoding throws
    /// <see cref="EncoderFallbackException"/> for unmappable characters and lone surrogates.
    /// </summary>
    public static Encoding Get(int codePage) => Cache.GetOrAdd(codePage, static cp =>
        Encoding.GetEncoding(cp, EncoderFallback.ExceptionFallback, new DecoderReplacementFallback("\uFFFD")));
}
