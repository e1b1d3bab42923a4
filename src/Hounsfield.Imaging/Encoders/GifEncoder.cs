using Hounsfield.Imaging.Rendering;

namespace Hounsfield.Imaging.Encoders;

/// <summary>How <see cref="GifEncoder"/> reduces RGB images to a 256-colour palette.</summary>
public enum GifQuantizer
{
    /// <summary>The image's own colours when there are at most 256, else a median-cut palette of all frames' colours.</summary>
    MedianCut,

    /// <summary>A fixed 6 × 7 × 6 levels palette (252 colours), without looking at the image.</summary>
    Fixed676,
}

/// <summary>Options of <see cref="GifEncoder"/>.</summary>
public sealed record GifOptions
{
    /// <summary>Delay between frames, in hundredths of a second (GIF89a Graphic Control Extension). Default 10 (100 ms).</summary>
    public int DelayCentiseconds { get; init; } = 10;

    /// <summary>Animation repeats (NETSCAPE2.0 extension), 0 = forever (default); ignored for a single frame.</summary>
    public int LoopCount { get; init; }

    public GifQuantizer Quantizer { get; init; } = GifQuantizer.MedianCut;
}

/// <summary>
/// Writes GIF89a images: one frame, or several frames as an animation (Graphic Control Extension delays, NETSCAPE2.0
/// looping). Gray frames use a 256-level gray palette (exact); RGB frames one palette shared by all frames. Image data is
/// LZW-compressed with variable-length codes (GIF89a Appendix F), starting at 9 bits, up to 12, with a clear code when
/// the code table is full.
/// </summary>
public static class GifEncoder
{
    public static byte[] Encode(RenderedImage image, GifOptions? options = null) => Encode([image], options);

    public static byte[] Encode(IReadOnlyList<RenderedImage> frames, GifOptions? options = null)
    {
        using var memory = new MemoryStream();
        Encode(memory, frames, options);
        return memory.ToArray();
    }

    /// <summary>Writes <paramref name="frames"/> (all the size of the first, all gray or all RGB) as one GIF to <paramref name="stream"/>.</summary>
    public static void Encode(Stream stream, IReadOnlyList<RenderedImage> frames, GifOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(frames);
        options ??= new GifOptions();
        if (frames.Count == 0)
        {
            throw new ArgumentException("A GIF needs at least one frame.", nameof(frames));
        }

        // Checked before anything is written, so that a mismatched list leaves nothing in the stream.
        foreach (var frame in frames)
        {
            GifAnimationWriter.CheckShape(frames[0].Width, frames[0].Height, frames[0].IsColor, frame, nameof(frames));
        }

        var palette = frames[0].IsColor ? ColorPalette.Create(frames, options.Quantizer) : null;
        var writer = new GifAnimationWriter(stream, frames[0], frames.Count > 1, palette, options);
        foreach (var frame in frames)
        {
            writer.Write(frame);
        }

        writer.Finish();
    }

    /// <summary>
    /// Starts a GIF written one frame at a time, so that only the frame being written is held in memory (an animation of
    /// a long cine). The first of <paramref name="paletteSamples"/> sets the size and colour type. Gray frames are exact;
    /// RGB frames are mapped to a palette chosen from the samples (a few frames spread over the animation) that also
    /// covers colours only other frames have. Write every frame, then <see cref="GifAnimationWriter.Finish"/>.
    /// </summary>
    public static GifAnimationWriter BeginAnimation(Stream stream, IReadOnlyList<RenderedImage> paletteSamples, GifOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(paletteSamples);
        if (paletteSamples.Count == 0)
        {
            throw new ArgumentException("At least one frame is needed to start a GIF.", nameof(paletteSamples));
        }

        options ??= new GifOptions();
        var first = paletteSamples[0];
        return new GifAnimationWriter(stream, first, animated: true, first.IsColor ? ColorPalette.CreateCovering(paletteSamples, options.Quantizer) : null, options);
    }

