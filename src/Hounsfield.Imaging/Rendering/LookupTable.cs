using Hounsfield.Dicom;

namespace Hounsfield.Imaging.Rendering;

/// <summary>
/// A lookup table of the display pipeline (PS3.3 C.11.1 Modality LUT, C.11.2 VOI LUT, C.7.6.3.1.5/6 and C.7.9 Palette
/// Color LUTs): a descriptor (number of entries, first input value mapped, bits per entry) and its entries. Inputs below
/// the first mapped value map to the first entry, inputs past the last to the last entry.
/// </summary>
internal sealed class LookupTable
{
    public LookupTable(int firstMapped, int bitsPerEntry, ushort[] entries)
    {
        if (entries.Length == 0)
        {
            throw new ArgumentException("A lookup table needs at least one entry.", nameof(entries));
        }

        FirstMapped = firstMapped;
        BitsPerEntry = bitsPerEntry;
        Entries = entries;
    }

    public int FirstMapped { get; }

    public int BitsPerEntry { get; }

    public ushort[] Entries { get; }

    /// <summary>Largest value an entry can hold: 2^bits - 1.</summary>
    public int MaxEntryValue => (1 << BitsPerEntry) - 1;

    /// <summary>
    /// The depth the entries are read at: the declared one, except that a table declaring 16 bits whose entries all fit
    /// in 8 is taken as 8-bit (a known encoder error DCMTK also tolerates).
    /// </summary>
    public int EffectiveBits => effectiveBits ??= BitsPerEntry == 16 && Array.TrueForAll(Entries, e => e < 256) ? 8 : BitsPerEntry;

    private int? effectiveBits;

    public int Map(long input)
    {
        var index = input - FirstMapped;
        return index <= 0 ? Entries[0] : index >= Entries.Length ? Entries[^1] : Entries[index];
    }

    /// <summary>
    /// Reads a LUT from a sequence item (or data set) holding a descriptor and data element: Modality / VOI LUT
    /// (LUT Descriptor (0028,3002), LUT Data (0028,3006)) or one palette colour channel. Segmented palette data
    /// (PS3.3 C.7.9.2) is expanded. <paramref name="signedInput"/> says whether a first-mapped value of 32768 or more is
    /// to be read as negative (the descriptor's second value is US or SS like the values it maps, PS3.3 C.11.1.1).
    /// Returns null when the descriptor or data are missing or inconsistent.
    /// </summary>
    public static LookupTable? Read(DicomDataset item, DicomTag descriptorTag, DicomTag dataTag, bool signedInput, DicomTag? segmentedDataTag = null)
    {
        if (item[descriptorTag] is not DicomValueElement descriptorElement)
        {
            return null;
        }

        // The descriptor is US or SS: read the raw 16-bit words so that either VR is interpreted as PS3.3 C.11.1.1 says.
        var words = descriptorElement.VR is DicomVR.US or DicomVR.SS or DicomVR.OW or DicomVR.UN or DicomVR.OB
            ? item.GetValues<ushort>(ReinterpretAsUS(descriptorElement))
            : Array.ConvertAll(item.GetValues<long>(descriptorElement), v => unchecked((ushort)v));
        if (words.Length < 3)
        {
            return null;
        }

        var count = words[0] == 0 ? 65536 : words[0];
        var first = signedInput || descriptorElement.VR == DicomVR.SS ? (int)unchecked((short)words[1]) : words[1];
        var bits = words[2];
        if (bits is < 1 or > 16)
        {
            bits = 16;
        }

        ushort[]? entries = null;
        if (item[dataTag] is DicomValueElement data && data.Length > 0)
        {
            var bytes = data.Span;
            if (bits <= 8 && bytes.Length == count + (count & 1) && bytes.Length < count * 2)
            {
                // 8-bit entries packed two per 16-bit word (seen in palettes and some VOI LUTs).
                entries = new ushort[count];
                for (var i = 0; i < count; i++)
                {
                    entries[i] = bytes[i];
                }
            }
            else
            {
                var available = bytes.Length / 2;
                entries = new ushort[count];
                var n = Math.Min(count, available);
                for (var i = 0; i < n; i++)
                {
                    entries[i] = (ushort)(bytes[2 * i] | (bytes[(2 * i) + 1] << 8));
                }

                if (n == 0)
                {
                    return null;
                }

                for (var i = n; i < count; i++)
                {
                    entries[i] = entries[n - 1];
                }
            }
        }
        else if (segmentedDataTag is { } segmentedTag && item[segmentedTag] is DicomValueElement segmented && segmented.Length >= 4)
        {
            entries = ExpandSegmented(item.GetValues<ushort>(ReinterpretAsUS(segmented)), count);
        }

        if (entries is null)
        {
            return null;
        }

        if (bits <= 8)
        {
            // Values beyond the declared depth: the high byte of a 16-bit word that was meant to be read whole.
            var mask = (1 << bits) - 1;
            var overflow = false;
            foreach (var e in entries)
            {
                if (e > mask)
                {
                    overflow = true;
                    break;
                }
            }

            if (overflow)
            {
                bits = 16;
            }
        }

        return new LookupTable(first, bits, entries);
    }

