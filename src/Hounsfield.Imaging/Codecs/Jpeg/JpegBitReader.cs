using System.Runtime.CompilerServices;

namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// Reads the entropy-coded segment of a scan (T.81 B.1.1.5, F.2.2.5): bits most significant first, a 0xFF byte is
/// followed by a stuffed 0x00, and any other marker ends the segment. Past the end of the segment the reader
/// supplies zero bits, as decoders conventionally do, and remembers it: consuming such a bit means the data was
/// truncated, which <see cref="ThrowIfOverrun"/> reports.
/// </summary>
internal ref struct JpegBitReader
{
    private readonly ReadOnlySpan<byte> data;
    private int position;
    private ulong buffer;
    private int count;
    private int fakeBits;
    private bool atMarker;

    public JpegBitReader(ReadOnlySpan<byte> data, int position)
    {
        this.data = data;
        this.position = position;
    }

    /// <summary>The position of the first byte not yet loaded: at the end of the segment, the marker that ends it.</summary>
    public readonly int Position => position;

    /// <summary>Whether bits beyond the end of the entropy-coded segment have been consumed.</summary>
    public readonly bool Overrun => count < fakeBits;

    public readonly void ThrowIfOverrun()
    {
        if (count < fakeBits)
        {
            throw new ImageCodecException("JPEG: the entropy-coded data ends before the image is complete (truncated or corrupt stream).");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int DecodeHuffman(JpegHuffmanTable table)
    {
        if (count < 16)
        {
            Fill();
        }

        var entry = table.Lookup[(int)(buffer >> (64 - JpegHuffmanTable.LookupBits))];
        if (entry != 0)
        {
            var length = entry >> 8;
            buffer <<= length;
            count -= length;
            return entry & 0xFF;
        }

        return DecodeHuffmanSlow(table);
    }

    private int DecodeHuffmanSlow(JpegHuffmanTable table)
    {
        for (var length = JpegHuffmanTable.LookupBits + 1; length <= 16; length++)
        {
            var code = (int)(buffer >> (64 - length));
            if (code <= table.MaxCode[length])
            {
                buffer <<= length;
                count -= length;
                return table.Values[(code + table.ValueOffset[length]) & 0xFF];
            }
        }

        throw new ImageCodecException("JPEG: invalid Huffman code in the entropy-coded data.");
    }

    /// <summary>Reads <paramref name="n"/> (0 to 16) bits as an unsigned number.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int GetBits(int n)
    {
        if (n == 0)
        {
            return 0;
        }

        if (count < n)
        {
            Fill();
        }

        var value = (int)(buffer >> (64 - n));
        buffer <<= n;
        count -= n;
        return value;
    }

    /// <summary>Reads the <paramref name="s"/> additional bits of a difference of category s and extends its sign (F.2.2.1, EXTEND).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Receive(int s)
    {
        if (s == 0)
        {
            return 0;
        }

        var value = GetBits(s);
        return value < (1 << (s - 1)) ? value - (1 << s) + 1 : value;
    }

    /// <summary>
    /// Ends a restart interval (F.2.2.5 / H.2.2): drops the remaining bits of the current byte and any stray bytes,
    /// then expects an RSTn marker and resumes after it.
    /// </summary>
    public void Restart()
    {
        ThrowIfOverrun();
        buffer = 0;
        count = 0;
        fakeBits = 0;
        atMarker = false;

        // Skip to the next marker (tolerating extraneous bytes, as decoders conventionally do).
        while (position < data.Length)
        {
            if (data[position] == 0xFF && position + 1 < data.Length && data[position + 1] != 0x00)
            {
                break;
            }

            position++;
        }

        while (position + 1 < data.Length && data[position] == 0xFF && data[position + 1] == 0xFF)
        {
            position++;
        }

        if (position + 1 >= data.Length)
        {
            throw new ImageCodecException("JPEG: the data ends where a restart marker (RSTn) is expected.");
        }

        var marker = data[position + 1];
        if (marker is < 0xD0 or > 0xD7)
        {
            throw new ImageCodecException($"JPEG: marker 0xFF{marker:X2} found where a restart marker (RSTn) is expected.");
        }

        position += 2;
    }

    private void Fill()
    {
        while (count <= 56)
        {
            int b;
            if (atMarker || position >= data.Length)
            {
                b = 0;
                fakeBits = Math.Min(fakeBits + 8, 1 << 20);
            }
            else
            {
                b = data[position];
                if (b == 0xFF)
                {
                    if (position + 1 < data.Length && data[position + 1] == 0x00)
                    {
                        position += 2;
                    }
                    else
                    {
                        // A marker (or fill bytes before one, or the end of the data): the segment ends here.
                        atMarker = true;
                        b = 0;
                        fakeBits = Math.Min(fakeBits + 8, 1 << 20);
                    }
                }
                else
                {
                    position++;
                }
            }

            buffer |= (ulong)(uint)b << (56 - count);
            count += 8;
        }
    }
}