    /// <summary>A GIF being written frame by frame (see <see cref="BeginAnimation"/>).</summary>
    public sealed class GifAnimationWriter
    {
        private readonly Stream output;
        private readonly int width;
        private readonly int height;
        private readonly bool color;
        private readonly bool animated;
        private readonly ColorPalette? palette;
        private readonly GifOptions options;
        private readonly byte[] indices;
        private readonly LzwEncoder encoder = new();

        internal GifAnimationWriter(Stream stream, RenderedImage first, bool animated, ColorPalette? palette, GifOptions options)
        {
            (width, height, color) = (first.Width, first.Height, first.IsColor);
            if (width > ushort.MaxValue || height > ushort.MaxValue)
            {
                throw new ArgumentException($"A GIF is at most 65535 pixels wide and high; {width}x{height} given.", nameof(first));
            }

            this.animated = animated;
            this.palette = palette;
            this.options = options;
            indices = new byte[width * height];
            output = new BufferedStream(stream, 1 << 16);
            output.Write("GIF89a"u8);
            WriteUInt16(output, width);
            WriteUInt16(output, height);
            output.WriteByte(0xF7); // global colour table, 8 bits colour resolution, 256 entries
            output.WriteByte(0);    // background colour index
            output.WriteByte(0);    // pixel aspect ratio: not given
            var table = new byte[256 * 3];
            for (var i = 0; i < 256; i++)
            {
                if (palette is null)
                {
                    table[i * 3] = table[(i * 3) + 1] = table[(i * 3) + 2] = (byte)i;
                }
                else if (i < palette.Count)
                {
                    palette.Colors.AsSpan(i * 3, 3).CopyTo(table.AsSpan(i * 3));
                }
            }

            output.Write(table);
            if (animated)
            {
                // Application Extension NETSCAPE2.0: loop count.
                output.Write([0x21, 0xFF, 11]);
                output.Write("NETSCAPE2.0"u8);
                output.Write([3, 1]);
                WriteUInt16(output, Math.Clamp(options.LoopCount, 0, ushort.MaxValue));
                output.WriteByte(0);
            }
        }

        public void Write(RenderedImage frame)
        {
            ArgumentNullException.ThrowIfNull(frame);
            CheckShape(width, height, color, frame, nameof(frame));

            if (animated)
            {
                // Graphic Control Extension: disposal "do not dispose", no transparency, the delay.
                output.Write([0x21, 0xF9, 4, 0x04]);
                WriteUInt16(output, Math.Clamp(options.DelayCentiseconds, 0, ushort.MaxValue));
                output.Write([0, 0]);
            }

            output.WriteByte(0x2C);
            WriteUInt16(output, 0);
            WriteUInt16(output, 0);
            WriteUInt16(output, width);
            WriteUInt16(output, height);
            output.WriteByte(0); // no local colour table, not interlaced

            if (palette is null)
            {
                frame.Pixels.AsSpan(0, indices.Length).CopyTo(indices);
            }
            else
            {
                palette.Map(frame.Pixels, indices);
            }

            encoder.Encode(indices, output);
        }

        internal static void CheckShape(int width, int height, bool color, RenderedImage frame, string parameterName)
        {
            if (frame.Width != width || frame.Height != height || frame.IsColor != color)
            {
                throw new ArgumentException("All frames of a GIF must have the size and colour type of the first.", parameterName);
            }
        }

        /// <summary>Writes the trailer and flushes.</summary>
        public void Finish()
        {
            output.WriteByte(0x3B);
            output.Flush();
        }
    }

    private static void WriteUInt16(Stream stream, int value)
    {
        stream.WriteByte((byte)value);
        stream.WriteByte((byte)(value >> 8));
    }

