using System.Globalization;
using Hounsfield.Dicom;

namespace Hounsfield.Imaging.Rendering;

/// <summary>
/// The Modality LUT stage (PS3.4 N.2.1.1, PS3.3 C.11.1): stored values to modality values, by Rescale Slope/Intercept
/// or by the Modality LUT Sequence (which takes precedence when present).
/// </summary>
internal sealed class ModalityTransform
{
    public static readonly ModalityTransform Identity = new(1, 0, null);

    public ModalityTransform(double slope, double intercept, LookupTable? lut)
    {
        Slope = slope;
        Intercept = intercept;
        Lut = lut;
    }

    public double Slope { get; }

    public double Intercept { get; }

    public LookupTable? Lut { get; }

    public bool IsIdentity => Lut is null && Slope == 1 && Intercept == 0;

    public double Apply(double stored) => Lut is not null ? Lut.Map((long)Math.Floor(stored)) : (stored * Slope) + Intercept;

    /// <summary>Smallest and largest output over stored values <paramref name="minStored"/>..<paramref name="maxStored"/>.</summary>
    public (double Min, double Max) Range(long minStored, long maxStored)
    {
        if (Lut is not null)
        {
            // The LUT's output range over the inputs it can receive.
            var min = double.MaxValue;
            var max = double.MinValue;
            var first = Math.Max(minStored, Lut.FirstMapped);
            var last = Math.Min(maxStored, (long)Lut.FirstMapped + Lut.Entries.Length - 1);
            if (first > last)
            {
                var value = Lut.Map(minStored);
                return (value, value);
            }

            for (var x = first; x <= last; x++)
            {
                var value = Lut.Entries[x - Lut.FirstMapped];
                min = Math.Min(min, value);
                max = Math.Max(max, value);
            }

            if (minStored < Lut.FirstMapped || maxStored > last)
            {
                min = Math.Min(min, Math.Min(Lut.Map(minStored), Lut.Map(maxStored)));
                max = Math.Max(max, Math.Max(Lut.Map(minStored), Lut.Map(maxStored)));
            }

            return (min, max);
        }

        var a = Apply(minStored);
        var b = Apply(maxStored);
        return (Math.Min(a, b), Math.Max(a, b));
    }

    /// <summary>
    /// The modality transform of <paramref name="frameIndex"/>: Pixel Value Transformation functional group (per-frame, then
    /// shared) for enhanced multi-frame images, else the top-level Modality LUT Sequence or Rescale Slope/Intercept.
    /// </summary>
    public static ModalityTransform FromDataset(DicomDataset dataset, int frameIndex, bool signedStored)
    {
        if (dataset.GetSequence(DicomTag.ModalityLUTSequence)?.Items is { Count: > 0 } items
            && LookupTable.Read(items[0], DicomTag.LUTDescriptor, DicomTag.LUTData, signedStored) is { } lut)
        {
            return new ModalityTransform(1, 0, lut);
        }

        var source = FunctionalGroups.Find(dataset, frameIndex, DicomTag.PixelValueTransformationSequence) ?? dataset;
        var slope = ReadDouble(source, DicomTag.RescaleSlope) ?? 1;
        var intercept = ReadDouble(source, DicomTag.RescaleIntercept) ?? 0;
        if (slope == 0 || !double.IsFinite(slope) || !double.IsFinite(intercept))
        {
            slope = 1;
            intercept = 0;
        }

        return new ModalityTransform(slope, intercept, null);
    }

    internal static double? ReadDouble(DicomDataset dataset, DicomTag tag, int index = 0)
    {
        try
        {
            return dataset.TryGetValue<double>(tag, out var value, index) ? value : null;
        }
        catch (Exception ex) when (ex is DicomFormatException or InvalidOperationException or FormatException or OverflowException)
        {
            return null;
        }
    }
}

