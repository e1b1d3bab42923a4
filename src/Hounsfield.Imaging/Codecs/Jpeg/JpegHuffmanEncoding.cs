using System.Buffers;

namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// An optimal Huffman code for a symbol histogram, limited to 16-bit code lengths and without the all-ones code
/// (ITU-T T.81 Annex K.2: Code_size, Adjust_BITS, Sort_input), as the BITS and HUFFVAL lists of a DHT segment and
/// as an encoding table from symbol to code.
/// </summary>
internal sealed class JpegHuffmanEncoding
{
    private readonly ushort[] codes = new ushort[256];
    private readonly byte[] lengths = new byte[256];

    /// <summary>Builds the code for the symbols with non-zero <paramref name="frequencies"/> (256 entries).</summary>
    public JpegHuffmanEncoding(ReadOnlySpan<long> frequencies)
    {
        // Code_size (K.2, figure K.1): repeatedly merge the two least frequent trees; symbol 256 is reserved so that
        // no code consists of all 1-bits.
        Span<long> freq = stackalloc long[257];
        Span<int> codeSize = stackalloc int[257];
        Span<int> others = stackalloc int[257];
        frequencies[..256].CopyTo(freq);
        freq[256] = 1;
        others.Fill(-1);
        while (true)
        {
            var v1 = -1;
            var v2 = -1;
            for (var v = 0; v <= 256; v++)
            {
                // The least frequency; among equals the largest symbol (so the reserved symbol merges first).
                if (freq[v] > 0 && (v1 < 0 || freq[v] <= freq[v1]))
                {
                    v1 = v;
                }
            }

            for (var v = 0; v <= 256; v++)
            {
                if (v != v1 && freq[v] > 0 && (v2 < 0 || freq[v] <= freq[v2]))
                {
                    v2 = v;
                }
            }

            if (v2 < 0)
            {
                break;
            }

            freq[v1] += freq[v2];
            freq[v2] = 0;
            codeSize[v1]++;
            while (others[v1] >= 0)
            {
                v1 = others[v1];
                codeSize[v1]++;
            }

            others[v1] = v2;
            codeSize[v2]++;
            while (others[v2] >= 0)
            {
                v2 = others[v2];
                codeSize[v2]++;
            }
        }

        // Count_BITS (figure K.2), then Adjust_BITS (figure K.3) to at most 16 bits, and drop the reserved code.
        Span<int> bits = stackalloc int[33 + 257];
        bits.Clear();
        for (var v = 0; v <= 256; v++)
        {
            if (codeSize[v] > 0)
            {
                bits[codeSize[v]]++;
            }
        }

        for (var i = bits.Length - 1; i > 16; i--)
        {
            while (bits[i] > 0)
            {
                var j = i - 2;
                while (bits[j] == 0)
                {
                    j--;
                }

                bits[i] -= 2;
                bits[i - 1]++;
                bits[j + 1] += 2;
                bits[j]--;
            }
        }

        var last = 16;
        while (last > 0 && bits[last] == 0)
        {
            last--;
        }

        if (last > 0)
        {
            bits[last]--;
        }

        // Sort_input (figure K.4): symbols by code size, then by value.
        var values = new List<byte>();
        for (var size = 1; size <= 32 + 256; size++)
        {
            for (var v = 0; v < 256; v++)
            {
                if (codeSize[v] == size)
                {
                    values.Add((byte)v);
                }
            }
        }

        Counts = new byte[16];
        for (var i = 1; i <= 16; i++)
        {
            Counts[i - 1] = (byte)bits[i];
        }

        Values = [.. values];

        // Canonical codes (C.2) for encoding.
        var code = 0;
        var k = 0;
        for (var length = 1; length <= 16; length++)
        {
            for (var i = 0; i < Counts[length - 1]; i++)
            {
                codes[Values[k]] = (ushort)code;
                lengths[Values[k]] = (byte)length;
                code++;
                k++;
            }

            code <<= 1;
        }
    }

    /// <summary>BITS: the number of codes of each length 1 to 16.</summary>
    public byte[] Counts { get; }

    /// <summary>HUFFVAL: the symbols in order of increasing code length.</summary>
    public byte[] Values { get; }

    public int Length(int symbol) => lengths[symbol];

    public int Code(int symbol) => codes[symbol];

    /// <summary>Writes this table as one table of a DHT segment body (Tc, Th, BITS, HUFFVAL).</summary>
    public void WriteTable(IBufferWriter<byte> output, int tableClass, int destination)
    {
        var span = output.GetSpan(17 + Values.Length);
        span[0] = (byte)((tableClass << 4) | destination);
        Counts.CopyTo(span[1..]);
        Values.CopyTo(span[17..]);
        output.Advance(17 + Values.Length);
    }
}

/// <summary>Writes entropy-coded data: bits most significant first, 0xFF followed by a stuffed 0x00 (B.1.1.5), 1-bit padding (F.1.2.3).</summary>
internal sealed class JpegBitWriter(ArrayBufferWriter<byte> output)
{
    private ulong buffer;
    private int count;

    /// <summary>Appends the low <paramref name="n"/> (0 to 32) bits of <paramref name="value"/>.</summary>
    public void Write(uint value, int n)
    {
        if (n == 0)
        {
            return;
        }

        buffer = (buffer << n) | (value & (uint)((1UL << n) - 1));
        count += n;
        while (count >= 8)
        {
            count -= 8;
            var b = (byte)(buffer >> count);
            var span = output.GetSpan(2);
            span[0] = b;
            if (b == 0xFF)
            {
                span[1] = 0;
                output.Advance(2);
            }
            else
            {
                output.Advance(1);
            }
        }
    }

    /// <summary>Pads the last byte with 1-bits.</summary>
    public void Flush()
    {
        if (count > 0)
        {
            Write((1u << (8 - count)) - 1, 8 - count);
        }

        buffer = 0;
        count = 0;
    }

    /// <summary>Flushes and writes the RSTn marker ending restart interval <paramref name="index"/>.</summary>
    public void Restart(int index)
    {
        Flush();
        var span = output.GetSpan(2);
        span[0] = 0xFF;
        span[1] = (byte)(0xD0 + (index & 7));
        output.Advance(2);
    }
}
