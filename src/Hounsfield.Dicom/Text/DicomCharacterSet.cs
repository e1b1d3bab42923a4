// DICOM Specific Character Set (0008,0005) handling.
//   PS3.3 C.12.1.1.2 — the defined terms (Tables C.12-2 to C.12-5) and their escape sequences.
//   PS3.5 §6.1      — character repertoires, ISO/IEC 2022 code extensions (§6.1.2.4, §6.1.2.5), and the rule
//                      that the value-1 (initial) repertoire is active again before CR, LF, FF, TAB, the value
//                      delimiter '\' and, in PN values, the '^' and '=' delimiters (§6.1.2.5.3).
//   PS3.5 Annexes H, I, J, K — the Japanese, Korean and Chinese examples that the tests reproduce byte for byte.
using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Hounsfield.Dicom.Text;

/// <summary>
/// The character set(s) declared by a Specific Character Set (0008,0005) value, able to decode and encode the
/// values of the VRs it applies to (SH, LO, ST, LT, PN, UC, UT; PS3.5 §6.1.2.3). Values of other VRs use the
/// default repertoire. Instances are immutable, cached and thread-safe.
/// </summary>
public sealed class DicomCharacterSet
{
    private enum Mode : byte
    {
        Default,
        SingleByte,
        Iso2022,
        Utf8,
        MultiByte,
    }

    private sealed record TermDefinition(string Term, bool CodeExtensions, GraphicSet? G0, GraphicSet? G1, int CodePage = 0);

    private const byte Esc = 0x1B;
    private const int MaxCachedSets = 256;
    private const int StackLimit = 512;

    private static readonly Dictionary<string, TermDefinition> Definitions = BuildDefinitions();
    private static readonly ConcurrentDictionary<string, DicomCharacterSet> Cache = new(StringComparer.Ordinal);

    private readonly Mode _mode;
    private readonly string[] _terms;
    private readonly IReadOnlyList<string> _termsView;
    private readonly GraphicSet _g0;          // initial G0 (SingleByte, Iso2022)
    private readonly GraphicSet? _g1;         // initial G1 (SingleByte, Iso2022)
    private readonly GraphicSet[] _candidates; // Iso2022: the sets an encoder may designate, in order of preference
    private readonly Encoding? _encoding;     // Utf8, MultiByte
    private readonly GbDecoder? _gb;          // MultiByte
    private readonly bool _asciiTransparent;  // ASCII text encodes and decodes as itself
    private readonly bool _initialSingleByte; // Iso2022: initial G0 and G1 are single-byte sets
    private char[]? _initialTable;            // SingleByte, Iso2022: byte -> char in the initial state

    private DicomCharacterSet(string[] terms)
    {
        bool isDefault = terms.Length == 0 || (terms.Length == 1 && terms[0].Length == 0);
        _terms = isDefault ? [] : terms;
        _termsView = Array.AsReadOnly(_terms);
        _g0 = GraphicSet.Ascii;
        _candidates = [];
        if (isDefault)
        {
            _mode = Mode.Default;
            _asciiTransparent = true;
            return;
        }

        var first = terms[0].Length == 0 ? Definitions["ISO 2022 IR 6"] : Definitions[terms[0]];
        if (terms.Length == 1 && !first.CodeExtensions)
        {
            if (first.CodePage != 0)
            {
                _mode = first.CodePage == 65001 ? Mode.Utf8 : Mode.MultiByte;
                _encoding = CodePages.Get(first.CodePage);
                _gb = GbDecoder.For(first.CodePage);
                _asciiTransparent = true;
                return;
            }

            _mode = Mode.SingleByte;
            _g0 = first.G0!;
            _g1 = first.G1;
            _asciiTransparent = _g0 == GraphicSet.Ascii;
            return;
        }

        _mode = Mode.Iso2022;

        // Value 1 sets the initial state: its G0 set (ASCII unless it is JIS X 0201) and its G1 set. A multi-byte
        // G0 set (IR 87, IR 159) as value 1 leaves ASCII in G0; a multi-byte G1 set (IR 149, IR 58) as value 1 is
        // taken as initially designated, which is how such files are read in practice.
        _g0 = first.G0 is { IsMultiByte: false } g0 ? g0 : GraphicSet.Ascii;
        _g1 = first.G1;
        _asciiTransparent = _g0 == GraphicSet.Ascii;
        _initialSingleByte = _g1 is null or { IsMultiByte: false };

        var candidates = new List<GraphicSet> { _g0 };
        if (_g1 != null)
        {
            candidates.Add(_g1);
        }

        foreach (var term in terms)
        {
            var definition = term.Length == 0 ? Definitions["ISO 2022 IR 6"] : Definitions[term];
            if (definition.G0 != null && !candidates.Contains(definition.G0))
            {
                candidates.Add(definition.G0);
            }

            if (definition.G1 != null && !candidates.Contains(definition.G1))
            {
                candidates.Add(definition.G1);
            }
        }

        // ISO-IR 6 may always be designated back into G0 (it is the DICOM default repertoire).
        if (!candidates.Contains(GraphicSet.Ascii))
        {
            candidates.Add(GraphicSet.Ascii);
        }

        _candidates = [.. candidates];
    }

