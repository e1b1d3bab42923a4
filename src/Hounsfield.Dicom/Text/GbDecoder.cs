// PS3.3 C.12.1.1.2 Table C.12-5: GB18030 and GBK, multi-byte character sets without code extensions.
using System.Buffers;

namespace Hounsfield.Dicom.Text;

/// <summary>
/// Decodes GBK (code page 936) and GB18030 (code page 54936) with a table of their two-byte characters, built once,
/// instead of the .NET decoder, which allocates on every call. Four-byte GB18030 sequences (rare: characters outside
/// GBK) and odd single bytes still go through the .NET encoding.
/// </summary>
internal sealed class GbDecoder
{
    private const int TrailCount = 0xFF - 0x40;   // trail bytes 0x40-0xFE
    private const int StackLimit = 512;

    private readonly int _codePage;
    private char[]? _pairs;

    private GbDecoder(int codePage) => _codePage = codePage;

    public static GbDecoder Gb18030 { get; } = new(54936);

    public static GbDecoder Gbk { get; } = new(936);

    public static GbDecoder? For(int codePage) => codePage switch
    {
        54936 => Gb18030,
        936 => Gbk,
        _ => null,
    };

    private bool IsGb18030 => _codePage == 54936;

    public string Decode(ReadOnlySpan<byte> value)
    {
        var pairs = _pairs ?? LazyInitializer.EnsureInitialized(ref _pairs, BuildPairs);

        // A byte yields at most one char, except a four-byte sequence, which yields at most two.
        char[]? rented = null;
        Span<char> output = value.Length <= StackLimit
            ? stackalloc char[StackLimit]
            : (rented = ArrayPool<char>.Shared.Rent(value.Length));
        try
        {
            int i = 0, o = 0;
            while (i < value.Length)
            {
                byte b = value[i];
                if (b < 0x80)
                {
                    output[o++] = (char)b;
                    i++;
                    continue;
                }

                if (b is >= 0x81 and <= 0xFE && i + 1 < value.Length)
                {
                    byte trail = value[i + 1];
                    if (trail is >= 0x40 and <= 0xFE and not 0x7F)
                    {
                        char c = pairs[(b - 0x81) * TrailCount + (trail - 0x40)];
                        output[o++] = c;

                        // An unassigned pair with an ASCII trail byte: the trail byte is read again on its own.
                        i += c == '\uFFFD' && trail < 0x80 ? 1 : 2;
                        continue;
                    }

                    if (IsGb18030 && trail is >= 0x30 and <= 0x39 && i + 3 < value.Length
                        && value[i + 2] is >= 0x81 and <= 0xFE && value[i + 3] is >= 0x30 and <= 0x39)
                    {
                        o += CodePages.Get(_codePage).GetChars(value.Slice(i, 4), output[o..]);
                        i += 4;
                        continue;
                    }
                }

                // 0x80, 0xFF, a truncated sequence or a lead byte without a valid trail byte.
                o += CodePages.Get(_codePage).GetChars(value.Slice(i, 1), output[o..]);
                i++;
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

    private char[] BuildPairs()
    {
        var encoding = CodePages.Get(_codePage);
        var table = new char[(0xFE - 0x81 + 1) * TrailCount];
        Span<byte> pair = stackalloc byte[2];
        Span<char> chars = stackalloc char[4];
        for (int lead = 0x81; lead <= 0xFE; lead++)
        {
            for (int trail = 0x40; trail <= 0xFE; trail++)
            {
                pair[0] = (byte)lead;
                pair[1] = (byte)trail;
                int n = trail == 0x7F ? 0 : encoding.GetChars(pair, chars);
                table[(lead - 0x81) * TrailCount + (trail - 0x40)] = n == 1 && !char.IsSurrogate(chars[0]) ? chars[0] : '\uFFFD';
            }
        }

        return table;
    }
}
