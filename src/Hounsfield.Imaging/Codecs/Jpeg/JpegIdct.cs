namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// The inverse DCT of T.81 A.3.3, computed in integer arithmetic as the accurate ("islow") method of the Independent
/// JPEG Group's library computes it, so that our output equals the reference decoders' (DCMTK uses that library):
/// a separable 8-point transform after Loeffler, Ligtenberg and Moschytz with 13-bit fixed-point constants,
/// columns first with <c>pass1Bits</c> of extra precision, then rows, then level shift and clamping through a
/// range-limit table that folds wild out-of-range values the way that library does.
/// </summary>
internal static class JpegIdct
{
    private const int ConstBits = 13;

    // The constants of the transform: round(x * 2^13).
    private const long Fix0298631336 = 2446;
    private const long Fix0390180644 = 3196;
    private const long Fix0541196100 = 4433;
    private const long Fix0765366865 = 6270;
    private const long Fix0899976223 = 7373;
    private const long Fix1175875602 = 9633;
    private const long Fix1501321110 = 12299;
    private const long Fix1847759065 = 15137;
    private const long Fix1961570560 = 16069;
    private const long Fix2053119869 = 16819;
    private const long Fix2562915447 = 20995;
    private const long Fix3072711026 = 25172;

    /// <summary>
    /// The post-IDCT range-limit table for <paramref name="precision"/>-bit samples, indexed by
    /// <c>value &amp; (table.Length - 1)</c> where value is the centred IDCT output: adds the level shift and clamps
    /// to [0, 2^P - 1] for values within ±2^(P+1), and wraps beyond.
    /// </summary>
    public static ushort[] CreateRangeLimit(int precision)
    {
        var m = 1 << precision;
        var center = m / 2;
        var table = new ushort[4 * m];
        for (var j = 0; j < table.Length; j++)
        {
            table[j] = j < center ? (ushort)(j + center)
                : j < 2 * m ? (ushort)(m - 1)
                : j < (4 * m) - center ? (ushort)0
                : (ushort)(j - ((4 * m) - center));
        }

        return table;
    }

    /// <summary>The output of a block whose only non-zero coefficient is DC.</summary>
    public static ushort DcOnly(int dc, int quant, int pass1Bits, ushort[] range)
    {
        long value = (long)dc * quant << pass1Bits;
        return range[(int)((value + (1L << (pass1Bits + 2))) >> (pass1Bits + 3)) & (range.Length - 1)];
    }