/// <summary>
/// The VOI LUT stage (PS3.4 N.2.1.3) followed by the polarity of the Presentation LUT stage: modality values to display
/// values 0..255. Outputs are the exact value of the standard's formula truncated (floor) to an integer, inverted values
/// being 255 minus it before truncation, as DCMTK quantizes (so renders match dcm2pnm's).
/// </summary>
internal abstract class VoiTransform
{
    public const int OutputMax = 255;

    /// <summary>The output level of modality value <paramref name="x"/>, inverted (MONOCHROME1 / INVERSE) or not.</summary>
    public abstract int Map(double x, bool invert);

    /// <summary>A window (PS3.3 C.11.2.1.2 LINEAR, C.11.2.1.3.2 LINEAR_EXACT, C.11.2.1.3.1 SIGMOID).</summary>
    public static VoiTransform Window(double center, double width, VoiFunction function) => function switch
    {
        VoiFunction.LinearExact => new LinearExactWindow(center, width > 0 ? width : double.Epsilon),
        VoiFunction.Sigmoid => new SigmoidWindow(center, width > 0 ? width : double.Epsilon),
        _ => new LinearWindow(center, Math.Max(width, 1)),
    };

    public static VoiFunction ParseFunction(string? value) => value?.Trim().ToUpperInvariant() switch
    {
        "LINEAR_EXACT" => VoiFunction.LinearExact,
        "SIGMOID" => VoiFunction.Sigmoid,
        _ => VoiFunction.Linear,
    };

    /// <summary>floor(a × g), or floor(255 - a × g) when inverted, of the exact product (not of its rounded double).</summary>
    protected static int Product(double a, double g, bool invert)
    {
        var p = a * g;
        var residual = Math.FusedMultiplyAdd(a, g, -p);
        double level;
        if (!invert)
        {
            level = Math.Floor(p);
            if (level == p && residual < 0)
            {
                level -= 1;
            }
        }
        else
        {
            var ceiling = Math.Ceiling(p);
            if (ceiling == p && residual > 0)
            {
                ceiling += 1;
            }

            level = OutputMax - ceiling;
        }

        return Clamp(level);
    }

    /// <summary>floor(y) or floor(255 - y).</summary>
    protected static int Level(double y, bool invert) => Clamp(Math.Floor(invert ? OutputMax - y : y));

    protected static int Clamp(double level) => level <= 0 ? 0 : level >= OutputMax ? OutputMax : (int)level;

    protected static int Low(bool invert) => invert ? OutputMax : 0;

    protected static int High(bool invert) => invert ? 0 : OutputMax;

    /// <summary>
    /// C.11.2.1.2.1: y = ((x - (c - 0.5)) / (w - 1) + 0.5) * (ymax - ymin) + ymin inside the window, i.e.
    /// (x - (c - 0.5 - (w - 1) / 2)) * 255 / (w - 1); ymin at or below c - 0.5 - (w - 1) / 2, ymax above c - 0.5 + (w - 1) / 2.
    /// </summary>
    private sealed class LinearWindow(double center, double width) : VoiTransform
    {
        private readonly double low = center - 0.5 - ((width - 1) / 2);
        private readonly double high = center - 0.5 + ((width - 1) / 2);
        private readonly double gradient = width > 1 ? OutputMax / (width - 1) : 0;

        public override int Map(double x, bool invert) =>
            x <= low ? Low(invert)
            : x > high ? High(invert)
            : Product(x - low, gradient, invert);
    }

    /// <summary>C.11.2.1.3.2: y = ((x - c) / w + 0.5) * (ymax - ymin) + ymin inside the window.</summary>
    private sealed class LinearExactWindow(double center, double width) : VoiTransform
    {
        public override int Map(double x, bool invert) =>
            x <= center - (width / 2) ? Low(invert)
            : x > center + (width / 2) ? High(invert)
            : Level((((x - center) / width) + 0.5) * OutputMax, invert);
    }

