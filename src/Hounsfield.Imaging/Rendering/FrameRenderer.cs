using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Frames;

namespace Hounsfield.Imaging.Rendering;

/// <summary>
/// Renders a frame for display following the grayscale and colour pipelines of PS3.4 Annex N.2: Modality LUT (rescale or
/// Modality LUT Sequence), VOI LUT (window with LINEAR / LINEAR_EXACT / SIGMOID, VOI LUT Sequence, min-max, or none),
/// MONOCHROME1 and Presentation LUT Shape inversion; PALETTE COLOR through its (possibly segmented) palettes;
/// RGB and YBR_FULL / YBR_FULL_422 / YBR_PARTIAL_422 to RGB. Output: 8-bit gray or RGB, optionally a region and a new size.
/// </summary>
/// <remarks>
/// Integer frames of at most 16 bits stored go through one precomputed table per frame (stored value to output byte),
/// looked up 64 samples at a time with AVX-512 permutes where the hardware has them (<see cref="ByteTableLookup"/>); deeper and
/// floating-point frames are computed per pixel without allocation.
/// </remarks>
public static class FrameRenderer
{
    /// <summary>Reads frame <paramref name="frameIndex"/> (0-based) of <paramref name="file"/> and renders it.</summary>
    /// <exception cref="InvalidOperationException">The file has no pixel data.</exception>
    public static RenderedImage Render(DicomFile file, int frameIndex = 0, RenderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        var reader = PixelDataReader.Create(file) ?? throw new InvalidOperationException("The data set has no pixel data to render.");
        return Render(file.Dataset, reader.ReadFrame(frameIndex), frameIndex, options);
    }

    /// <summary>
    /// Renders <paramref name="frame"/>, frame <paramref name="frameIndex"/> (0-based, for per-frame functional groups and
    /// multi-frame overlays) of <paramref name="dataset"/>, which supplies the LUTs, windows and palettes.
    /// </summary>
    public static RenderedImage Render(DicomDataset dataset, PixelFrame frame, int frameIndex = 0, RenderOptions? options = null) =>
        Render(dataset, frame, frameIndex, options, pooled: false);

    /// <summary>
    /// As <see cref="Render(DicomDataset, PixelFrame, int, RenderOptions?)"/>, but a grayscale image's pixels may be rented
    /// from <see cref="System.Buffers.ArrayPool{T}.Shared"/> (and be longer than <see cref="RenderedImage.Length"/>):
    /// dispose the image when done.
    /// </summary>
    public static RenderedImage RenderPooled(DicomDataset dataset, PixelFrame frame, int frameIndex = 0, RenderOptions? options = null) =>
        Render(dataset, frame, frameIndex, options, pooled: true);

    private static RenderedImage Render(DicomDataset dataset, PixelFrame frame, int frameIndex, RenderOptions? options, bool pooled)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(frame);
        options ??= RenderOptions.Default;
        var subsampled = frame.Description.IsSubsampled422;
        var normalized = frame.ToColorByPixel();
        var d = normalized.Description;
        var region = Clip(options.Region, d.Columns, d.Rows);

        RenderedImage image;
        if (d.SamplesPerPixel == 1 && d.PhotometricInterpretation == "PALETTE COLOR" && d.SampleFormat == PixelSampleFormat.Integer)
        {
            image = RenderPalette(dataset, normalized, region);
        }
        else if (d.SamplesPerPixel == 1)
        {
            image = RenderGray(dataset, normalized, frameIndex, region, options, pooled);
        }
        else if (d.SamplesPerPixel == 3 && d.SampleFormat == PixelSampleFormat.Integer && d.BitsAllocated >= 8)
        {
            image = RenderColor(normalized, region, subsampled);
        }
        else
        {
            throw new NotSupportedException($"Rendering {d.SamplesPerPixel} samples per pixel of {d.PhotometricInterpretation} ({d.BitsAllocated} bits allocated) is not supported.");
        }