    /// <summary>
    /// Dequantizes and inverse-transforms one block: <paramref name="coefficients"/> and <paramref name="quant"/> are in
    /// natural (row-major) order; the 8×8 samples go to <paramref name="output"/> with <paramref name="stride"/> samples a row.
    /// </summary>
    public static void Transform(ReadOnlySpan<short> coefficients, ReadOnlySpan<ushort> quant, Span<ushort> output, int stride, int pass1Bits, ushort[] range, Span<int> workspace)
    {
        coefficients = coefficients[..64];
        quant = quant[..64];
        workspace = workspace[..64];
        var mask = range.Length - 1;

        // Pass 1: columns, from the coefficients into the workspace, scaled up by pass1Bits.
        var shift1 = ConstBits - pass1Bits;
        var round1 = 1L << (shift1 - 1);
        for (var c = 0; c < 8; c++)
        {
            if (coefficients[8 + c] == 0 && coefficients[16 + c] == 0 && coefficients[24 + c] == 0 && coefficients[32 + c] == 0
                && coefficients[40 + c] == 0 && coefficients[48 + c] == 0 && coefficients[56 + c] == 0)
            {
                var dc = (int)((long)coefficients[c] * quant[c] << pass1Bits);
                for (var r = 0; r < 64; r += 8)
                {
                    workspace[r + c] = dc;
                }

                continue;
            }

            // Even part.
            long z2 = (long)coefficients[16 + c] * quant[16 + c];
            long z3 = (long)coefficients[48 + c] * quant[48 + c];
            var z1 = (z2 + z3) * Fix0541196100;
            var tmp2 = z1 + (z3 * -Fix1847759065);
            var tmp3 = z1 + (z2 * Fix0765366865);

            z2 = (long)coefficients[c] * quant[c];
            z3 = (long)coefficients[32 + c] * quant[32 + c];
            var tmp0 = (z2 + z3) << ConstBits;
            var tmp1 = (z2 - z3) << ConstBits;

            var tmp10 = tmp0 + tmp3;
            var tmp13 = tmp0 - tmp3;
            var tmp11 = tmp1 + tmp2;
            var tmp12 = tmp1 - tmp2;

            // Odd part.
            tmp0 = (long)coefficients[56 + c] * quant[56 + c];
            tmp1 = (long)coefficients[40 + c] * quant[40 + c];
            tmp2 = (long)coefficients[24 + c] * quant[24 + c];
            tmp3 = (long)coefficients[8 + c] * quant[8 + c];
            Odd(ref tmp0, ref tmp1, ref tmp2, ref tmp3);

            workspace[c] = (int)((tmp10 + tmp3 + round1) >> shift1);
            workspace[56 + c] = (int)((tmp10 - tmp3 + round1) >> shift1);
            workspace[8 + c] = (int)((tmp11 + tmp2 + round1) >> shift1);
            workspace[48 + c] = (int)((tmp11 - tmp2 + round1) >> shift1);
            workspace[16 + c] = (int)((tmp12 + tmp1 + round1) >> shift1);
            workspace[40 + c] = (int)((tmp12 - tmp1 + round1) >> shift1);
            workspace[24 + c] = (int)((tmp13 + tmp0 + round1) >> shift1);
            workspace[32 + c] = (int)((tmp13 - tmp0 + round1) >> shift1);
        }

        // Pass 2: rows, from the workspace to the samples; removes pass1Bits and the factor 8 of the transform.
        var shift2 = ConstBits + pass1Bits + 3;
        var round2 = 1L << (shift2 - 1);
        for (var r = 0; r < 8; r++)
        {
            var w = workspace.Slice(r * 8, 8);
            var o = output.Slice(r * stride, 8);
            if ((w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) == 0)
            {
                o.Fill(range[(int)((w[0] + (1L << (pass1Bits + 2))) >> (pass1Bits + 3)) & mask]);
                continue;
            }

            long z2 = w[2];
            long z3 = w[6];
            var z1 = (z2 + z3) * Fix0541196100;
            var tmp2 = z1 + (z3 * -Fix1847759065);
            var tmp3 = z1 + (z2 * Fix0765366865);

            var tmp0 = ((long)w[0] + w[4]) << ConstBits;
            var tmp1 = ((long)w[0] - w[4]) << ConstBits;

            var tmp10 = tmp0 + tmp3;
            var tmp13 = tmp0 - tmp3;
            var tmp11 = tmp1 + tmp2;
            var tmp12 = tmp1 - tmp2;

            tmp0 = w[7];
            tmp1 = w[5];
            tmp2 = w[3];
            tmp3 = w[1];
            Odd(ref tmp0, ref tmp1, ref tmp2, ref tmp3);

            o[0] = range[(int)((tmp10 + tmp3 + round2) >> shift2) & mask];
            o[7] = range[(int)((tmp10 - tmp3 + round2) >> shift2) & mask];
            o[1] = range[(int)((tmp11 + tmp2 + round2) >> shift2) & mask];
            o[6] = range[(int)((tmp11 - tmp2 + round2) >> shift2) & mask];
            o[2] = range[(int)((tmp12 + tmp1 + round2) >> shift2) & mask];
            o[5] = range[(int)((tmp12 - tmp1 + round2) >> shift2) & mask];
            o[3] = range[(int)((tmp13 + tmp0 + round2) >> shift2) & mask];
            o[4] = range[(int)((tmp13 - tmp0 + round2) >> shift2) & mask];
        }
    }

    /// <summary>The odd part of the 8-point transform: in are the inputs 7, 5, 3, 1; out are the terms for outputs 3/4, 2/5, 1/6, 0/7.</summary>
    private static void Odd(ref long tmp0, ref long tmp1, ref long tmp2, ref long tmp3)
    {
        var z1 = tmp0 + tmp3;
        var z2 = tmp1 + tmp2;
        var z3 = tmp0 + tmp2;
        var z4 = tmp1 + tmp3;
        var z5 = (z3 + z4) * Fix1175875602;

        tmp0 *= Fix0298631336;
        tmp1 *= Fix2053119869;
        tmp2 *= Fix3072711026;
        tmp3 *= Fix1501321110;
        z1 *= -Fix0899976223;
        z2 *= -Fix2562915447;
        z3 *= -Fix1961570560;
        z4 *= -Fix0390180644;

        z3 += z5;
        z4 += z5;

        tmp0 += z1 + z3;
        tmp1 += z2 + z4;
        tmp2 += z2 + z3;
        tmp3 += z1 + z4;
    }
}