    /// <summary>GIF LZW (GIF89a Appendix F) with 8-bit roots, written in data sub-blocks of at most 255 bytes.</summary>
    private sealed class LzwEncoder
    {
        private const int MinimumCodeSize = 8;
        private const int MaxCode = 4096;
        private const int HashSize = 8192;
        private readonly int[] hashKeys = new int[HashSize];
        private readonly short[] hashCodes = new short[HashSize];
        private readonly byte[] block = new byte[256];
        private Stream? output;
        private int blockLength;
        private int bitBuffer;
        private int bitCount;
        private int codeSize;
        private int nextCode;

        public void Encode(ReadOnlySpan<byte> indices, Stream stream)
        {
            output = stream;
            stream.WriteByte(MinimumCodeSize);
            blockLength = 0;
            bitBuffer = 0;
            bitCount = 0;
            const int clear = 1 << MinimumCodeSize;
            const int end = clear + 1;
            Reset();
            Emit(clear);

            var prefix = (int)indices[0];
            for (var i = 1; i < indices.Length; i++)
            {
                var c = indices[i];
                var key = (prefix << 8) | c;
                var slot = Find(key);
                if (hashKeys[slot] == key)
                {
                    prefix = hashCodes[slot];
                    continue;
                }

                Emit(prefix);
                if (nextCode < MaxCode)
                {
                    hashKeys[slot] = key;
                    hashCodes[slot] = (short)nextCode;
                    nextCode++;
                }
                else
                {
                    Emit(clear);
                    Reset();
                }

                prefix = c;
            }

            Emit(prefix);
            Emit(end);
            if (bitCount > 0)
            {
                AddByte((byte)bitBuffer);
            }

            FlushBlock();
            stream.WriteByte(0); // block terminator
        }

        private void Reset()
        {
            Array.Fill(hashKeys, -1);
            codeSize = MinimumCodeSize + 1;
            nextCode = (1 << MinimumCodeSize) + 2;
        }

        private static int Hash(int key) => (int)(((uint)key * 2654435761u) >> 19);

        private int Find(int key)
        {
            var slot = Hash(key);
            while (hashKeys[slot] != -1 && hashKeys[slot] != key)
            {
                slot = (slot + 1) & (HashSize - 1);
            }

            return slot;
        }

        /// <summary>
        /// Writes a code, least significant bit first. The decoder adds a table entry for each code after the first
        /// following a clear and widens its codes when the next free code reaches 2^size, so the encoder widens when the
        /// code it is about to assign (for this emission) equals 2^size.
        /// </summary>
        private void Emit(int code)
        {
            bitBuffer |= code << bitCount;
            bitCount += codeSize;
            while (bitCount >= 8)
            {
                AddByte((byte)bitBuffer);
                bitBuffer >>= 8;
                bitCount -= 8;
            }

            if (code != 1 << MinimumCodeSize && nextCode == 1 << codeSize && codeSize < 12)
            {
                codeSize++;
            }
        }

        private void AddByte(byte value)
        {
            block[1 + blockLength++] = value;
            if (blockLength == 255)
            {
                FlushBlock();
            }
        }

        private void FlushBlock()
        {
            if (blockLength == 0)
            {
                return;
            }

            block[0] = (byte)blockLength;
            output!.Write(block, 0, blockLength + 1);
            blockLength = 0;
        }
    }

    /// <summary>A palette of at most 256 colours for RGB frames, and the mapping of each pixel to its entry.</summary>
    internal sealed class ColorPalette
    {
        private readonly Dictionary<int, byte>? exact;
        private readonly byte[]? cube;
        private readonly bool fixed676;

        private ColorPalette(byte[] colors, int count, Dictionary<int, byte>? exact, byte[]? cube, bool fixed676)
        {
            Colors = colors;
            Count = count;
            this.exact = exact;
            this.cube = cube;
            this.fixed676 = fixed676;
        }

        /// <summary>R, G, B of each entry.</summary>
        public byte[] Colors { get; }

        public int Count { get; }