    /// <summary>The default repertoire (no or empty Specific Character Set). Bytes above 0x7F decode as Latin-1, as many readers do.</summary>
    public static DicomCharacterSet Default { get; } = new([]);

    /// <summary>ISO_IR 192 (Unicode in UTF-8).</summary>
    public static DicomCharacterSet Utf8 { get; } = new(["ISO_IR 192"]);

    /// <summary>The values of Specific Character Set, trimmed; the first may be empty (ISO 2022 IR 6 with code extensions). Empty for the default repertoire.</summary>
    public IReadOnlyList<string> Terms => _termsView;

    /// <summary>True for the default repertoire (ISO-IR 6).</summary>
    public bool IsDefault => _mode == Mode.Default;

    /// <summary>True when values may switch character sets with ISO/IEC 2022 escape sequences.</summary>
    public bool UsesCodeExtensions => _mode == Mode.Iso2022;

    public override string ToString() => _mode == Mode.Default ? "(default)" : string.Join('\\', _terms);

    // ---- construction -----------------------------------------------------------------------------------------------

    /// <summary>
    /// The character set declared by the values of (0008,0005) (a single string holding the whole value, with its
    /// backslashes, is accepted too). Throws <see cref="DicomCharacterSetException"/> for an unknown defined term or an
    /// invalid combination (PS3.3 C.12.1.1.2).
    /// </summary>
    public static DicomCharacterSet FromTerms(IReadOnlyList<string> terms) =>
        TryFromTerms(terms, out var characterSet, out var error) ? characterSet : throw new DicomCharacterSetException(error);

