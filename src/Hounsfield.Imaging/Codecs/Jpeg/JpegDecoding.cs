using System.Buffers;
using System.Buffers.Binary;

namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// The state of decoding one JPEG interchange-format stream (ITU-T T.81 Annex B): tables, frame, component planes.
/// Markers are parsed in order; each scan (Annex F sequential DCT, Annex H lossless) is decoded into the planes of its
/// components as it is met; at the end the planes are upsampled, colour-converted and written as a native frame.
/// Every loop is bounded by the input length or by the image size; no read goes past the input.
/// </summary>
internal sealed class JpegDecoding : IDisposable
{
    /// <summary>Zig-zag index to natural (row-major) index, with 16 extra entries so that a corrupt run cannot index past the block.</summary>
    internal static readonly byte[] NaturalOrder =
    [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
        12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
        58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
        63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
    ];

    private static readonly ushort[] RangeLimit8 = JpegIdct.CreateRangeLimit(8);
    private static readonly ushort[] RangeLimit12 = JpegIdct.CreateRangeLimit(12);

    private readonly JpegDecoderOptions options;
    private readonly FrameInfo info;
    private readonly ushort[]?[] quantTables = new ushort[4][];
    private readonly JpegHuffmanTable?[] dcTables = new JpegHuffmanTable[4];
    private readonly JpegHuffmanTable?[] acTables = new JpegHuffmanTable[4];

    private Component[]? components;
    private bool lossless;
    private int precision;
    private int width;
    private int height;
    private int hMax;
    private int vMax;
    private int mcusX;
    private int mcusY;
    private int restartInterval;
    private bool adobe;
    private int adobeTransform;

    public JpegDecoding(JpegDecoderOptions options, FrameInfo info)
    {
        this.options = options;
        this.info = info;
    }

    private enum Marker
    {
        Sof0 = 0xC0,
        Sof1 = 0xC1,
        Sof2 = 0xC2,
        Sof3 = 0xC3,
        Dht = 0xC4,
        Dac = 0xCC,
        Soi = 0xD8,
        Eoi = 0xD9,
        Sos = 0xDA,
        Dqt = 0xDB,
        Dri = 0xDD,
        App14 = 0xEE,
    }

    public void Dispose()
    {
        if (components is null)
        {
            return;
        }

        foreach (var component in components)
        {
            if (component.Plane.Length > 0)
            {
                ArrayPool<ushort>.Shared.Return(component.Plane);
                component.Plane = [];
            }
        }
    }

    public void Decode(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        if (data.Length < 4 || data[0] != 0xFF || data[1] != (byte)Marker.Soi)
        {
            throw new ImageCodecException("JPEG: the frame does not start with an SOI marker (FFD8).");
        }

        var position = 2;
        while (true)
        {
            var marker = NextMarker(data, ref position);
            if (marker < 0 || marker == (int)Marker.Eoi)
            {
                break; // A missing EOI is tolerated when the scans are complete (checked below).
            }

            if (marker is >= 0xD0 and <= 0xD7 or 0x01)
            {
                continue; // RSTn outside a scan, TEM: no parameters.
            }

            if (marker == (int)Marker.Soi)
            {
                throw new ImageCodecException("JPEG: a second SOI marker inside the frame.");
            }

            var segment = ReadSegment(data, ref position, marker);
            switch (marker)
            {
                case (int)Marker.Sof0 or (int)Marker.Sof1 or (int)Marker.Sof3:
                    ReadFrameHeader(segment, marker);
                    break;
                case (int)Marker.Sof2:
                    throw new ImageCodecException("JPEG: progressive DCT (SOF2) is not supported.");
                case 0xC5 or 0xC6 or 0xC7:
                    throw new ImageCodecException($"JPEG: hierarchical (differential) coding (SOF{marker - 0xC0}) is not supported.");
                case 0xC9 or 0xCA or 0xCB or 0xCD or 0xCE or 0xCF:
                    throw new ImageCodecException($"JPEG: arithmetic coding (SOF{marker - 0xC0}) is not supported.");
                case (int)Marker.Dht:
                    ReadHuffmanTables(segment);
                    break;
                case (int)Marker.Dqt:
                    ReadQuantizationTables(segment);
                    break;
                case (int)Marker.Dri:
                    if (segment.Length < 2)
                    {
                        throw new ImageCodecException("JPEG: DRI segment too short.");
                    }

                    restartInterval = BinaryPrimitives.ReadUInt16BigEndian(segment);
                    break;
                case (int)Marker.App14:
                    if (segment.Length >= 12 && segment[..5].SequenceEqual("Adobe"u8))
                    {
                        adobe = true;
                        adobeTransform = segment[11];
                    }

                    break;
                case (int)Marker.Sos:
                    DecodeScan(segment, data, ref position);
                    break;
                default:
                    break; // APPn, COM, DNL, DAC and others: skipped.
            }
        }

        if (components is null)
        {
            throw new ImageCodecException("JPEG: no frame header (SOF) before the end of the data.");
        }

        foreach (var component in components)
        {
            if (!component.Scanned)
            {
                throw new ImageCodecException($"JPEG: component {component.Id} is not coded in any scan (truncated stream?).");
            }
        }

        WriteFrame(destination);
    }