        /// <summary>
        /// A palette chosen from <paramref name="samples"/> that maps every colour: median cut of the samples' colours, with
        /// each colour cell the samples lack mapped to the nearest entry (or the fixed palette, which covers all).
        /// </summary>
        public static ColorPalette CreateCovering(IReadOnlyList<RenderedImage> samples, GifQuantizer quantizer)
        {
            if (quantizer == GifQuantizer.Fixed676)
            {
                return Create(samples, quantizer);
            }

            var palette = MedianCut(samples);
            var seen = new bool[32768];
            foreach (var sample in samples)
            {
                var pixels = sample.Pixels;
                for (var i = 0; i < sample.Width * sample.Height * 3; i += 3)
                {
                    seen[((pixels[i] >> 3) << 10) | ((pixels[i + 1] >> 3) << 5) | (pixels[i + 2] >> 3)] = true;
                }
            }

            for (var cell = 0; cell < seen.Length; cell++)
            {
                if (seen[cell])
                {
                    continue;
                }

                int r = (((cell >> 10) & 31) * 8) + 4, g = (((cell >> 5) & 31) * 8) + 4, b = ((cell & 31) * 8) + 4;
                var (nearest, best) = (0, int.MaxValue);
                for (var entry = 0; entry < palette.Count; entry++)
                {
                    int dr = r - palette.Colors[entry * 3], dg = g - palette.Colors[(entry * 3) + 1], db = b - palette.Colors[(entry * 3) + 2];
                    var distance = (dr * dr) + (dg * dg) + (db * db);
                    if (distance < best)
                    {
                        (nearest, best) = (entry, distance);
                    }
                }

                palette.cube![cell] = (byte)nearest;
            }

            return palette;
        }

        public static ColorPalette Create(IReadOnlyList<RenderedImage> frames, GifQuantizer quantizer)
        {
            if (quantizer == GifQuantizer.Fixed676)
            {
                var colors = new byte[252 * 3];
                for (var r = 0; r < 6; r++)
                {
                    for (var g = 0; g < 7; g++)
                    {
                        for (var b = 0; b < 6; b++)
                        {
                            var i = (r * 42) + (g * 6) + b;
                            colors[i * 3] = (byte)(r * 255 / 5);
                            colors[(i * 3) + 1] = (byte)(g * 255 / 6);
                            colors[(i * 3) + 2] = (byte)(b * 255 / 5);
                        }
                    }
                }

                return new ColorPalette(colors, 252, null, null, true);
            }

            // At most 256 distinct colours: an exact palette.
            var distinct = new Dictionary<int, byte>();
            var fits = true;
            foreach (var frame in frames)
            {
                var pixels = frame.Pixels;
                for (var i = 0; i < frame.Width * frame.Height * 3 && fits; i += 3)
                {
                    var key = (pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2];
                    if (!distinct.ContainsKey(key))
                    {
                        if (distinct.Count == 256)
                        {
                            fits = false;
                            break;
                        }

                        distinct.Add(key, (byte)distinct.Count);
                    }
                }
            }

            if (fits)
            {
                var colors = new byte[distinct.Count * 3];
                foreach (var (key, index) in distinct)
                {
                    colors[index * 3] = (byte)(key >> 16);
                    colors[(index * 3) + 1] = (byte)(key >> 8);
                    colors[(index * 3) + 2] = (byte)key;
                }

                return new ColorPalette(colors, distinct.Count, distinct, null, false);
            }

            return MedianCut(frames);
        }

