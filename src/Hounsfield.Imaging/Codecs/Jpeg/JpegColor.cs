using System.Collections.Concurrent;

namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// Upsampling of subsampled components and the YCbCr to RGB conversion (T.81 leaves both to the application; JFIF
/// and PS3.5 §8.2.1 define the colour space), computed the way the Independent JPEG Group's library computes them
/// by default, so that our output equals DCMTK's: "fancy" triangular upsampling for 2:1 horizontal (and 2:1 both
/// ways) when the component is wider than two samples, plain replication otherwise, edges replicated; and the
/// conversion in 16-bit fixed point with rounding tables.
/// </summary>
internal static class JpegColor
{
    private const int ScaleBits = 16;
    private const int OneHalf = 1 << (ScaleBits - 1);

    private static readonly ConcurrentDictionary<int, YccTables> Tables = new();

    internal sealed class YccTables
    {
        public YccTables(int precision)
        {
            var m = 1 << precision;
            var center = m / 2;
            CrR = new int[m];
            CbB = new int[m];
            CrG = new int[m];
            CbG = new int[m];
            Max = m - 1;
            for (int i = 0, x = -center; i < m; i++, x++)
            {
                CrR[i] = (int)(((Fix(1.40200) * x) + OneHalf) >> ScaleBits);
                CbB[i] = (int)(((Fix(1.77200) * x) + OneHalf) >> ScaleBits);
                CrG[i] = (int)(-Fix(0.71414) * x);
                CbG[i] = (int)((-Fix(0.34414) * x) + OneHalf);
            }
        }

        public int[] CrR { get; }

        public int[] CbB { get; }

        public int[] CrG { get; }

        public int[] CbG { get; }

        public int Max { get; }

        private static long Fix(double x) => (long)((x * (1L << ScaleBits)) + 0.5);
    }

    public static YccTables GetTables(int precision) => Tables.GetOrAdd(precision, p => new YccTables(p));

    /// <summary>Converts one row of Y, Cb, Cr samples to R, G, B in place (JFIF / PS3.3 C.7.6.3.1.2 YBR_FULL).</summary>
    public static void YccToRgb(Span<ushort> y, Span<ushort> cb, Span<ushort> cr, YccTables t)
    {
        var max = t.Max;
        for (var i = 0; i < y.Length; i++)
        {
            int luma = y[i];
            int b = cb[i] & max;
            int r = cr[i] & max;
            y[i] = (ushort)Math.Clamp(luma + t.CrR[r], 0, max);
            cb[i] = (ushort)Math.Clamp(luma + ((t.CbG[b] + t.CrG[r]) >> ScaleBits), 0, max);
            cr[i] = (ushort)Math.Clamp(luma + t.CbB[b], 0, max);
        }
    }

    /// <summary>
    /// Produces output row <paramref name="y"/> (full resolution) of a component stored at reduced resolution:
    /// <paramref name="plane"/> with <paramref name="stride"/>, of which the first <paramref name="dw"/> ×
    /// <paramref name="dh"/> samples are real; the component is <paramref name="hFactor"/> × <paramref name="vFactor"/>
    /// times smaller than the image. <paramref name="output"/> must hold <c>dw * hFactor</c> samples (it may be a
    /// little wider than the image).
    /// </summary>
    public static void UpsampleRow(ReadOnlySpan<ushort> plane, int stride, int dw, int dh, int hFactor, int vFactor, bool fancy, int y, Span<ushort> output)
    {
        var width = dw * hFactor;
        var iy = Math.Min(y / vFactor, dh - 1);
        var row = plane.Slice(iy * stride, dw);
        if (fancy && hFactor == 2 && vFactor == 1 && dw > 2)
        {
            H2V1Fancy(row, output);
            return;
        }

        if (fancy && hFactor == 2 && vFactor == 2 && dw > 2)
        {
            // The nearer row is this one; the further is the row above for even output rows, below for odd ones.
            var ny = (y & 1) == 0 ? Math.Max(iy - 1, 0) : Math.Min(iy + 1, dh - 1);
            H2V2Fancy(row, plane.Slice(ny * stride, dw), output);
            return;
        }

        // Replication.
        for (var x = 0; x < width; x++)
        {
            output[x] = row[Math.Min(x / hFactor, dw - 1)];
        }
    }

    private static void H2V1Fancy(ReadOnlySpan<ushort> input, Span<ushort> output)
    {
        var dw = input.Length;

        // Each output sample: 3/4 of the nearer input sample plus 1/4 of the further, alternating rounding.
        output[0] = input[0];
        output[1] = (ushort)(((input[0] * 3) + input[1] + 2) >> 2);
        for (var i = 1; i < dw - 1; i++)
        {
            var value = input[i] * 3;
            output[2 * i] = (ushort)((value + input[i - 1] + 1) >> 2);
            output[(2 * i) + 1] = (ushort)((value + input[i + 1] + 2) >> 2);
        }

        output[2 * (dw - 1)] = (ushort)(((input[dw - 1] * 3) + input[dw - 2] + 1) >> 2);
        output[(2 * (dw - 1)) + 1] = input[dw - 1];
    }

    private static void H2V2Fancy(ReadOnlySpan<ushort> nearer, ReadOnlySpan<ushort> further, Span<ushort> output)
    {
        var dw = nearer.Length;

        var thisSum = (nearer[0] * 3) + further[0];
        var nextSum = (nearer[1] * 3) + further[1];
        output[0] = (ushort)(((thisSum * 4) + 8) >> 4);
        output[1] = (ushort)(((thisSum * 3) + nextSum + 7) >> 4);
        var lastSum = thisSum;
        thisSum = nextSum;
        for (var i = 1; i < dw - 1; i++)
        {
            nextSum = (nearer[i + 1] * 3) + further[i + 1];
            output[2 * i] = (ushort)(((thisSum * 3) + lastSum + 8) >> 4);
            output[(2 * i) + 1] = (ushort)(((thisSum * 3) + nextSum + 7) >> 4);
            lastSum = thisSum;
            thisSum = nextSum;
        }

        output[2 * (dw - 1)] = (ushort)(((thisSum * 3) + lastSum + 8) >> 4);
        output[(2 * (dw - 1)) + 1] = (ushort)(((thisSum * 4) + 7) >> 4);
    }
}
