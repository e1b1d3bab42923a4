namespace Hounsfield.Imaging.Rendering;

/// <summary>
/// Resizes rendered images in two separable passes: downscaling averages the exact area each output pixel covers
/// (a box filter with fractional edge weights, so no source pixel is skipped); upscaling interpolates bilinearly.
/// </summary>
internal static class Resampler
{
    public static RenderedImage Resize(RenderedImage source, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        var channels = source.Channels;
        var horizontal = Contributions.Create(source.Width, width);
        var vertical = Contributions.Create(source.Height, height);

        // Pass 1: each source row to the output width.
        var temp = new float[source.Height * width * channels];
        var pixels = source.Pixels;
        for (var y = 0; y < source.Height; y++)
        {
            var sourceRow = y * source.Width * channels;
            var tempRow = y * width * channels;
            for (var x = 0; x < width; x++)
            {
                var start = horizontal.Start[x];
                var n = horizontal.Count[x];
                var weights = horizontal.Weights.AsSpan(x * horizontal.Stride, n);
                for (var c = 0; c < channels; c++)
                {
                    var sum = 0f;
                    for (var k = 0; k < n; k++)
                    {
                        sum += pixels[sourceRow + ((start + k) * channels) + c] * weights[k];
                    }

                    temp[tempRow + (x * channels) + c] = sum;
                }
            }
        }

        // Pass 2: columns to the output height.
        var output = new byte[width * height * channels];
        var rowLength = width * channels;
        var accumulator = new float[rowLength];
        for (var y = 0; y < height; y++)
        {
            Array.Clear(accumulator);
            var start = vertical.Start[y];
            var n = vertical.Count[y];
            for (var k = 0; k < n; k++)
            {
                var weight = vertical.Weights[(y * vertical.Stride) + k];
                var tempRow = temp.AsSpan((start + k) * rowLength, rowLength);
                for (var i = 0; i < rowLength; i++)
                {
                    accumulator[i] += tempRow[i] * weight;
                }
            }

            var target = output.AsSpan(y * rowLength, rowLength);
            for (var i = 0; i < rowLength; i++)
            {
                var value = accumulator[i];
                target[i] = value <= 0 ? (byte)0 : value >= 255 ? (byte)255 : (byte)(value + 0.5f);
            }
        }

        return new RenderedImage(width, height, channels, output);
    }

    /// <summary>For each output index: the first source index, how many follow, and their weights (summing to 1).</summary>
    private sealed class Contributions
    {
        private Contributions(int outputLength, int stride)
        {
            Start = new int[outputLength];
            Count = new int[outputLength];
            Stride = stride;
            Weights = new float[outputLength * stride];
        }

        public int[] Start { get; }

        public int[] Count { get; }

        public int Stride { get; }

        public float[] Weights { get; }

        public static Contributions Create(int sourceLength, int outputLength)
        {
            var scale = (double)sourceLength / outputLength;
            if (scale <= 1)
            {
                // Bilinear, sample centres aligned.
                var result = new Contributions(outputLength, 2);
                for (var o = 0; o < outputLength; o++)
                {
                    var center = ((o + 0.5) * scale) - 0.5;
                    var i0 = (int)Math.Floor(center);
                    var t = (float)(center - i0);
                    var a = Math.Clamp(i0, 0, sourceLength - 1);
                    var b = Math.Clamp(i0 + 1, 0, sourceLength - 1);
                    result.Start[o] = a;
                    if (b == a || t == 0)
                    {
                        result.Count[o] = 1;
                        result.Weights[o * 2] = 1;
                    }
                    else
                    {
                        result.Count[o] = 2;
                        result.Weights[o * 2] = 1 - t;
                        result.Weights[(o * 2) + 1] = t;
                    }
                }

                return result;
            }

            // Area average: output o covers source [o*scale, (o+1)*scale).
            var stride = (int)Math.Ceiling(scale) + 1;
            var area = new Contributions(outputLength, stride);
            for (var o = 0; o < outputLength; o++)
            {
                var begin = o * scale;
                var end = Math.Min(sourceLength, (o + 1) * scale);
                var first = (int)Math.Floor(begin);
                var last = Math.Min(sourceLength - 1, (int)Math.Ceiling(end) - 1);
                area.Start[o] = first;
                var n = 0;
                for (var i = first; i <= last && n < stride; i++, n++)
                {
                    var overlap = Math.Min(i + 1, end) - Math.Max(i, begin);
                    area.Weights[(o * stride) + n] = (float)(Math.Max(0, overlap) / (end - begin));
                }

                area.Count[o] = n;
            }

            return area;
        }
    }
}