    /// <summary>
    /// Expands Segmented Palette Color Lookup Table Data (PS3.3 C.7.9.2): discrete (opcode 0), linear (1) and indirect (2)
    /// segments, to <paramref name="count"/> entries. Malformed data ends the expansion; missing entries repeat the last.
    /// </summary>
    public static ushort[] ExpandSegmented(ReadOnlySpan<ushort> data, int count)
    {
        var output = new List<ushort>(count);
        ExpandSegments(data, 0, int.MaxValue, output, count, depth: 0);
        var result = new ushort[count];
        var n = Math.Min(count, output.Count);
        for (var i = 0; i < n; i++)
        {
            result[i] = output[i];
        }

        var last = n > 0 ? result[n - 1] : (ushort)0;
        for (var i = n; i < count; i++)
        {
            result[i] = last;
        }

        return result;
    }

    private static void ExpandSegments(ReadOnlySpan<ushort> data, int position, int segments, List<ushort> output, int count, int depth)
    {
        for (var segment = 0; segment < segments && position + 1 < data.Length && output.Count < count; segment++)
        {
            var opcode = data[position];
            int length = data[position + 1];
            switch (opcode)
            {
                case 0:
                    // Discrete: Segment Length entries follow.
                    for (var i = 0; i < length && position + 2 + i < data.Length; i++)
                    {
                        output.Add(data[position + 2 + i]);
                    }

                    position += 2 + length;
                    break;

                case 1:
                    {
                        // Linear: Segment Length entries interpolated from the previous entry (y0, not repeated) to y1.
                        if (position + 2 >= data.Length || output.Count == 0)
                        {
                            return;
                        }

                        double y0 = output[^1];
                        double y1 = data[position + 2];
                        for (var i = 1; i <= length; i++)
                        {
                            output.Add((ushort)Math.Round(y0 + ((y1 - y0) * i / length)));
                        }

                        position += 3;
                        break;
                    }

                case 2:
                    {
                        // Indirect: copy Number of Segments segments starting at a byte offset into the segmented data.
                        if (position + 3 >= data.Length || depth > 8)
                        {
                            return;
                        }

                        var byteOffset = data[position + 2] | ((long)data[position + 3] << 16);
                        if (byteOffset / 2 < data.Length && byteOffset / 2 != position)
                        {
                            ExpandSegments(data, (int)(byteOffset / 2), length, output, count, depth + 1);
                        }

                        position += 4;
                        break;
                    }

                default:
                    return;
            }
        }
    }

    private static DicomValueElement ReinterpretAsUS(DicomValueElement element) =>
        element.VR == DicomVR.US ? element : new DicomValueElement(element.Tag, DicomVR.US, element.Buffer);
}