    /// <summary>As <see cref="FromTerms"/>; on failure <paramref name="characterSet"/> is <see cref="Default"/> and <paramref name="error"/> says why.</summary>
    public static bool TryFromTerms(IReadOnlyList<string> terms, out DicomCharacterSet characterSet, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(terms);
        characterSet = Default;
        error = null;
        if (terms.Count == 1 && terms[0] is { } whole && whole.Contains('\\', StringComparison.Ordinal))
        {
            terms = whole.Split('\\');
        }

        if (terms.Count == 1)
        {
            // The common case: one term, no allocation once cached.
            var term = Trim(terms[0] ?? string.Empty);
            if (term.Length == 0)
            {
                return true;
            }

            if (Cache.TryGetValue(term, out var cached))
            {
                characterSet = cached;
                return true;
            }

            if (!Definitions.ContainsKey(term))
            {
                error = $"Unknown Specific Character Set defined term '{term}'.";
                return false;
            }

            characterSet = Remember(term, [term]);
            return true;
        }

        var trimmed = new string[terms.Count];
        bool allEmpty = true;
        for (int i = 0; i < trimmed.Length; i++)
        {
            trimmed[i] = Trim(terms[i] ?? string.Empty);
            allEmpty &= trimmed[i].Length == 0;
        }

        if (allEmpty)
        {
            return true;   // no value, or only empty values: the default repertoire
        }

        var key = string.Join('\\', trimmed);
        if (Cache.TryGetValue(key, out var hit))
        {
            characterSet = hit;
            return true;
        }

        for (int i = 0; i < trimmed.Length; i++)
        {
            var term = trimmed[i];
            if (term.Length == 0)
            {
                if (i == 0)
                {
                    continue;   // value 1 empty: ISO 2022 IR 6
                }

                error = $"Specific Character Set value {i + 1} is empty.";
                return false;
            }

            if (!Definitions.TryGetValue(term, out var definition))
            {
                error = $"Unknown Specific Character Set defined term '{term}'.";
                return false;
            }

            if (!definition.CodeExtensions)
            {
                error = definition.CodePage != 0
                    ? $"Specific Character Set '{term}' must be the only value (it does not allow code extensions)."
                    : $"Specific Character Set '{term}' cannot be combined with other character sets; use 'ISO 2022 {term[4..]}' for code extensions.";
                return false;
            }
        }

        characterSet = Remember(key, trimmed);
        return true;
    }

    /// <summary>
    /// The character set declared by (0008,0005), reading common misspellings the way DCMTK and pydicom do
    /// ("ISO_IR_192", "ISO-IR 100", "ISO IR 100", "UTF-8", "ISO_IR 100" among several values, ...). Unknown terms are
    /// dropped; never throws.
    /// </summary>
    public static DicomCharacterSet FromTermsLenient(IReadOnlyList<string> terms) => FromTermsLenient(terms, out _);

    /// <summary>As <see cref="FromTermsLenient(IReadOnlyList{string})"/>; <paramref name="warning"/> describes any correction made.</summary>
    public static DicomCharacterSet FromTermsLenient(IReadOnlyList<string> terms, out string? warning)
    {
        ArgumentNullException.ThrowIfNull(terms);
        warning = null;
        if (TryFromTerms(terms, out var exact, out _))
        {
            return exact;
        }

        // Split values that still hold backslashes, then correct each.
        var raw = new List<string>();
        foreach (var term in terms)
        {
            raw.AddRange((term ?? string.Empty).Split('\\'));
        }

        var corrected = new List<string>();
        var notes = new List<string>();
        string? unicodeLike = null;
        for (int i = 0; i < raw.Count; i++)
        {
            var term = Trim(raw[i]);
            var canonical = Correct(term);
            if (canonical == null)
            {
                notes.Add($"unknown term '{term}' ignored");
                if (i == 0)
                {
                    corrected.Add(string.Empty);
                }

                continue;
            }

            if (canonical != term)
            {
                notes.Add($"'{term}' read as '{(canonical.Length == 0 ? "ISO_IR 6" : canonical)}'");
            }

            if (Definitions.TryGetValue(canonical, out var definition) && definition.CodePage != 0)
            {
                unicodeLike ??= canonical;
            }

            corrected.Add(canonical);
        }

        DicomCharacterSet result;
        if (unicodeLike != null)
        {
            if (corrected.Count(t => t.Length > 0) > 1)
            {
                notes.Add($"'{unicodeLike}' must be the only value; other values ignored");
            }

            result = FromTerms([unicodeLike]);
        }
        else
        {
            // Later empty values are dropped; with several values, every one must be a code-extension term.
            var list = corrected.Where((term, i) => i == 0 || term.Length > 0).ToList();
            if (list.Count > 1)
            {
                for (int i = 0; i < list.Count; i++)
                {
                    if (list[i].StartsWith("ISO_IR ", StringComparison.Ordinal))
                    {
                        list[i] = "ISO 2022 " + list[i][4..];
                    }
                }
            }

            result = TryFromTerms(list, out var set, out var error) ? set : Default;
            if (error != null)
            {
                notes.Add(error);
            }
        }

        warning = notes.Count == 0 ? null : $"Specific Character Set '{string.Join('\\', terms)}': {string.Join("; ", notes)}.";
        return result;
    }