    /// <summary>C.11.2.1.3.1: y = (ymax - ymin) / (1 + exp(-4 (x - c) / w)) + ymin.</summary>
    private sealed class SigmoidWindow(double center, double width) : VoiTransform
    {
        public override int Map(double x, bool invert) => Level(OutputMax / (1 + Math.Exp(-4 * (x - center) / width)), invert);
    }
}

/// <summary>
/// A VOI LUT (PS3.3 C.11.2.1.1): entries of n bits cut into 256 bins, entry × 256 / 2^n (inverted: as dcm2pnm,
/// 255 - entry × 254 / 2^n), truncated. A LUT declaring 16 bits whose entries all fit in 8 is read as 8-bit.
/// </summary>
internal sealed class VoiLutTransform(LookupTable lut) : VoiTransform
{
    private readonly long range = 1L << lut.EffectiveBits;

    public override int Map(double x, bool invert)
    {
        long entry = lut.Map((long)Math.Floor(x));
        return Clamp(invert
            ? OutputMax - (((entry * (OutputMax - 1)) + range - 1) / range)
            : entry * (OutputMax + 1) / range);
    }
}

/// <summary>
/// No VOI: the range min..max of modality values cut into 256 equal bins, 0 to 255 (as dcm2pnm without a VOI option:
/// (x - min) × 256 / (max - min + 1), truncated). Inverted, it is dcm2pnm's 255 - (x - min) × 254 / (max - min + 1)
/// (DCMTK's output range for a descending ramp is one level short), so that MONOCHROME1 renders match too.
/// </summary>
internal sealed class RangeTransform(double min, double max) : VoiTransform
{
    private readonly double gradient = (OutputMax + 1) / (max - min + 1);
    private readonly double invertedGradient = (OutputMax - 1) / (max - min + 1);

    public override int Map(double x, bool invert)
    {
        if (x <= min)
        {
            return Low(invert);
        }

        if (!invert)
        {
            return x >= max + 1 ? OutputMax : Product(x - min, gradient, false);
        }

        // floor(255 - a × g) of the exact product.
        return Product(x - min, invertedGradient, true);
    }
}

/// <summary>Functional group macros (PS3.3 C.7.6.16) of enhanced multi-frame images: per-frame before shared.</summary>
internal static class FunctionalGroups
{
    /// <summary>The first item of <paramref name="macro"/> in the frame's per-frame group, else in the shared group; null when neither has it.</summary>
    public static DicomDataset? Find(DicomDataset dataset, int frameIndex, DicomTag macro)
    {
        if (dataset.GetSequence(DicomTag.PerFrameFunctionalGroupsSequence)?.Items is { } perFrame
            && frameIndex >= 0 && frameIndex < perFrame.Count
            && perFrame[frameIndex].GetSequence(macro)?.Items is { Count: > 0 } frameItems)
        {
            return frameItems[0];
        }

        if (dataset.GetSequence(DicomTag.SharedFunctionalGroupsSequence)?.Items is { Count: > 0 } shared
            && shared[0].GetSequence(macro)?.Items is { Count: > 0 } sharedItems)
        {
            return sharedItems[0];
        }

        return null;
    }
}

/// <summary>A window read from a data set: centre, width, function and explanation.</summary>
internal readonly record struct StoredWindow(double Center, double Width, VoiFunction Function)
{
    /// <summary>Window <paramref name="index"/> of Window Center / Width (0028,1050/1051) in <paramref name="item"/>, if valid.</summary>
    public static StoredWindow? Read(DicomDataset item, int index = 0)
    {
        var center = ModalityTransform.ReadDouble(item, DicomTag.WindowCenter, index);
        var width = ModalityTransform.ReadDouble(item, DicomTag.WindowWidth, index);
        if (center is null || width is null || !(width > 0) || !double.IsFinite(center.Value))
        {
            return null;
        }

        var function = VoiTransform.ParseFunction(item.GetStrings(DicomTag.VOILUTFunction).FirstOrDefault());
        return new StoredWindow(center.Value, width.Value, function);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Center},{Width} {Function}");
}
