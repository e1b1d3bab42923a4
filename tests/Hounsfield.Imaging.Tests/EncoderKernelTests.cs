using Hounsfield.Imaging.Decoders;
using Hounsfield.Imaging.Encoders;

namespace Hounsfield.Imaging.Tests;

/// <summary>
/// The vectorised kernels of the PNG and JPEG writers against plain reference computations: the PNG row filters and
/// their selection (RFC 2083 §6, §9.6), the JPEG AAN transform and quantization against the T.81 A.3.3 DCT.
/// </summary>
public sealed class EncoderKernelTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 15)]
    [InlineData(1, 16)]
    [InlineData(1, 17)]
    [InlineData(1, 512)]
    [InlineData(2, 514)]
    [InlineData(3, 301 * 3)]
    [InlineData(3, 4000 * 3)] // long enough for the 16-bit lane sums to be flushed mid-row
    public void PngFilterRowMatchesTheScalarDefinition(int bpp, int length)
    {
        var random = new Random(length * 7 + bpp);
        foreach (var kind in new[] { "noise", "smooth", "saturated" })
        {
            var stride = bpp + length + 16;
            var current = new byte[stride];
            var previous = new byte[stride];
            for (var i = 0; i < length; i++)
            {
                (current[bpp + i], previous[bpp + i]) = kind switch
                {
                    "noise" => ((byte)random.Next(256), (byte)random.Next(256)),
                    "smooth" => ((byte)((i / bpp) + random.Next(3)), (byte)((i / bpp) + random.Next(3) + 1)),
                    _ => ((byte)(random.Next(2) * 255), (byte)(random.Next(2) * 255)),
                };
            }

            var candidates = new byte[5 * stride];
            var best = PngEncoder.FilterRow(current, previous, bpp, length, stride, candidates);
            var (expectedBest, expectedRows) = ReferenceFilter(current.AsSpan(bpp, length).ToArray(), previous.AsSpan(bpp, length).ToArray(), bpp);
            Assert.Equal(expectedBest, best);
            for (var f = 1; f < 5; f++)
            {
                Assert.Equal(expectedRows[f], candidates.AsSpan(f * stride, length).ToArray());
            }
        }
    }

    [Fact]
    public void PngOfAGradientImageRoundTripsAtEveryLevel()
    {
        // Gradients make Sub / Up / Average / Paeth win over None on most rows.
        var image = ImageEncoderTests.Synthetic(333, 77, 3, seed: 5);
        foreach (var level in new[] { System.IO.Compression.CompressionLevel.Fastest, System.IO.Compression.CompressionLevel.Optimal, System.IO.Compression.CompressionLevel.SmallestSize })
        {
            Assert.Equal(image.Pixels, PngDecoder.Decode(PngEncoder.Encode(image, level)).Samples);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void JpegTransformQuantizesAsTheDefiningDctWithinOne(bool vector)
    {
        var random = new Random(vector ? 11 : 12);
        var table = new int[64];
        for (var i = 0; i < 64; i++)
        {
            table[i] = 1 + random.Next(i < 8 ? 4 : 40);
        }

        var quantizer = new JpegEncoder.Quantizer(table);
        var samples = new float[64];
        var output = new short[64];
        var scratch = new short[64];
        var differences = 0;
        for (var trial = 0; trial < 500; trial++)
        {
            var source = new int[64];
            for (var i = 0; i < 64; i++)
            {
                source[i] = trial % 3 == 0 ? random.Next(256) : Math.Clamp(((i % 8) * 30) + ((i / 8) * trial % 17) + random.Next(8), 0, 255);
                samples[i] = source[i] - 128;
            }

            var mask = JpegEncoder.TransformAndQuantize(samples, quantizer, output, scratch, vector);
            var expected = ReferenceDct(source, table);
            for (var k = 0; k < 64; k++)
            {
                Assert.True(Math.Abs(expected[k] - output[k]) <= 1, $"trial {trial}, coefficient {k}: {output[k]}, expected {expected[k]}");
                differences += expected[k] != output[k] ? 1 : 0;
                Assert.Equal(output[k] != 0, (mask & (1UL << k)) != 0);
            }
        }

        // Only values within float error of a rounding boundary may differ.
        Assert.True(differences < 500 * 64 / 200, $"{differences} coefficients differ from the exact DCT");
    }

    /// <summary>RFC 2083 §6 filters of a row and the §9.6 choice: least sum of absolute values as signed bytes, ties to the lower type.</summary>
    private static (int Best, byte[][] Rows) ReferenceFilter(byte[] row, byte[] previous, int bpp)
    {
        var rows = new byte[5][];
        var sums = new long[5];
        for (var f = 0; f < 5; f++)
        {
            rows[f] = new byte[row.Length];
            for (var i = 0; i < row.Length; i++)
            {
                int a = i >= bpp ? row[i - bpp] : 0, b = previous[i], c = i >= bpp ? previous[i - bpp] : 0;
                var predictor = f switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    _ => Paeth(a, b, c),
                };
                rows[f][i] = (byte)(row[i] - predictor);
                sums[f] += Math.Abs((int)(sbyte)rows[f][i]);
            }
        }

        var best = 0;
        for (var f = 1; f < 5; f++)
        {
            if (sums[f] < sums[best])
            {
                best = f;
            }
        }

        return (best, rows);

        static int Paeth(int a, int b, int c)
        {
            int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
            return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        }
    }

    /// <summary>T.81 A.3.3 FDCT in double precision of level-shifted samples, quantized (F.1.1.4: rounded to nearest) in zig-zag order.</summary>
    private static int[] ReferenceDct(int[] samples, int[] table)
    {
        var zigzag = new int[64];
        int row = 0, column = 0;
        for (var k = 0; k < 64; k++)
        {
            zigzag[k] = (row * 8) + column;
            if (((row + column) & 1) == 0)
            {
                if (column == 7) { row++; } else if (row == 0) { column++; } else { row--; column++; }
            }
            else
            {
                if (row == 7) { column++; } else if (column == 0) { row++; } else { row++; column--; }
            }
        }

        var result = new int[64];
        for (var k = 0; k < 64; k++)
        {
            int v = zigzag[k] / 8, u = zigzag[k] % 8;
            double sum = 0;
            for (var y = 0; y < 8; y++)
            {
                for (var x = 0; x < 8; x++)
                {
                    sum += (samples[(y * 8) + x] - 128) * Math.Cos(((2 * x) + 1) * u * Math.PI / 16) * Math.Cos(((2 * y) + 1) * v * Math.PI / 16);
                }
            }

            var coefficient = sum / 4 * (u == 0 ? Math.Sqrt(0.5) : 1) * (v == 0 ? Math.Sqrt(0.5) : 1);
            result[k] = (int)Math.Round(coefficient / table[zigzag[k]], MidpointRounding.AwayFromZero);
        }

        return result;
    }
}
