namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// A Huffman decoding table (ITU-T T.81 Annex C and F.2.2.3): the canonical code built from BITS and HUFFVAL,
/// with a lookup table for codes of up to <see cref="LookupBits"/> bits and MAXCODE / VALPTR for longer ones.
/// </summary>
internal sealed class JpegHuffmanTable
{
    public const int LookupBits = 9;

    /// <summary>For every <see cref="LookupBits"/>-bit prefix: (code length &lt;&lt; 8) | symbol, or 0 when the code is longer.</summary>
    public readonly ushort[] Lookup = new ushort[1 << LookupBits];

    /// <summary>MAXCODE[l]: the largest code of length l, or -1 when there is none (index 17 is a sentinel).</summary>
    public readonly int[] MaxCode = new int[18];

    /// <summary>VALPTR[l] - MINCODE[l]: added to a code of length l to index <see cref="Values"/>.</summary>
    public readonly int[] ValueOffset = new int[17];

    public readonly byte[] Values = new byte[256];

    /// <summary>Builds the table from the 16 code-length counts and the symbols (a DHT segment's Li and Vi,j).</summary>
    public JpegHuffmanTable(ReadOnlySpan<byte> counts, ReadOnlySpan<byte> values)
    {
        values.CopyTo(Values);

        // Generate_size_table and Generate_code_table (C.1, C.2), checked for code-space overflow.
        var code = 0;
        var k = 0;
        for (var length = 1; length <= 16; length++)
        {
            var count = counts[length - 1];
            if (count == 0)
            {
                MaxCode[length] = -1;
            }
            else
            {
                ValueOffset[length] = k - code;
                for (var i = 0; i < count; i++)
                {
                    if (length <= LookupBits)
                    {
                        var entry = (ushort)((length << 8) | values[k]);
                        var first = code << (LookupBits - length);
                        Lookup.AsSpan(first, 1 << (LookupBits - length)).Fill(entry);
                    }

                    code++;
                    k++;
                }

                MaxCode[length] = code - 1;
            }

            if (code > (1 << length))
            {
                throw new ImageCodecException("JPEG: a Huffman table (DHT) has more codes than its code lengths allow.");
            }

            code <<= 1;
        }

        MaxCode[17] = int.MaxValue;
    }
}