    private static DicomCharacterSet Remember(string key, string[] terms)
    {
        if (Cache.TryGetValue(key, out var existing))
        {
            return existing;
        }

        var created = key == "ISO_IR 192" ? Utf8 : new DicomCharacterSet(terms);
        return Cache.Count < MaxCachedSets ? Cache.GetOrAdd(key, created) : created;
    }

    private static string Trim(string term) => term.TrimPadding();

    /// <summary>The defined term meant by a misspelt one: "" for the default repertoire, null when not recognised.</summary>
    private static string? Correct(string term)
    {
        if (term.Length == 0 || Definitions.ContainsKey(term))
        {
            return term;
        }

        Span<char> buffer = stackalloc char[Math.Min(term.Length, 64)];
        int n = 0;
        foreach (char c in term)
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                if (n == buffer.Length)
                {
                    return null;
                }

                buffer[n++] = char.ToUpperInvariant(c);
            }
            else if (c is not (' ' or '_' or '-' or '.' or '/'))
            {
                return null;
            }
        }

        ReadOnlySpan<char> compact = buffer[..n];
        switch (compact)
        {
            case "":
            case "ISOIR6" or "ISO2022IR6" or "ASCII" or "USASCII" or "ISO646" or "DEFAULT":
                return string.Empty;
            case "UTF8" or "ISOIR192" or "ISO2022IR192" or "ISO10646" or "UNICODE":
                return "ISO_IR 192";
            case "GB18030" or "ISOGB18030":
                return "GB18030";
            case "GBK" or "CP936" or "GB2312":
                return "GBK";
            case "LATIN1":
                return "ISO_IR 100";
        }

        bool codeExtensions = false;
        int number;
        if (compact.StartsWith("ISO2022IR") && int.TryParse(compact[9..], out number))
        {
            codeExtensions = true;
        }
        else if (compact.StartsWith("ISOIR") && int.TryParse(compact[5..], out number))
        {
        }
        else if (compact.StartsWith("ISO8859") && int.TryParse(compact[7..], out int part))
        {
            number = part switch
            {
                1 => 100, 2 => 101, 3 => 109, 4 => 110, 5 => 144, 6 => 127, 7 => 126, 8 => 138, 9 => 148, 11 => 166, 15 => 203,
                _ => -1,
            };
        }
        else
        {
            return null;
        }

        if (number is 87 or 159 or 149 or 58)
        {
            return $"ISO 2022 IR {number}";
        }

        var candidate = codeExtensions ? $"ISO 2022 IR {number}" : $"ISO_IR {number}";
        return Definitions.ContainsKey(candidate) ? candidate : null;
    }

    private static Dictionary<string, TermDefinition> BuildDefinitions()
    {
        var list = new List<TermDefinition>
        {
            // Table C.12-2: single-byte, no code extensions.
            new("ISO_IR 100", false, GraphicSet.Ascii, GraphicSet.Latin1),
            new("ISO_IR 101", false, GraphicSet.Ascii, GraphicSet.Latin2),
            new("ISO_IR 109", false, GraphicSet.Ascii, GraphicSet.Latin3),
            new("ISO_IR 110", false, GraphicSet.Ascii, GraphicSet.Latin4),
            new("ISO_IR 144", false, GraphicSet.Ascii, GraphicSet.Cyrillic),
            new("ISO_IR 127", false, GraphicSet.Ascii, GraphicSet.Arabic),
            new("ISO_IR 126", false, GraphicSet.Ascii, GraphicSet.Greek),
            new("ISO_IR 138", false, GraphicSet.Ascii, GraphicSet.Hebrew),
            new("ISO_IR 148", false, GraphicSet.Ascii, GraphicSet.Latin5),
            new("ISO_IR 203", false, GraphicSet.Ascii, GraphicSet.Latin9),
            new("ISO_IR 13", false, GraphicSet.JisRoman, GraphicSet.JisKatakana),
            new("ISO_IR 166", false, GraphicSet.Ascii, GraphicSet.Thai),

            // Table C.12-5: multi-byte, no code extensions (must be the only value).
            new("ISO_IR 192", false, null, null, 65001),
            new("GB18030", false, null, null, 54936),
            new("GBK", false, null, null, 936),

            // Table C.12-3: single-byte with code extensions (an 8859 set designates G1; G0 stays ISO-IR 6).
            new("ISO 2022 IR 6", true, GraphicSet.Ascii, null),
            new("ISO 2022 IR 100", true, null, GraphicSet.Latin1),
            new("ISO 2022 IR 101", true, null, GraphicSet.Latin2),
            new("ISO 2022 IR 109", true, null, GraphicSet.Latin3),
            new("ISO 2022 IR 110", true, null, GraphicSet.Latin4),
            new("ISO 2022 IR 144", true, null, GraphicSet.Cyrillic),
            new("ISO 2022 IR 127", true, null, GraphicSet.Arabic),
            new("ISO 2022 IR 126", true, null, GraphicSet.Greek),
            new("ISO 2022 IR 138", true, null, GraphicSet.Hebrew),
            new("ISO 2022 IR 148", true, null, GraphicSet.Latin5),
            new("ISO 2022 IR 203", true, null, GraphicSet.Latin9),
            new("ISO 2022 IR 13", true, GraphicSet.JisRoman, GraphicSet.JisKatakana),
            new("ISO 2022 IR 166", true, null, GraphicSet.Thai),

            // Table C.12-4: multi-byte with code extensions.
            new("ISO 2022 IR 87", true, GraphicSet.JisX0208, null),
            new("ISO 2022 IR 159", true, GraphicSet.JisX0212, null),
            new("ISO 2022 IR 149", true, null, GraphicSet.KsX1001),
            new("ISO 2022 IR 58", true, null, GraphicSet.Gb2312),
        };
        return list.ToDictionary(d => d.Term, StringComparer.Ordinal);
    }

    // ---- decoding -----------------------------------------------------------------------------------------------------

    /// <summary>
    /// Decodes a whole element value (which may hold several values separated by '\'). Padding is kept. Never throws
    /// on malformed input: bytes that do not form a character decode to U+FFFD.
    /// </summary>
    public string Decode(ReadOnlySpan<byte> value, DicomVR vr)
    {
        if (value.IsEmpty)
        {
            return string.Empty;
        }

        if (_mode == Mode.Default || !IsAffected(vr))
        {
            return Encoding.Latin1.GetString(value);
        }

        switch (_mode)
        {
            case Mode.Utf8:
                return Encoding.UTF8.GetString(value);
            case Mode.MultiByte:
                return System.Text.Ascii.IsValid(value) ? Encoding.Latin1.GetString(value) : _gb!.Decode(value);
            case Mode.SingleByte:
                return DecodeInitial(value);
            default:
                return _initialSingleByte && !value.Contains(Esc) ? DecodeInitial(value) : DecodeIso2022(value, vr);
        }
    }

    /// <summary>Single-byte decoding in the initial state (no escape sequences to follow).</summary>
    private string DecodeInitial(ReadOnlySpan<byte> value)
    {
        if (_g1 == GraphicSet.Latin1 && _g0 == GraphicSet.Ascii)
        {
            return Encoding.Latin1.GetString(value);
        }

        if (_asciiTransparent && System.Text.Ascii.IsValid(value))
        {
            return Encoding.Latin1.GetString(value);
        }

        var table = _initialTable ?? LazyInitializer.EnsureInitialized(ref _initialTable, BuildInitialTable);
        return string.Create(value.Length, new ByteMap(value, table), static (chars, state) =>
        {
            var bytes = state.Bytes;
            var map = state.Table;
            for (int i = 0; i < chars.Length; i++)
            {
                chars[i] = map[bytes[i]];
            }
        });
    }

    private readonly ref struct ByteMap(ReadOnlySpan<byte> bytes, char[] table)
    {
        public readonly ReadOnlySpan<byte> Bytes = bytes;
        public readonly char[] Table = table;
    }

    private char[] BuildInitialTable()
    {
        var table = new char[256];
        for (int b = 0; b < 0x80; b++)
        {
            table[b] = b < 0x20 || b == 0x7F ? (char)b : _g0.DecodeByte((byte)b);
        }

        for (int b = 0x80; b < 0x100; b++)
        {
            table[b] = _g1 is { IsMultiByte: false } g1 ? g1.DecodeByte((byte)b) : '\uFFFD';
        }

        return table;
    }

    private string DecodeIso2022(ReadOnlySpan<byte> value, DicomVR vr)
    {
        // Every step consumes at least one byte and yields at most one char.
        char[]? rented = null;
        Span<char> output = value.Length <= StackLimit
            ? stackalloc char[StackLimit]
            : (rented = ArrayPool<char>.Shared.Rent(value.Length));
        try
        {
            bool pn = vr == DicomVR.PN;
            bool backslashDelimits = BackslashDelimits(vr);
            var g0 = _g0;
            var g1 = _g1;
            int i = 0, o = 0;
            while (i < value.Length)
            {
                byte b = value[i];
                if (b == Esc)
                {
                    i += GraphicSet.ReadEscape(value[i..], out var set);
                    if (set == null)
                    {
                        output[o++] = '\uFFFD';
                    }
                    else if (set.IsG1)
                    {
                        g1 = set;
                    }
                    else
                    {
                        g0 = set;
                    }

                    continue;
                }

                if (b < 0x20 || b == 0x7F)
                {
                    // C0 controls: CR, LF, FF and TAB end a line or field, so the initial sets are active again.
                    output[o++] = (char)b;
                    i++;
                    if (b is 0x0D or 0x0A or 0x0C or 0x09)
                    {
                        g0 = _g0;
                        g1 = _g1;
                    }

                    continue;
                }

                if (b < 0x80)
                {
                    if (g0.IsMultiByte && b != 0x20)
                    {
                        if (i + 1 < value.Length && value[i + 1] is >= 0x21 and <= 0x7E)
                        {
                            output[o++] = g0.DecodePair(b, value[i + 1]);
                            i += 2;
                        }
                        else
                        {
                            output[o++] = '\uFFFD';
                            i++;
                        }

                        continue;
                    }

                    output[o++] = g0.IsMultiByte ? ' ' : g0.DecodeByte(b);
                    i++;
                    if ((b == 0x5C && backslashDelimits) || (pn && b is 0x5E or 0x3D))
                    {
                        g0 = _g0;
                        g1 = _g1;
                    }

                    continue;
                }

                if (g1 == null)
                {
                    output[o++] = '\uFFFD';
                    i++;
                }
                else if (g1.IsMultiByte)
                {
                    if (b is >= 0xA1 and <= 0xFE && i + 1 < value.Length && value[i + 1] is >= 0xA1 and <= 0xFE)
                    {
                        output[o++] = g1.DecodePair(b, value[i + 1]);
                        i += 2;
                    }
                    else
                    {
                        output[o++] = '\uFFFD';
                        i++;
                    }
                }
                else
                {
                    output[o++] = g1.DecodeByte(b);
                    i++;
                }
            }

            return new string(output[..o]);
        }
        finally
        {
            if (rented != null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    // ---- encoding -----------------------------------------------------------------------------------------------------

    /// <summary>
    /// Encodes a whole element value (which may hold several values separated by '\'), without padding. With code
    /// extensions, each run of characters is written in the first declared set that has them, designated by its escape
    /// sequence; the initial sets are designated again before each delimiter (PN: '^', '=', '\'; other VRs: '\', CR, LF,
    /// FF, TAB) and at the end. Throws <see cref="DicomCharacterSetException"/> for a character the sets lack.
    /// </summary>
    public byte[] Encode(string value, DicomVR vr)
    {
        ArgumentNullException.ThrowIfNull(value);
        var bytes = EncodeCore(value, vr, out int failedAt);
        return bytes ?? throw Unencodable(value, failedAt, vr);
    }

    /// <summary>As <see cref="Encode"/>, returning false instead of throwing when a character cannot be encoded.</summary>
    public bool TryEncode(string value, DicomVR vr, [NotNullWhen(true)] out byte[]? bytes)
    {
        ArgumentNullException.ThrowIfNull(value);
        bytes = EncodeCore(value, vr, out _);
        return bytes != null;
    }

    private byte[]? EncodeCore(string value, DicomVR vr, out int failedAt)
    {
        failedAt = -1;
        if (value.Length == 0)
        {
            return [];
        }

        bool affected = IsAffected(vr);
        if (System.Text.Ascii.IsValid(value) && (_asciiTransparent || !affected))
        {
            if (_mode == Mode.Iso2022 && affected && (failedAt = value.IndexOf('\u001B')) >= 0)
            {
                return null;   // a bare ESC would be read as an escape sequence
            }

            return Encoding.ASCII.GetBytes(value);
        }

        if (_mode == Mode.Default || !affected)
        {
            failedAt = value.AsSpan().IndexOfAnyExceptInRange('\0', '\u007F');
            return null;
        }

        switch (_mode)
        {
            case Mode.Utf8:
            case Mode.MultiByte:
                try
                {
                    return _encoding!.GetBytes(value);
                }
                catch (EncoderFallbackException e)
                {
                    failedAt = Math.Clamp(e.Index, 0, value.Length - 1);
                    return null;
                }

            case Mode.SingleByte:
                return EncodeSingleByte(value, out failedAt);
            default:
                return EncodeIso2022(value, vr, out failedAt);
        }
    }

    private byte[]? EncodeSingleByte(string value, out int failedAt)
    {
        failedAt = -1;
        var result = new byte[value.Length];
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c < ' ' || c == '\u007F')
            {
                result[i] = (byte)c;
            }
            else if (!_g0.TryEncodeByte(c, out result[i]) && !(_g1 != null && _g1.TryEncodeByte(c, out result[i])))
            {
                failedAt = i;
                return null;
            }
        }

        return result;
    }

    private byte[]? EncodeIso2022(string value, DicomVR vr, out int failedAt)
    {
        failedAt = -1;
        bool pn = vr == DicomVR.PN;
        bool backslashDelimits = BackslashDelimits(vr);
        var sink = new ByteSink(value.Length * 3 + 16);
        try
        {
            var g0 = _g0;
            var g1 = _g1;
            for (int i = 0; i < value.Length; i++)
            {
                char c = value[i];
                if (c == '\u001B')
                {
                    failedAt = i;
                    return null;
                }

                if (c < ' ' || c == '\u007F' || (c == '\\' && backslashDelimits) || (pn && c is '^' or '='))
                {
                    // PS3.5 6.1.2.5.3: the initial sets are active before delimiters and control characters.
                    ReturnToInitial(ref sink, ref g0, ref g1);
                    sink.Add((byte)c);
                    continue;
                }

                if (TryWrite(ref sink, g0, c) || (g1 != null && TryWrite(ref sink, g1, c)))
                {
                    continue;
                }

                GraphicSet? found = null;
                foreach (var candidate in _candidates)
                {
                    if (candidate != g0 && candidate != g1 && CanWrite(candidate, c))
                    {
                        found = candidate;
                        break;
                    }
                }

                if (found == null)
                {
                    failedAt = i;
                    return null;
                }

                sink.Add(found.Escape);
                if (found.IsG1)
                {
                    g1 = found;
                }
                else
                {
                    g0 = found;
                }

                TryWrite(ref sink, found, c);
            }

            ReturnToInitial(ref sink, ref g0, ref g1);
            return sink.ToArray();
        }
        finally
        {
            sink.Dispose();
        }
    }

    private void ReturnToInitial(ref ByteSink sink, ref GraphicSet g0, ref GraphicSet? g1)
    {
        if (g0 != _g0)
        {
            sink.Add(_g0.Escape);
            g0 = _g0;
        }

        if (g1 != _g1)
        {
            // Without an initial G1 set there is nothing to designate: readers reset G1 at the delimiter.
            if (_g1 != null)
            {
                sink.Add(_g1.Escape);
            }

            g1 = _g1;
        }
    }

    private static bool CanWrite(GraphicSet set, char c) =>
        set.IsMultiByte ? set.TryEncodePair(c, out _, out _) : set.TryEncodeByte(c, out _);

    private static bool TryWrite(ref ByteSink sink, GraphicSet set, char c)
    {
        if (set.IsMultiByte)
        {
            if (!set.TryEncodePair(c, out byte row, out byte column))
            {
                return false;
            }

            byte high = set.IsG1 ? (byte)0x80 : (byte)0;
            sink.Add((byte)(row | high));
            sink.Add((byte)(column | high));
            return true;
        }

        if (!set.TryEncodeByte(c, out byte b))
        {
            return false;
        }

        sink.Add(b);
        return true;
    }

    private DicomCharacterSetException Unencodable(string value, int index, DicomVR vr)
    {
        index = Math.Clamp(index, 0, value.Length - 1);
        int codePoint = value[index];
        string shown = value[index].ToString();
        if (char.IsHighSurrogate(value[index]) && index + 1 < value.Length && char.IsLowSurrogate(value[index + 1]))
        {
            codePoint = char.ConvertToUtf32(value[index], value[index + 1]);
            shown = value.Substring(index, 2);
        }
        else if (char.IsSurrogate(value[index]) || char.IsControl(value[index]))
        {
            shown = "?";
        }

        var declared = _mode == Mode.Default || !IsAffected(vr)
            ? $"the default repertoire (ISO-IR 6) of VR {vr.ToCode()}"
            : $"Specific Character Set '{this}'";
        return new DicomCharacterSetException(
            $"The character '{shown}' (U+{codePoint:X4}) at position {index} cannot be encoded in {declared}.");
    }

    // ---- helpers ------------------------------------------------------------------------------------------------------

    /// <summary>The VRs whose values use the Specific Character Set (PS3.5 §6.1.2.3); <see cref="DicomVR.None"/> counts as one.</summary>
    private static bool IsAffected(DicomVR vr) => vr == DicomVR.None || vr.UsesSpecificCharacterSet();

    /// <summary>'\' separates values except in the single-valued LT, ST, UT and UR.</summary>
    private static bool BackslashDelimits(DicomVR vr) => vr is not (DicomVR.LT or DicomVR.ST or DicomVR.UT or DicomVR.UR);

    /// <summary>A growable byte buffer over <see cref="ArrayPool{T}"/>.</summary>
    private struct ByteSink(int capacity) : IDisposable
    {
        private byte[] _buffer = ArrayPool<byte>.Shared.Rent(capacity);
        private int _length;

        public void Add(byte b)
        {
            if (_length == _buffer.Length)
            {
                Grow(1);
            }

            _buffer[_length++] = b;
        }

        public void Add(ReadOnlySpan<byte> bytes)
        {
            if (_length + bytes.Length > _buffer.Length)
            {
                Grow(bytes.Length);
            }

            bytes.CopyTo(_buffer.AsSpan(_length));
            _length += bytes.Length;
        }

        public readonly byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();

        public void Dispose()
        {
            if (_buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = [];
            }
        }

        private void Grow(int needed)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + needed));
            _buffer.AsSpan(0, _length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
    }
}