        public void Map(byte[] rgb, byte[] indices)
        {
            for (var p = 0; p < indices.Length; p++)
            {
                int r = rgb[p * 3], g = rgb[(p * 3) + 1], b = rgb[(p * 3) + 2];
                if (exact is not null)
                {
                    indices[p] = exact[(r << 16) | (g << 8) | b];
                }
                else if (fixed676)
                {
                    indices[p] = (byte)((((r * 5) + 127) / 255 * 42) + ((((g * 6) + 127) / 255) * 6) + (((b * 5) + 127) / 255));
                }
                else
                {
                    indices[p] = cube![((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)];
                }
            }
        }

        /// <summary>
        /// Median cut (Heckbert) over a 5-bit-per-channel histogram of all frames: repeatedly split the box with the largest
        /// pixel count × extent across its longest axis at the pixel median; each box's colour is the pixel-weighted mean
        /// of its histogram cells.
        /// </summary>
        private static ColorPalette MedianCut(IReadOnlyList<RenderedImage> frames)
        {
            var histogram = new int[32768];
            foreach (var frame in frames)
            {
                var pixels = frame.Pixels;
                for (var i = 0; i < frame.Width * frame.Height * 3; i += 3)
                {
                    histogram[((pixels[i] >> 3) << 10) | ((pixels[i + 1] >> 3) << 5) | (pixels[i + 2] >> 3)]++;
                }
            }

            var cells = new List<int>();
            for (var i = 0; i < histogram.Length; i++)
            {
                if (histogram[i] > 0)
                {
                    cells.Add(i);
                }
            }

            var boxes = new List<(int Start, int Length)> { (0, cells.Count) };
            var cellArray = cells.ToArray();
            while (boxes.Count < 256)
            {
                var best = -1;
                long bestScore = 0;
                for (var i = 0; i < boxes.Count; i++)
                {
                    if (boxes[i].Length < 2)
                    {
                        continue;
                    }

                    long population = 0;
                    for (var k = 0; k < boxes[i].Length; k++)
                    {
                        population += histogram[cellArray[boxes[i].Start + k]];
                    }

                    var (_, extent) = LongestAxis(cellArray.AsSpan(boxes[i].Start, boxes[i].Length));
                    var score = population * (extent + 1);
                    if (score > bestScore)
                    {
                        bestScore = score;
                        best = i;
                    }
                }

                if (best < 0)
                {
                    break;
                }

                var (start, length) = boxes[best];
                var span = cellArray.AsSpan(start, length);
                var (axis, _) = LongestAxis(span);
                var shift = 10 - (axis * 5);
                span.Sort((a, b) => ((a >> shift) & 31).CompareTo((b >> shift) & 31));
                long total = 0;
                foreach (var cell in span)
                {
                    total += histogram[cell];
                }

                long running = 0;
                var split = 1;
                for (var k = 0; k < length - 1; k++)
                {
                    running += histogram[span[k]];
                    split = k + 1;
                    if (running * 2 >= total)
                    {
                        break;
                    }
                }

                boxes[best] = (start, split);
                boxes.Add((start + split, length - split));
            }

            var colors = new byte[boxes.Count * 3];
            var cube = new byte[32768];
            for (var i = 0; i < boxes.Count; i++)
            {
                long r = 0, g = 0, b = 0, n = 0;
                foreach (var cell in cellArray.AsSpan(boxes[i].Start, boxes[i].Length))
                {
                    long count = histogram[cell];
                    r += (((cell >> 10) & 31) * 8 + 4) * count;
                    g += (((cell >> 5) & 31) * 8 + 4) * count;
                    b += ((cell & 31) * 8 + 4) * count;
                    n += count;
                    cube[cell] = (byte)i;
                }

                colors[i * 3] = (byte)(r / n);
                colors[(i * 3) + 1] = (byte)(g / n);
                colors[(i * 3) + 2] = (byte)(b / n);
            }

            return new ColorPalette(colors, boxes.Count, null, cube, false);
        }

        private static (int Axis, int Extent) LongestAxis(ReadOnlySpan<int> cells)
        {
            Span<int> min = [31, 31, 31];
            Span<int> max = [0, 0, 0];
            foreach (var cell in cells)
            {
                for (var axis = 0; axis < 3; axis++)
                {
                    var v = (cell >> (10 - (axis * 5))) & 31;
                    min[axis] = Math.Min(min[axis], v);
                    max[axis] = Math.Max(max[axis], v);
                }
            }

            var best = 0;
            for (var axis = 1; axis < 3; axis++)
            {
                if (max[axis] - min[axis] > max[best] - min[best])
                {
                    best = axis;
                }
            }

            return (best, max[best] - min[best]);
        }
    }
}