    /// <summary>Finds the next marker at or after <paramref name="position"/>, skipping fill bytes (and stray data); -1 at the end of the data.</summary>
    private static int NextMarker(ReadOnlySpan<byte> data, ref int position)
    {
        while (position < data.Length)
        {
            if (data[position] != 0xFF)
            {
                position++;
                continue;
            }

            while (position < data.Length && data[position] == 0xFF)
            {
                position++;
            }

            if (position >= data.Length)
            {
                return -1;
            }

            var marker = data[position++];
            if (marker != 0x00)
            {
                return marker;
            }
        }

        return -1;
    }

    private static ReadOnlySpan<byte> ReadSegment(ReadOnlySpan<byte> data, ref int position, int marker)
    {
        if (position + 2 > data.Length)
        {
            throw new ImageCodecException($"JPEG: the data ends inside the length of marker 0xFF{marker:X2}.");
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(data[position..]);
        if (length < 2 || position + length > data.Length)
        {
            throw new ImageCodecException($"JPEG: marker segment 0xFF{marker:X2} of length {length} exceeds the data.");
        }

        var segment = data.Slice(position + 2, length - 2);
        position += length;
        return segment;
    }

    private void ReadQuantizationTables(ReadOnlySpan<byte> segment)
    {
        var i = 0;
        while (i < segment.Length)
        {
            var pq = segment[i] >> 4;
            var tq = segment[i] & 15;
            if (pq > 1 || tq > 3)
            {
                throw new ImageCodecException($"JPEG: invalid quantization table (DQT) precision {pq} / destination {tq}.");
            }

            var size = pq == 0 ? 64 : 128;
            if (i + 1 + size > segment.Length)
            {
                throw new ImageCodecException("JPEG: DQT segment too short.");
            }

            var table = new ushort[64];
            for (var k = 0; k < 64; k++)
            {
                table[NaturalOrder[k]] = pq == 0 ? segment[i + 1 + k] : BinaryPrimitives.ReadUInt16BigEndian(segment[(i + 1 + (2 * k))..]);
            }

            quantTables[tq] = table;
            i += 1 + size;
        }
    }

    private void ReadHuffmanTables(ReadOnlySpan<byte> segment)
    {
        var i = 0;
        while (i < segment.Length)
        {
            var tc = segment[i] >> 4;
            var th = segment[i] & 15;
            if (tc > 1 || th > 3)
            {
                throw new ImageCodecException($"JPEG: invalid Huffman table (DHT) class {tc} / destination {th}.");
            }

            if (i + 17 > segment.Length)
            {
                throw new ImageCodecException("JPEG: DHT segment too short.");
            }

            var counts = segment.Slice(i + 1, 16);
            var total = 0;
            foreach (var count in counts)
            {
                total += count;
            }

            if (total > 256 || i + 17 + total > segment.Length)
            {
                throw new ImageCodecException("JPEG: DHT segment too short for its code counts.");
            }

            var table = new JpegHuffmanTable(counts, segment.Slice(i + 17, total));
            (tc == 0 ? dcTables : acTables)[th] = table;
            i += 17 + total;
        }
    }

    private void ReadFrameHeader(ReadOnlySpan<byte> segment, int marker)
    {
        if (components is not null)
        {
            throw new ImageCodecException("JPEG: more than one frame header (SOF).");
        }

        if (segment.Length < 6)
        {
            throw new ImageCodecException("JPEG: SOF segment too short.");
        }

        lossless = marker == (int)Marker.Sof3;
        precision = segment[0];
        var lines = BinaryPrimitives.ReadUInt16BigEndian(segment[1..]);
        var samplesPerLine = BinaryPrimitives.ReadUInt16BigEndian(segment[3..]);
        var count = segment[5];
        if (lossless ? precision is < 2 or > 16 : precision is not (8 or 12))
        {
            throw new ImageCodecException($"JPEG: sample precision {precision} is not supported by SOF{marker - 0xC0}.");
        }

        if (precision > 8 && info.BitsAllocated == 8)
        {
            throw new ImageCodecException($"JPEG: {precision}-bit samples do not fit Bits Allocated 8.");
        }

        if (count is < 1 or > 4 || segment.Length < 6 + (3 * count))
        {
            throw new ImageCodecException($"JPEG: SOF declares {count} components, or is too short for them.");
        }

        // Y = 0 means the number of lines follows in a DNL marker; DICOM has it in Rows.
        height = lines == 0 ? info.Rows : lines;
        width = samplesPerLine;
        if (width != info.Columns || height != info.Rows)
        {
            throw new ImageCodecException($"JPEG: the stream is {width}x{height}; the data set says {info.Columns}x{info.Rows}.");
        }

        if (count != info.SamplesPerPixel)
        {
            throw new ImageCodecException($"JPEG: the stream has {count} components; the data set says Samples per Pixel {info.SamplesPerPixel}.");
        }

        var parsed = new Component[count];
        for (var i = 0; i < count; i++)
        {
            var id = segment[6 + (3 * i)];
            var h = segment[7 + (3 * i)] >> 4;
            var v = segment[7 + (3 * i)] & 15;
            var tq = segment[8 + (3 * i)];
            if (h is < 1 or > 4 || v is < 1 or > 4 || tq > 3)
            {
                throw new ImageCodecException($"JPEG: component {id} has invalid sampling factors {h}x{v} or table {tq}.");
            }

            for (var j = 0; j < i; j++)
            {
                if (parsed[j].Id == id)
                {
                    throw new ImageCodecException($"JPEG: component identifier {id} appears twice in the frame header.");
                }
            }

            parsed[i] = new Component { Id = id, H = h, V = v, QuantTable = tq };
            hMax = Math.Max(hMax, h);
            vMax = Math.Max(vMax, v);
        }

        var unit = lossless ? 1 : 8;
        mcusX = (width + (unit * hMax) - 1) / (unit * hMax);
        mcusY = (height + (unit * vMax) - 1) / (unit * vMax);
        foreach (var c in parsed)
        {
            if (hMax % c.H != 0 || vMax % c.V != 0)
            {
                throw new ImageCodecException($"JPEG: sampling factors {c.H}x{c.V} of component {c.Id} are not an integral fraction of {hMax}x{vMax}.");
            }

            c.DownWidth = (int)(((long)width * c.H + hMax - 1) / hMax);
            c.DownHeight = (int)(((long)height * c.V + vMax - 1) / vMax);
            c.Stride = mcusX * c.H * unit;
            c.PlaneHeight = mcusY * c.V * unit;
            var size = (long)c.Stride * c.PlaneHeight;
            if (size > Array.MaxLength)
            {
                throw new ImageCodecException("JPEG: the image is too large.");
            }
        }

        foreach (var c in parsed)
        {
            c.Plane = ArrayPool<ushort>.Shared.Rent(c.Stride * c.PlaneHeight);
        }

        components = parsed;
    }

    private void DecodeScan(ReadOnlySpan<byte> header, ReadOnlySpan<byte> data, ref int position)
    {
        if (components is null)
        {
            throw new ImageCodecException("JPEG: a scan (SOS) before the frame header (SOF).");
        }

        if (header.Length < 1)
        {
            throw new ImageCodecException("JPEG: SOS segment too short.");
        }

        var count = header[0];
        if (count is < 1 or > 4 || header.Length < 4 + (2 * count))
        {
            throw new ImageCodecException($"JPEG: SOS declares {count} components, or is too short for them.");
        }

        var scan = new Component[count];
        var blocksPerMcu = 0;
        for (var i = 0; i < count; i++)
        {
            var id = header[1 + (2 * i)];
            var tables = header[2 + (2 * i)];
            var component = Array.Find(components, c => c.Id == id)
                ?? throw new ImageCodecException($"JPEG: the scan names component {id}, which the frame does not have.");
            if (Array.IndexOf(scan, component, 0, i) >= 0)
            {
                throw new ImageCodecException($"JPEG: component {id} appears twice in a scan.");
            }

            component.DcTable = tables >> 4;
            component.AcTable = tables & 15;
            if (lossless)
            {
                component.AcTable = 0; // Ta is not used in lossless scans (H.2.2).
            }

            if (component.DcTable > 3 || component.AcTable > 3 || dcTables[component.DcTable] is null
                || (!lossless && acTables[component.AcTable] is null))
            {
                throw new ImageCodecException($"JPEG: the scan uses a Huffman table that is not defined (component {id}).");
            }

            if (!lossless)
            {
                component.Quant = quantTables[component.QuantTable]
                    ?? throw new ImageCodecException($"JPEG: quantization table {component.QuantTable} of component {id} is not defined.");
            }

            blocksPerMcu += component.H * component.V;
            scan[i] = component;
        }

        if (count > 1 && blocksPerMcu > 10)
        {
            throw new ImageCodecException($"JPEG: an interleaved MCU of {blocksPerMcu} data units exceeds the limit of 10.");
        }

        var ss = header[1 + (2 * count)];
        var se = header[2 + (2 * count)];
        var ah = header[3 + (2 * count)] >> 4;
        var al = header[3 + (2 * count)] & 15;
        if (lossless)
        {
            if (ss is < 1 or > 7)
            {
                throw new ImageCodecException($"JPEG: lossless predictor {ss} is not valid (1 to 7).");
            }

            if (al >= precision)
            {
                throw new ImageCodecException($"JPEG: point transform {al} is not below the precision {precision}.");
            }

            DecodeLosslessScan(scan, data, ref position, ss, al);
        }
        else
        {
            if (ss != 0 || se != 63 || ah != 0 || al != 0)
            {
                throw new ImageCodecException($"JPEG: spectral selection or successive approximation (Ss={ss} Se={se} Ah={ah} Al={al}) is progressive coding, which is not supported.");
            }

            DecodeSequentialScan(scan, data, ref position);
        }

        foreach (var component in scan)
        {
            component.Scanned = true;
        }
    }

    private void DecodeSequentialScan(Component[] scan, ReadOnlySpan<byte> data, ref int position)
    {
        var reader = new JpegBitReader(data, position);
        Span<short> block = stackalloc short[64];
        Span<int> workspace = stackalloc int[64];
        var pass1Bits = precision == 8 ? 2 : 1;
        var range = precision == 8 ? RangeLimit8 : RangeLimit12;
        foreach (var c in scan)
        {
            c.Predictor = 0;
        }

        var restartsToGo = restartInterval;
        if (scan.Length == 1)
        {
            // Non-interleaved: the component's blocks in raster order (A.2.2), only those covering its samples.
            var c = scan[0];
            var blocksWide = (c.DownWidth + 7) / 8;
            var blocksHigh = (c.DownHeight + 7) / 8;
            for (var by = 0; by < blocksHigh; by++)
            {
                for (var bx = 0; bx < blocksWide; bx++)
                {
                    if (restartInterval > 0)
                    {
                        if (restartsToGo == 0)
                        {
                            reader.Restart();
                            c.Predictor = 0;
                            restartsToGo = restartInterval;
                        }

                        restartsToGo--;
                    }

                    DecodeBlock(ref reader, c, block, workspace, bx * 8, by * 8, pass1Bits, range);
                }

                reader.ThrowIfOverrun();
            }
        }
        else
        {
            // Interleaved: MCUs of H x V blocks of each component in turn (A.2.3).
            for (var my = 0; my < mcusY; my++)
            {
                for (var mx = 0; mx < mcusX; mx++)
                {
                    if (restartInterval > 0)
                    {
                        if (restartsToGo == 0)
                        {
                            reader.Restart();
                            foreach (var c in scan)
                            {
                                c.Predictor = 0;
                            }

                            restartsToGo = restartInterval;
                        }

                        restartsToGo--;
                    }

                    foreach (var c in scan)
                    {
                        for (var v = 0; v < c.V; v++)
                        {
                            for (var h = 0; h < c.H; h++)
                            {
                                DecodeBlock(ref reader, c, block, workspace, ((mx * c.H) + h) * 8, ((my * c.V) + v) * 8, pass1Bits, range);
                            }
                        }
                    }
                }

                reader.ThrowIfOverrun();
            }
        }

        reader.ThrowIfOverrun();
        position = reader.Position;
    }

    /// <summary>Decodes one 8x8 block (F.2.2.1 DC difference, F.2.2.2 AC coefficients) and writes its samples to the component plane.</summary>
    private void DecodeBlock(scoped ref JpegBitReader reader, Component c, scoped Span<short> block, scoped Span<int> workspace, int x, int y, int pass1Bits, ushort[] range)
    {
        block.Clear();
        var s = reader.DecodeHuffman(dcTables[c.DcTable]!);
        if (s > 16)
        {
            throw new ImageCodecException($"JPEG: invalid DC difference category {s}.");
        }

        c.Predictor += reader.Receive(s);
        block[0] = (short)c.Predictor;

        var ac = acTables[c.AcTable]!;
        var hasAc = false;
        for (var k = 1; k < 64; k++)
        {
            var rs = reader.DecodeHuffman(ac);
            var r = rs >> 4;
            s = rs & 15;
            if (s != 0)
            {
                k += r;
                block[NaturalOrder[k]] = (short)reader.Receive(s);
                hasAc = true;
            }
            else
            {
                if (r != 15)
                {
                    break;
                }

                k += 15;
            }
        }

        var quant = c.Quant!;
        var output = c.Plane.AsSpan((y * c.Stride) + x);
        if (!hasAc)
        {
            var value = JpegIdct.DcOnly(block[0], quant[0], pass1Bits, range);
            for (var row = 0; row < 8; row++)
            {
                output.Slice(row * c.Stride, 8).Fill(value);
            }
        }
        else
        {
            JpegIdct.Transform(block, quant, output, c.Stride, pass1Bits, range, workspace);
        }
    }

    /// <summary>
    /// Decodes a lossless scan (Annex H): Huffman-coded differences, undone against the prediction from the
    /// reconstructed neighbours Ra (left), Rb (above) and Rc (above left) row by row, modulo 2^16 (H.2.1).
    /// The first row of the scan and of each restart interval is predicted from the left, its first sample
    /// from 2^(P-Pt-1); the first sample of other rows from above.
    /// </summary>
    private void DecodeLosslessScan(Component[] scan, ReadOnlySpan<byte> data, ref int position, int predictor, int pointTransform)
    {
        var reader = new JpegBitReader(data, position);
        var interleaved = scan.Length > 1;
        var mcusPerRow = interleaved ? mcusX : scan[0].DownWidth;
        var mcuRows = interleaved ? mcusY : scan[0].DownHeight;
        var initial = 1 << (precision - pointTransform - 1);
        var workaround = options.Predictor6Workaround && predictor == 6;
        foreach (var c in scan)
        {
            c.PointTransform = pointTransform;
        }

        var restartsToGo = restartInterval;
        for (var r = 0; r < mcuRows; r++)
        {
            var firstRow = r == 0;
            if (!interleaved && restartInterval == 0)
            {
                // The common case: one component, no restarts: a row of differences in one tight loop.
                var c = scan[0];
                var table = dcTables[c.DcTable]!;
                var row = c.Plane.AsSpan(r * c.Stride, mcusPerRow);
                for (var x = 0; x < row.Length; x++)
                {
                    row[x] = DecodeDifference(ref reader, table);
                }
            }
            else
            {
                for (var mx = 0; mx < mcusPerRow; mx++)
                {
                    if (restartInterval > 0)
                    {
                        if (restartsToGo == 0)
                        {
                            reader.Restart();
                            restartsToGo = restartInterval;
                            firstRow |= mx == 0;
                        }

                        restartsToGo--;
                    }

                    if (!interleaved)
                    {
                        var c = scan[0];
                        c.Plane[(r * c.Stride) + mx] = DecodeDifference(ref reader, dcTables[c.DcTable]!);
                        continue;
                    }

                    foreach (var c in scan)
                    {
                        var table = dcTables[c.DcTable]!;
                        for (var v = 0; v < c.V; v++)
                        {
                            var rowStart = (((r * c.V) + v) * c.Stride) + (mx * c.H);
                            for (var h = 0; h < c.H; h++)
                            {
                                c.Plane[rowStart + h] = DecodeDifference(ref reader, table);
                            }
                        }
                    }
                }
            }

            reader.ThrowIfOverrun();
            foreach (var c in scan)
            {
                var rows = interleaved ? c.V : 1;
                var rowWidth = interleaved ? mcusX * c.H : c.DownWidth;
                for (var v = 0; v < rows; v++)
                {
                    Undifference(c.Plane, c.Stride, (r * rows) + v, rowWidth, firstRow && v == 0, predictor, initial, workaround);
                }
            }
        }

        reader.ThrowIfOverrun();
        position = reader.Position;
    }

    private static ushort DecodeDifference(scoped ref JpegBitReader reader, JpegHuffmanTable table)
    {
        var s = reader.DecodeHuffman(table);
        return s switch
        {
            0 => 0,
            16 => 32768,
            > 16 => throw new ImageCodecException($"JPEG: invalid lossless difference category {s}."),
            _ => (ushort)reader.Receive(s),
        };
    }

    private static void Undifference(ushort[] plane, int stride, int y, int rowWidth, bool firstRow, int predictor, int initial, bool workaround)
    {
        var row = plane.AsSpan(y * stride, rowWidth);
        if (firstRow)
        {
            var a = (row[0] + initial) & 0xFFFF;
            row[0] = (ushort)a;
            for (var x = 1; x < row.Length; x++)
            {
                a = (row[x] + a) & 0xFFFF;
                row[x] = (ushort)a;
            }

            return;
        }

        var previous = plane.AsSpan((y - 1) * stride, rowWidth);
        row[0] = (ushort)(row[0] + previous[0]);
        switch (predictor)
        {
            case 1:
                for (var x = 1; x < row.Length; x++)
                {
                    row[x] = (ushort)(row[x] + row[x - 1]);
                }

                break;
            case 2:
                for (var x = 1; x < row.Length; x++)
                {
                    row[x] = (ushort)(row[x] + previous[x]);
                }

                break;
            case 3:
                for (var x = 1; x < row.Length; x++)
                {
                    row[x] = (ushort)(row[x] + previous[x - 1]);
                }

                break;
            case 4:
                for (var x = 1; x < row.Length; x++)
                {
                    row[x] = (ushort)(row[x] + row[x - 1] + previous[x] - previous[x - 1]);
                }

                break;
            case 5:
                for (var x = 1; x < row.Length; x++)
                {
                    row[x] = (ushort)(row[x] + row[x - 1] + ((previous[x] - previous[x - 1]) >> 1));
                }

                break;
            case 6 when workaround:
                // The faulty encoder computed Ra - Rc in 16 bits (DCMTK +w6).
                for (var x = 1; x < row.Length; x++)
                {
                    row[x] = (ushort)(row[x] + previous[x] + (((short)(row[x - 1] - previous[x - 1])) >> 1));
                }

                break;
            case 6:
                for (var x = 1; x < row.Length; x++)
                {
                    row[x] = (ushort)(row[x] + previous[x] + ((row[x - 1] - previous[x - 1]) >> 1));
                }

                break;
            default:
                for (var x = 1; x < row.Length; x++)
                {
                    row[x] = (ushort)(row[x] + ((row[x - 1] + previous[x]) >> 1));
                }

                break;
        }
    }

    /// <summary>Upsamples, colour-converts and interleaves the component planes into the native frame.</summary>
    private void WriteFrame(Span<byte> destination)
    {
        var comps = components!;
        var n = comps.Length;
        var convert = n == 3 && options.ConvertYbrToRgb
            && (info.IsYbr ? !(adobe && adobeTransform == 0) : adobe && adobeTransform == 1);

        if (lossless)
        {
            foreach (var c in comps)
            {
                if (c.PointTransform > 0)
                {
                    for (var y = 0; y < c.DownHeight; y++)
                    {
                        var row = c.Plane.AsSpan(y * c.Stride, c.DownWidth);
                        for (var x = 0; x < row.Length; x++)
                        {
                            row[x] = (ushort)(row[x] << c.PointTransform);
                        }
                    }
                }
            }
        }

        var scratchWidth = width;
        foreach (var c in comps)
        {
            scratchWidth = Math.Max(scratchWidth, c.DownWidth * (hMax / c.H));
        }

        var scratch = ArrayPool<ushort>.Shared.Rent(scratchWidth * n);
        try
        {
            var tables = convert ? JpegColor.GetTables(precision) : null;
            var wide = info.BitsAllocated == 16;
            Span<int> offsets = stackalloc int[4];
            for (var y = 0; y < height; y++)
            {
                // The row of each component at full resolution: the plane itself, or an upsampled copy.
                var r0 = Row(comps[0], 0, y);
                var r1 = n > 1 ? Row(comps[1], 1, y) : default;
                var r2 = n > 2 ? Row(comps[2], 2, y) : default;
                var r3 = n > 3 ? Row(comps[3], 3, y) : default;
                if (tables is not null)
                {
                    JpegColor.YccToRgb(r0, r1, r2, tables);
                }

                if (n == 1)
                {
                    if (wide)
                    {
                        var output = destination.Slice(y * width * 2, width * 2);
                        if (BitConverter.IsLittleEndian)
                        {
                            System.Runtime.InteropServices.MemoryMarshal.AsBytes(r0).CopyTo(output);
                        }
                        else
                        {
                            for (var x = 0; x < width; x++)
                            {
                                BinaryPrimitives.WriteUInt16LittleEndian(output[(x * 2)..], r0[x]);
                            }
                        }
                    }
                    else
                    {
                        var output = destination.Slice(y * width, width);
                        for (var x = 0; x < width; x++)
                        {
                            output[x] = (byte)r0[x];
                        }
                    }

                    continue;
                }

                var bytes = wide ? 2 : 1;
                var line = destination.Slice(y * width * n * bytes, width * n * bytes);
                for (var ci = 0; ci < n; ci++)
                {
                    var source = ci switch { 0 => r0, 1 => r1, 2 => r2, _ => r3 };
                    if (wide)
                    {
                        for (var x = 0; x < width; x++)
                        {
                            BinaryPrimitives.WriteUInt16LittleEndian(line[(((x * n) + ci) * 2)..], source[x]);
                        }
                    }
                    else
                    {
                        for (var x = 0; x < width; x++)
                        {
                            line[(x * n) + ci] = (byte)source[x];
                        }
                    }
                }
            }

            Span<ushort> Row(Component c, int index, int y)
            {
                if (c.H == hMax && c.V == vMax)
                {
                    return c.Plane.AsSpan(y * c.Stride, width);
                }

                var output = scratch.AsSpan(index * scratchWidth, scratchWidth);
                JpegColor.UpsampleRow(c.Plane, c.Stride, c.DownWidth, c.DownHeight, hMax / c.H, vMax / c.V, !lossless, y, output);
                return output[..width];
            }
        }
        finally
        {
            ArrayPool<ushort>.Shared.Return(scratch);
        }
    }

    private sealed class Component
    {
        public int Id { get; init; }

        public int H { get; init; }

        public int V { get; init; }

        public int QuantTable { get; init; }

        public ushort[]? Quant { get; set; }

        public int DcTable { get; set; }

        public int AcTable { get; set; }

        /// <summary>Samples of the component: ceil(X × H / Hmax) by ceil(Y × V / Vmax).</summary>
        public int DownWidth { get; set; }

        public int DownHeight { get; set; }

        /// <summary>Width of the plane: whole MCUs.</summary>
        public int Stride { get; set; }

        public int PlaneHeight { get; set; }

        public ushort[] Plane { get; set; } = [];

        public int Predictor { get; set; }

        public int PointTransform { get; set; }

        public bool Scanned { get; set; }
    }
}