        if (options.ShowOverlays)
        {
            Overlays.Burn(dataset, frameIndex, region, image);
        }

        var (width, height) = OutputSize(options, region);
        if (width == image.Width && height == image.Height)
        {
            return image;
        }

        using (image)
        {
            return Resampler.Resize(image, width, height);
        }
    }

    private static PixelRegion Clip(PixelRegion? requested, int columns, int rows)
    {
        if (requested is not { } r)
        {
            return new PixelRegion(0, 0, columns, rows);
        }

        var x = Math.Clamp(r.X, 0, columns - 1);
        var y = Math.Clamp(r.Y, 0, rows - 1);
        var width = Math.Clamp(r.Width, 1, columns - x);
        var height = Math.Clamp(r.Height, 1, rows - y);
        return new PixelRegion(x, y, width, height);
    }

    private static (int Width, int Height) OutputSize(RenderOptions options, PixelRegion region)
    {
        return (options.OutputWidth, options.OutputHeight) switch
        {
            ({ } w, { } h) => (Math.Max(1, w), Math.Max(1, h)),
            ({ } w, null) => (Math.Max(1, w), Math.Max(1, (int)Math.Round((double)region.Height * w / region.Width))),
            (null, { } h) => (Math.Max(1, (int)Math.Round((double)region.Width * h / region.Height)), Math.Max(1, h)),
            _ => (region.Width, region.Height),
        };
    }

    // ---- grayscale (PS3.4 N.2.1) ----

    private static RenderedImage RenderGray(DicomDataset dataset, PixelFrame frame, int frameIndex, PixelRegion region, RenderOptions options, bool pooled)
    {
        var d = frame.Description;
        var modality = d.SampleFormat == PixelSampleFormat.Integer
            ? ModalityTransform.FromDataset(dataset, frameIndex, d.IsSigned)
            : ModalityTransform.Identity;
        var invert = IsInverted(dataset, d.PhotometricInterpretation);

        // Every pixel is written below: no need to clear the array first.
        var length = region.Width * region.Height;
        var output = pooled ? ArrayPool<byte>.Shared.Rent(length) : GC.AllocateUninitializedArray<byte>(length);
        if (d.SampleFormat == PixelSampleFormat.Integer && d.BitsStored <= 16)
        {
            RenderGrayThroughTable(dataset, frame, frameIndex, region, options, modality, invert, output);
        }
        else
        {
            RenderGrayDirect(dataset, frame, frameIndex, region, options, modality, invert, output);
        }

        return new RenderedImage(region.Width, region.Height, 1, output, pooled ? ArrayPool<byte>.Shared : null);
    }

    /// <summary>
    /// Whether the display values are inverted: by Presentation LUT Shape (2050,0020) INVERSE when present (IDENTITY: not),
    /// else for MONOCHROME1 (minimum value displayed white, PS3.3 C.7.6.3.1.2).
    /// </summary>
    private static bool IsInverted(DicomDataset dataset, string photometric)
    {
        var shape = dataset.GetString(DicomTag.PresentationLUTShape)?.Trim();
        return shape switch
        {
            "INVERSE" => true,
            "IDENTITY" => false,
            _ => photometric == "MONOCHROME1",
        };
    }

    private static void RenderGrayThroughTable(
        DicomDataset dataset, PixelFrame frame, int frameIndex, PixelRegion region, RenderOptions options,
        ModalityTransform modality, bool invert, byte[] output)
    {
        var d = frame.Description;
        var minStored = StoredValue.Minimum(d.BitsStored, d.IsSigned);
        var maxStored = StoredValue.Maximum(d.BitsStored, d.IsSigned);
        var count = (int)(maxStored - minStored + 1);
        var reader = new StoredIndexReader(d);

        (double, double) MinMax()
        {
            // Which stored values occur, then the smallest and largest modality value among them.
            var seen = new bool[count];
            var samples = (long)d.Rows * d.Columns;
            var data = frame.Data;
            for (long i = 0; i < samples; i++)
            {
                seen[reader.Read(data, i)] = true;
            }

            double min = double.MaxValue, max = double.MinValue;
            for (var i = 0; i < count; i++)
            {
                if (seen[i])
                {
                    var value = modality.Apply(minStored + i);
                    min = Math.Min(min, value);
                    max = Math.Max(max, value);
                }
            }

            return (min, max);
        }

        var voi = SelectVoi(dataset, frameIndex, options, modality.Range(minStored, maxStored), MinMax);

        // One output byte per stored value that occurs (the table spans the representable range; only the frame's is filled).
        var (firstIndex, lastIndex) = reader.IndexRange(frame.Data, (long)d.Rows * d.Columns);
        var table = new byte[count];
        for (var i = firstIndex; i <= lastIndex; i++)
        {
            table[i] = (byte)voi.Map(modality.Apply(minStored + i), invert);
        }

        var source = frame.Data;
        var lookup = reader.HasTwoByteSamples ? ByteTableLookup.Create(table, firstIndex, lastIndex) : null;
        for (var row = 0; row < region.Height; row++)
        {
            var target = output.AsSpan(row * region.Width, region.Width);
            var first = ((long)(region.Y + row) * d.Columns) + region.X;
            if (lookup is not null)
            {
                reader.MapRow(source, first, lookup, target);
            }
            else
            {
                reader.MapRow(source, first, table, target);
            }
        }
    }

    private static void RenderGrayDirect(
        DicomDataset dataset, PixelFrame frame, int frameIndex, PixelRegion region, RenderOptions options,
        ModalityTransform modality, bool invert, byte[] output)
    {
        var d = frame.Description;
        var data = frame.Data;

        (double, double) MinMax()
        {
            double min = double.MaxValue, max = double.MinValue;
            var samples = (long)d.Rows * d.Columns;
            for (long i = 0; i < samples; i++)
            {
                var value = modality.Apply(ReadSample(data, d, i));
                if (double.IsFinite(value))
                {
                    min = Math.Min(min, value);
                    max = Math.Max(max, value);
                }
            }

            return min <= max ? (min, max) : (0, 0);
        }

        (double, double) fullRange = d.SampleFormat == PixelSampleFormat.Integer
            ? modality.Range(StoredValue.Minimum(d.BitsStored, d.IsSigned), StoredValue.Maximum(d.BitsStored, d.IsSigned))
            : MinMax();
        var voi = SelectVoi(dataset, frameIndex, options, fullRange, MinMax);
        for (var row = 0; row < region.Height; row++)
        {
            var first = ((long)(region.Y + row) * d.Columns) + region.X;
            var target = output.AsSpan(row * region.Width, region.Width);
            for (var x = 0; x < target.Length; x++)
            {
                var value = modality.Apply(ReadSample(data, d, first + x));
                target[x] = (byte)(double.IsNaN(value) ? (invert ? 255 : 0) : voi.Map(value, invert));
            }
        }
    }

    /// <summary>Sample <paramref name="index"/> as a number: the stored value for integers, the value for floats.</summary>
    private static double ReadSample(byte[] data, PixelDataDescription d, long index)
    {
        switch (d.SampleFormat)
        {
            case PixelSampleFormat.Float32:
                return BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan((int)(index * 4), 4));
            case PixelSampleFormat.Float64:
                return BinaryPrimitives.ReadDoubleLittleEndian(data.AsSpan((int)(index * 8), 8));
            default:
                ulong raw = d.BytesPerSample switch
                {
                    1 => data[index],
                    2 => BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan((int)(index * 2), 2)),
                    3 => data[index * 3] | ((ulong)data[(index * 3) + 1] << 8) | ((ulong)data[(index * 3) + 2] << 16),
                    4 => BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)(index * 4), 4)),
                    _ => BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan((int)(index * 8), 8)),
                };
                return StoredValue.Extract(raw, d.BitsStored, d.HighBit, d.IsSigned);
        }
    }

    /// <summary>The VOI transform the options ask for (PS3.4 N.2.1.3), reading windows and VOI LUTs from the data set.</summary>
    private static VoiTransform SelectVoi(
        DicomDataset dataset, int frameIndex, RenderOptions options, (double Min, double Max) fullRange, Func<(double Min, double Max)> minMax)
    {
        switch (options.Voi)
        {
            case VoiMode.Window:
                {
                    var function = options.Function
                        ?? VoiTransform.ParseFunction(dataset.GetStrings(DicomTag.VOILUTFunction).FirstOrDefault());
                    return VoiTransform.Window(options.WindowCenter, options.WindowWidth, function);
                }

            case VoiMode.None:
                return new RangeTransform(fullRange.Min, fullRange.Max);

            case VoiMode.MinMax:
                return MinMaxWindow(minMax());

            case VoiMode.First:
                return FromStored(dataset) ?? FromFrameGroups(dataset, frameIndex) ?? MinMaxWindow(minMax());

            default:
                return FromFrameGroups(dataset, frameIndex) ?? FromStored(dataset) ?? MinMaxWindow(minMax());
        }

        static VoiTransform? FromStored(DicomDataset dataset)
        {
            if (StoredWindow.Read(dataset) is { } window)
            {
                return VoiTransform.Window(window.Center, window.Width, window.Function);
            }

            if (dataset.GetSequence(DicomTag.VOILUTSequence)?.Items is { Count: > 0 } items
                && LookupTable.Read(items[0], DicomTag.LUTDescriptor, DicomTag.LUTData, signedInput: false) is { } lut)
            {
                return new VoiLutTransform(lut);
            }

            return null;
        }

        static VoiTransform? FromFrameGroups(DicomDataset dataset, int frameIndex)
        {
            return FunctionalGroups.Find(dataset, frameIndex, DicomTag.FrameVOILUTSequence) is { } item
                && StoredWindow.Read(item) is { } window
                ? VoiTransform.Window(window.Center, window.Width, window.Function)
                : null;
        }
    }

    /// <summary>
    /// The min-max window: LINEAR with centre (min + max + 1) / 2 and width max - min + 1, so that, as PS3.3 C.11.2.1.2 notes
    /// for 2^n - 1 and 2^n, it selects exactly the values min..max (the window dcm2pnm +Wm computes).
    /// </summary>
    private static VoiTransform MinMaxWindow((double Min, double Max) range) =>
        VoiTransform.Window((range.Min + range.Max + 1) / 2, range.Max - range.Min + 1, VoiFunction.Linear);

    // ---- PALETTE COLOR (PS3.3 C.7.6.3.1.5, C.7.9) ----

    private static RenderedImage RenderPalette(DicomDataset dataset, PixelFrame frame, PixelRegion region)
    {
        var d = frame.Description;
        if (d.BitsStored > 16)
        {
            throw new NotSupportedException($"PALETTE COLOR with {d.BitsStored} bits stored is not supported.");
        }

        var red = ReadPalette(dataset, DicomTag.RedPaletteColorLookupTableDescriptor, DicomTag.RedPaletteColorLookupTableData, DicomTag.SegmentedRedPaletteColorLookupTableData, d.IsSigned);
        var green = ReadPalette(dataset, DicomTag.GreenPaletteColorLookupTableDescriptor, DicomTag.GreenPaletteColorLookupTableData, DicomTag.SegmentedGreenPaletteColorLookupTableData, d.IsSigned);
        var blue = ReadPalette(dataset, DicomTag.BluePaletteColorLookupTableDescriptor, DicomTag.BluePaletteColorLookupTableData, DicomTag.SegmentedBluePaletteColorLookupTableData, d.IsSigned);

        var minStored = StoredValue.Minimum(d.BitsStored, d.IsSigned);
        var count = (int)(StoredValue.Maximum(d.BitsStored, d.IsSigned) - minStored + 1);
        var table = new byte[count * 3];
        for (var i = 0; i < count; i++)
        {
            table[(i * 3) + 0] = PaletteByte(red, minStored + i);
            table[(i * 3) + 1] = PaletteByte(green, minStored + i);
            table[(i * 3) + 2] = PaletteByte(blue, minStored + i);
        }

        var reader = new StoredIndexReader(d);
        var output = new byte[region.Width * region.Height * 3];
        var data = frame.Data;
        for (var row = 0; row < region.Height; row++)
        {
            var first = ((long)(region.Y + row) * d.Columns) + region.X;
            var target = output.AsSpan(row * region.Width * 3, region.Width * 3);
            for (var x = 0; x < region.Width; x++)
            {
                var index = reader.Read(data, first + x) * 3;
                target[x * 3] = table[index];
                target[(x * 3) + 1] = table[index + 1];
                target[(x * 3) + 2] = table[index + 2];
            }
        }

        return new RenderedImage(region.Width, region.Height, 3, output);
    }

    private static LookupTable ReadPalette(DicomDataset dataset, DicomTag descriptor, DicomTag data, DicomTag segmented, bool signed) =>
        LookupTable.Read(dataset, descriptor, data, signed, segmented)
        ?? throw new DicomFormatException($"PALETTE COLOR image without a usable palette {descriptor} / {data}.");

    /// <summary>A palette entry scaled from its depth to 8 bits: the high byte of 16-bit entries, 8-bit entries as they are.</summary>
    private static byte PaletteByte(LookupTable lut, long index)
    {
        var entry = lut.Map(index);
        var bits = lut.EffectiveBits;
        return bits >= 8 ? (byte)Math.Min(255, entry >> (bits - 8)) : (byte)Math.Min(255, entry * 255 / ((1 << bits) - 1));
    }

    // ---- true colour (PS3.3 C.7.6.3.1.2) ----

    private static RenderedImage RenderColor(PixelFrame frame, PixelRegion region, bool subsampled)
    {
        var d = frame.Description;
        var kind = d.PhotometricInterpretation switch
        {
            "RGB" or "YBR_RCT" => ColorKind.Rgb,
            "YBR_FULL" or "YBR_ICT" => ColorKind.YbrFull,
            "YBR_PARTIAL" or "YBR_PARTIAL_420" => ColorKind.YbrPartial,
            _ => throw new NotSupportedException($"Rendering photometric interpretation {d.PhotometricInterpretation} is not supported."),
        };

        var bits = Math.Min(d.BitsStored, 32);
        var max = (1L << bits) - 1;
        var output = new byte[region.Width * region.Height * 3];
        var data = frame.Data;
        var bytes = d.BytesPerSample;
        var shift = d.HighBit - d.BitsStored + 1;
        var ybr = kind == ColorKind.YbrFull ? new YbrFullConverter(max, tables: !subsampled) : null;
        var toByte = bits == 8 ? null : DepthScaler.Create(max);
        for (var row = 0; row < region.Height; row++)
        {
            var first = ((long)(region.Y + row) * d.Columns) + region.X;
            var target = output.AsSpan(row * region.Width * 3, region.Width * 3);
            if (kind == ColorKind.Rgb && bytes == 1 && bits == 8 && shift == 0)
            {
                data.AsSpan((int)(first * 3), region.Width * 3).CopyTo(target);
                continue;
            }

            for (var x = 0; x < region.Width; x++)
            {
                var sample = (first + x) * 3;
                var c0 = ReadUnsigned(data, sample, bytes, shift, max);
                var c1 = ReadUnsigned(data, sample + 1, bytes, shift, max);
                var c2 = ReadUnsigned(data, sample + 2, bytes, shift, max);
                long r, g, b;
                switch (kind)
                {
                    case ColorKind.YbrFull:
                        (r, g, b) = ybr!.ToRgb(c0, c1, c2);
                        break;

                    case ColorKind.YbrPartial:
                        {
                            // YBR_PARTIAL: Y in 16..235, Cb/Cr in 16..240 (for 8 bits; scaled for deeper samples).
                            var unit = (max + 1) / 256.0;
                            var y = (c0 - (16 * unit)) * 255.0 / 219.0;
                            var cb = (c1 - (128 * unit)) * 255.0 / 224.0;
                            var cr = (c2 - (128 * unit)) * 255.0 / 224.0;
                            r = (long)Math.Clamp(Math.Round(y + (1.402 * cr)), 0, max);
                            g = (long)Math.Clamp(Math.Round(y - (0.344136 * cb) - (0.714136 * cr)), 0, max);
                            b = (long)Math.Clamp(Math.Round(y + (1.772 * cb)), 0, max);
                            break;
                        }

                    default:
                        (r, g, b) = (c0, c1, c2);
                        break;
                }

                if (toByte is null)
                {
                    target[x * 3] = (byte)r;
                    target[(x * 3) + 1] = (byte)g;
                    target[(x * 3) + 2] = (byte)b;
                }
                else
                {
                    target[x * 3] = toByte.Scale(r);
                    target[(x * 3) + 1] = toByte.Scale(g);
                    target[(x * 3) + 2] = toByte.Scale(b);
                }
            }
        }

        return new RenderedImage(region.Width, region.Height, 3, output);
    }

    private static long ReadUnsigned(byte[] data, long sample, int bytes, int shift, long max)
    {
        ulong raw = bytes switch
        {
            1 => data[sample],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan((int)(sample * 2), 2)),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)(sample * 4), 4)),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan((int)(sample * 8), 8)),
        };
        return (long)(raw >> shift) & max;
    }

    private enum ColorKind
    {
        Rgb,
        YbrFull,
        YbrPartial,
    }

    /// <summary>
    /// YBR_FULL to RGB (PS3.3 C.7.6.3.1.2: R = Y + 1.402 (Cr - h), G = Y - 0.3441 (Cb - h) - 0.7141 (Cr - h),
    /// B = Y + 1.772 (Cb - h), h = half the sample range), truncated and clipped to the sample range. The truncation
    /// follows DCMTK so that renders equal dcm2pnm's: for YBR_FULL each chrominance term is truncated through a table,
    /// for (upsampled) YBR_FULL_422 the whole sum.
    /// </summary>
    private sealed class YbrFullConverter
    {
        private readonly long max;
        private readonly int[]? red;
        private readonly int[]? greenCb;
        private readonly int[]? greenCr;
        private readonly int[]? blue;

        public YbrFullConverter(long max, bool tables)
        {
            this.max = max;
            if (!tables)
            {
                return;
            }

            if (max <= ushort.MaxValue)
            {
                red = new int[max + 1];
                greenCb = new int[max + 1];
                greenCr = new int[max + 1];
                blue = new int[max + 1];
                for (var c = 0; c <= max; c++)
                {
                    red[c] = (int)RedTerm(c);
                    greenCb[c] = (int)GreenCbTerm(c);
                    greenCr[c] = (int)GreenCrTerm(c);
                    blue[c] = (int)BlueTerm(c);
                }
            }
        }

        public (long R, long G, long B) ToRgb(long y, long cb, long cr)
        {
            long r, g, b;
            if (red is not null)
            {
                r = y + red[cr];
                g = y + greenCb![cb] + greenCr![cr];
                b = y + blue![cb];
            }
            else
            {
                return (
                    Truncate(y + (1.4020 * cr) - (0.7010 * max)),
                    Truncate(y - (0.3441 * cb) - (0.7141 * cr) + (0.5291 * max)),
                    Truncate(y + (1.7720 * cb) - (0.8859 * max)));
            }

            return (Math.Clamp(r, 0, max), Math.Clamp(g, 0, max), Math.Clamp(b, 0, max));
        }

        private long Truncate(double value) => value <= 0 ? 0 : value >= max ? max : (long)value;

        private long RedTerm(long cr) => (long)((1.4020 * cr) - (0.7010 * max));

        private static long GreenCbTerm(long cb) => (long)(-0.3441 * cb);

        private long GreenCrTerm(long cr) => (long)((-0.7141 * cr) + (0.5291 * max));

        private long BlueTerm(long cb) => (long)((1.7720 * cb) - (0.8859 * max));
    }

    /// <summary>
    /// Samples of another depth to 8 bits (a table up to 16 bits): deeper samples cut into 256 bins, v × 256 / (max + 1)
    /// (the high byte, as dcm2pnm); shallower ones stretched, v × 255 / max rounded.
    /// </summary>
    private sealed class DepthScaler
    {
        private readonly long max;
        private readonly byte[]? table;

        private DepthScaler(long max)
        {
            this.max = max;
            if (max <= ushort.MaxValue)
            {
                table = new byte[max + 1];
                for (var v = 0; v <= max; v++)
                {
                    table[v] = Compute(v);
                }
            }
        }

        public static DepthScaler Create(long max) => new(max);

        public byte Scale(long value) => table is not null ? table[value] : Compute(value);

        private byte Compute(long value) => max > 255
            ? (byte)Math.Clamp((long)(value * 256.0 / (max + 1)), 0, 255)
            : (byte)Math.Clamp((long)Math.Floor((value * 255.0 / max) + 0.5), 0, 255);
    }

    /// <summary>
    /// Reads stored values of integer frames of up to 16 bits stored as table indices 0 .. 2^BitsStored - 1 (index 0 is the
    /// smallest stored value: two's complement values are offset by 2^(BitsStored-1)), masking bits outside Bits Stored.
    /// </summary>
    private readonly struct StoredIndexReader
    {
        private readonly int bytesPerSample;
        private readonly int shift;
        private readonly int mask;
        private readonly int signFlip;

        public StoredIndexReader(PixelDataDescription d)
        {
            bytesPerSample = d.BitsAllocated == 1 ? 0 : d.BytesPerSample;
            shift = d.HighBit - d.BitsStored + 1;
            mask = (1 << d.BitsStored) - 1;
            signFlip = d.IsSigned ? 1 << (d.BitsStored - 1) : 0;
        }

        public int Read(byte[] data, long index)
        {
            uint raw = bytesPerSample switch
            {
                0 => (uint)(data[index >> 3] >> (int)(index & 7)) & 1,
                1 => data[index],
                2 => (uint)(data[index * 2] | (data[(index * 2) + 1] << 8)),
                3 => (uint)(data[index * 3] | (data[(index * 3) + 1] << 8) | (data[(index * 3) + 2] << 16)),
                _ => BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)(index * bytesPerSample), 4)),
            };
            return (int)(((raw >> shift) & (uint)mask) ^ (uint)signFlip);
        }

        /// <summary>The smallest and largest index among the first <paramref name="samples"/> samples.</summary>
        public (int First, int Last) IndexRange(byte[] data, long samples)
        {
            int low = int.MaxValue, high = int.MinValue;
            switch (bytesPerSample)
            {
                case 1:
                    foreach (var raw in data.AsSpan(0, (int)samples))
                    {
                        var index = ((raw >> shift) & mask) ^ signFlip;
                        low = Math.Min(low, index);
                        high = Math.Max(high, index);
                    }

                    break;

                case 2 when BitConverter.IsLittleEndian:
                    {
                        var values = MemoryMarshal.Cast<byte, ushort>(data.AsSpan(0, (int)samples * 2));
                        var i = 0;
                        if (Vector256.IsHardwareAccelerated && values.Length >= Vector256<ushort>.Count)
                        {
                            // The same index computation on 16 samples at a time, keeping per-lane minima and maxima.
                            var vectorMask = Vector256.Create((ushort)mask);
                            var vectorFlip = Vector256.Create((ushort)signFlip);
                            var lowest = Vector256.Create(ushort.MaxValue);
                            var highest = Vector256<ushort>.Zero;
                            ref var start = ref MemoryMarshal.GetReference(values);
                            for (; i + Vector256<ushort>.Count <= values.Length; i += Vector256<ushort>.Count)
                            {
                                var index = (Vector256.ShiftRightLogical(Vector256.LoadUnsafe(ref start, (nuint)i), shift) & vectorMask) ^ vectorFlip;
                                lowest = Vector256.Min(lowest, index);
                                highest = Vector256.Max(highest, index);
                            }

                            for (var lane = 0; lane < Vector256<ushort>.Count; lane++)
                            {
                                low = Math.Min(low, lowest.GetElement(lane));
                                high = Math.Max(high, highest.GetElement(lane));
                            }
                        }

                        for (; i < values.Length; i++)
                        {
                            var index = ((values[i] >> shift) & mask) ^ signFlip;
                            low = Math.Min(low, index);
                            high = Math.Max(high, index);
                        }

                        break;
                    }

                default:
                    for (long i = 0; i < samples; i++)
                    {
                        var index = Read(data, i);
                        low = Math.Min(low, index);
                        high = Math.Max(high, index);
                    }

                    break;
            }

            return low <= high ? (low, high) : (0, 0);
        }

        /// <summary>Whether samples are 2 bytes, little-endian: what <see cref="ByteTableLookup"/> reads.</summary>
        public bool HasTwoByteSamples => bytesPerSample == 2 && BitConverter.IsLittleEndian;

        /// <summary>Maps <paramref name="target"/>.Length 2-byte samples from <paramref name="first"/> through <paramref name="lookup"/>.</summary>
        public void MapRow(byte[] data, long first, ByteTableLookup lookup, Span<byte> target) =>
            lookup.Map(MemoryMarshal.Cast<byte, ushort>(data.AsSpan((int)(first * 2), target.Length * 2)), shift, mask, signFlip, target);

        /// <summary>Maps <paramref name="target"/>.Length samples from <paramref name="first"/> through <paramref name="table"/>.</summary>
        public void MapRow(byte[] data, long first, byte[] table, Span<byte> target)
        {
            if (table.Length <= mask)
            {
                throw new ArgumentException($"The table has {table.Length} entries; stored values go up to {mask}.", nameof(table));
            }

            switch (bytesPerSample)
            {
                case 1:
                    {
                        var source = data.AsSpan((int)first, target.Length);
                        for (var x = 0; x < target.Length; x++)
                        {
                            target[x] = table[((source[x] >> shift) & mask) ^ signFlip];
                        }

                        break;
                    }

                case 2:
                    {
                        // Indices are below 2^BitsStored = table.Length by construction: no bounds checks in the loop.
                        var source = MemoryMarshal.Cast<byte, ushort>(data.AsSpan((int)(first * 2), target.Length * 2));
                        ref var lookup = ref MemoryMarshal.GetArrayDataReference(table);
                        ref var output = ref MemoryMarshal.GetReference(target);
                        for (var x = 0; x < source.Length; x++)
                        {
                            var raw = BitConverter.IsLittleEndian ? source[x] : BinaryPrimitives.ReverseEndianness(source[x]);
                            Unsafe.Add(ref output, x) = Unsafe.Add(ref lookup, ((raw >> shift) & mask) ^ signFlip);
                        }

                        break;
                    }

                default:
                    for (var x = 0; x < target.Length; x++)
                    {
                        target[x] = table[Read(data, first + x)];
                    }

                    break;
            }
        }
    }
}
