using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Encoders;
using Hounsfield.Imaging.Frames;
using Hounsfield.Imaging.Rendering;
using Hounsfield.Imaging.Transcoding;

namespace Hounsfield.Bench.Imaging;

/// <summary>
/// The imaging benchmark's measuring program (driven by bench/imaging/run.sh). Every command prints one JSON object per
/// line on stdout.
/// <list type="bullet">
/// <item><c>decode [--seconds S] [--once] FILE...</c>: per transfer syntax, decoded MB/s of (a) the codec alone on
/// compressed frames held in memory and (b) file to pixels (open from disk, parse, read and decode every frame).
/// <c>--once</c>: one pass of (b) over all files and no figures (run.sh times the whole process).</item>
/// <item><c>render --format png|jpeg [--seconds S] [--once] [--level fastest|optimal|smallest|none] [--quality Q]
/// [--optimize-coding] [--write DIR] FILE...</c>: frame 1 of each file opened from disk, decoded, rendered (PS3.4 N.2, the data set's first
/// window) and encoded; frames/s and a Stopwatch breakdown per stage, the mean output size and a hash of the rendered
/// pixels (so a faster encoder can be checked against a slower one).</item>
/// <item><c>transcode --syntax UID --out DIR FILE...</c>: writes copies in another transfer syntax (our encoders), for
/// syntaxes DCMTK cannot write (JPEG 2000).</item>
/// </list>
/// </summary>
internal static class Program
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: hounsfield-bench-imaging decode|render|transcode [options] FILE...");
            return 2;
        }

        var options = Options.Parse(args[1..]);
        return args[0] switch
        {
            "decode" => Decode(options),
            "render" => Render(options),
            "transcode" => Transcode(options),
            _ => Fail($"unknown command {args[0]}"),
        };
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 2;
    }

    // ---- decode ----

    private static int Decode(Options options)
    {
        if (options.Once)
        {
            long total = 0;
            foreach (var path in options.Files)
            {
                total += DecodeFile(path);
            }

            Console.WriteLine(JsonSerializer.Serialize(new { command = "decode-once", files = options.Files.Count, decoded_bytes = total }, Json));
            return 0;
        }

        foreach (var group in options.Files.GroupBy(SyntaxOf).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var files = new List<string>();
            var frames = new List<(byte[] Compressed, FrameInfo Info)>();
            var failures = new List<string>();
            long decodedBytes = 0;
            var decoder = FrameCodecs.GetDecoder(group.Key);
            foreach (var path in group)
            {
                try
                {
                    decodedBytes += DecodeFile(path);
                    files.Add(path);
                    if (decoder is not null)
                    {
                        var file = DicomFile.Open(path);
                        var reader = PixelDataReader.Create(file)!;
                        var info = reader.Description.ToFrameInfo();
                        for (var i = 0; i < reader.FrameCount; i++)
                        {
                            frames.Add((reader.ReadCompressedFrame(i), info));
                        }
                    }
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    failures.Add($"{Path.GetFileName(path)}: {e.GetType().Name}: {e.Message}");
                }
            }

            if (files.Count == 0)
            {
                Console.WriteLine(JsonSerializer.Serialize(new { command = "decode", syntax = group.Key, files = 0, failures }, Json));
                continue;
            }

            var fileSeconds = Measure(options.Seconds, () =>
            {
                foreach (var path in files)
                {
                    DecodeFile(path);
                }
            });

            double? codecSeconds = null;
            long codecBytes = 0;
            if (decoder is not null)
            {
                foreach (var (compressed, info) in frames)
                {
                    codecBytes += decoder.GetDecodedInfo(info).FrameLength;
                }

                var buffers = frames.Select(f => new byte[decoder.GetDecodedInfo(f.Info).FrameLength]).ToArray();
                codecSeconds = Measure(options.Seconds, () =>
                {
                    for (var i = 0; i < frames.Count; i++)
                    {
                        decoder.Decode(frames[i].Compressed, frames[i].Info, buffers[i]);
                    }
                });
            }

            Console.WriteLine(JsonSerializer.Serialize(
                new
                {
                    command = "decode",
                    syntax = group.Key,
                    name = DicomTransferSyntax.Lookup(group.Key).Name,
                    files = files.Count,
                    frames = frames.Count,
                    decoded_bytes = decodedBytes,
                    file_seconds = fileSeconds,
                    file_mbps = decodedBytes / 1e6 / fileSeconds,
                    codec_seconds = codecSeconds,
                    codec_mbps = codecSeconds is { } s ? codecBytes / 1e6 / s : (double?)null,
                    failures,
                },
                Json));
        }

        return 0;
    }

    /// <summary>Opens <paramref name="path"/> and decodes every frame; returns the decoded bytes.</summary>
    private static long DecodeFile(string path)
    {
        var file = DicomFile.Open(path);
        var reader = PixelDataReader.Create(file) ?? throw new InvalidOperationException("no pixel data");
        long total = 0;
        for (var i = 0; i < reader.FrameCount; i++)
        {
            total += reader.ReadFrame(i).Data.Length;
        }

        return total;
    }

    private static string SyntaxOf(string path)
    {
        var file = DicomFile.Open(path, new DicomReadOptions { StopBeforePixelData = true });
        return file.TransferSyntax.Uid;
    }

    /// <summary>
    /// The least seconds of one call of <paramref name="pass"/> (the one least disturbed by other load), after a warm-up,
    /// over at least 5 calls and <paramref name="seconds"/>.
    /// </summary>
    private static double Measure(double seconds, Action pass)
    {
        pass();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 5 || total.Elapsed.TotalSeconds < seconds)
        {
            var start = Stopwatch.GetTimestamp();
            pass();
            times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        return times.Min();
    }

    // ---- render ----

    private static int Render(Options options)
    {
        var jpegOptions = new JpegOptions { Quality = options.Quality };
        if (options.OptimizeCoding)
        {
#if BASELINE
            // The library before the speed-ups always built optimal tables.
#else
            jpegOptions = jpegOptions with { OptimizeCoding = true };
#endif
        }

        var renderOptions = new RenderOptions { Voi = VoiMode.First };
        var output = new MemoryStream();
        long open = 0, read = 0, render = 0, encode = 0, bytes = 0, frames = 0;
        var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        void One(string path, bool record)
        {
            var t0 = ThreadClock.Now();
            var file = DicomFile.Open(path);
            var reader = PixelDataReader.Create(file) ?? throw new InvalidOperationException($"{path}: no pixel data");
            var t1 = ThreadClock.Now();
#if BASELINE
            var frame = reader.ReadFrame(0);
            var t2 = ThreadClock.Now();
            var image = FrameRenderer.Render(file.Dataset, frame, 0, renderOptions);
#else
            // As the rendered endpoint does: pooled frame and image buffers.
            using var frame = reader.RentFrame(0);
            var t2 = ThreadClock.Now();
            using var image = FrameRenderer.RenderPooled(file.Dataset, frame, 0, renderOptions);
#endif
            var t3 = ThreadClock.Now();
            output.SetLength(0);
            if (options.Format == "png")
            {
                PngEncoder.Encode(output, image, options.Level);
            }
            else
            {
                JpegEncoder.Encode(output, image, jpegOptions);
            }

            var t4 = ThreadClock.Now();
            if (record)
            {
                open += t1 - t0;
                read += t2 - t1;
                render += t3 - t2;
                encode += t4 - t3;
                bytes += output.Length;
                frames++;
                if (frames <= options.Files.Count)
                {
                    hash.AppendData(image.Pixels, 0, image.Width * image.Height * image.Channels);
                }
            }

            if (options.WriteDirectory is { } directory && frames <= options.Files.Count)
            {
                Directory.CreateDirectory(directory);
                File.WriteAllBytes(Path.Combine(directory, Path.GetFileNameWithoutExtension(path) + (options.Format == "png" ? ".png" : ".jpg")), output.ToArray());
            }
        }

        if (options.Once)
        {
            foreach (var path in options.Files)
            {
                One(path, record: true);
            }

            Console.WriteLine(JsonSerializer.Serialize(new { command = "render-once", format = options.Format, frames }, Json));
            return 0;
        }

        // Warm-up (JIT, tiering), then whole passes over the files for at least the given time.
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < Math.Min(2.0, options.Seconds / 2))
        {
            foreach (var path in options.Files)
            {
                One(path, record: false);
            }
        }

        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        var gcStart = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        var clock = Stopwatch.StartNew();
        while (frames == 0 || clock.Elapsed.TotalSeconds < options.Seconds)
        {
            foreach (var path in options.Files)
            {
                One(path, record: true);
            }
        }

        var elapsed = clock.Elapsed.TotalSeconds;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
        double Ms(long nanoseconds) => nanoseconds / 1e6 / frames;
        Console.WriteLine(JsonSerializer.Serialize(
            new
            {
                command = "render",
                format = options.Format,
                level = options.Format == "png" ? options.Level.ToString() : null,
                quality = options.Format == "jpeg" ? options.Quality : (int?)null,
                optimize_coding = options.Format == "jpeg" ? options.OptimizeCoding : (bool?)null,
                files = options.Files.Count,
                frames,
                seconds = elapsed,
                frames_per_second = frames / elapsed,
                cpu_seconds = cpu,
                frames_per_cpu_second = frames / cpu,
                ms_open = Ms(open),
                ms_read_frame = Ms(read),
                ms_render = Ms(render),
                ms_encode = Ms(encode),
                mean_output_bytes = bytes / frames,
                gc_per_100_frames = new[]
                {
                    (GC.CollectionCount(0) - gcStart.Item1) * 100.0 / frames,
                    (GC.CollectionCount(1) - gcStart.Item2) * 100.0 / frames,
                    (GC.CollectionCount(2) - gcStart.Item3) * 100.0 / frames,
                },
                rendered_pixels_sha256 = Convert.ToHexStringLower(hash.GetHashAndReset()),
            },
            Json));
        return 0;
    }

    // ---- transcode ----

    private static int Transcode(Options options)
    {
        if (options.Syntax is null || options.OutputDirectory is null)
        {
            return Fail("transcode needs --syntax UID and --out DIR");
        }

        var target = DicomTransferSyntax.Lookup(options.Syntax);
        Directory.CreateDirectory(options.OutputDirectory);
        foreach (var path in options.Files)
        {
            var file = DicomFile.Open(path);
            Transcoder.Transcode(file, target).Save(Path.Combine(options.OutputDirectory, Path.GetFileName(path)));
        }

        return 0;
    }

    /// <summary>
    /// The calling thread's CPU time (clock_gettime CLOCK_THREAD_CPUTIME_ID) in nanoseconds: the per-stage breakdown does
    /// not count time the thread spent waiting for the core (the machine is shared).
    /// </summary>
    private static class ThreadClock
    {
        private const int ClockThreadCpuTime = 3;

        public static long Now() => clock_gettime(ClockThreadCpuTime, out var t) == 0 ? (t.Seconds * 1_000_000_000) + t.Nanoseconds : 0;

        [System.Runtime.InteropServices.DllImport("libc", SetLastError = false)]
        private static extern int clock_gettime(int clock, out Timespec time);

        private struct Timespec
        {
            public long Seconds;
            public long Nanoseconds;
        }
    }

    private sealed class Options
    {
        public List<string> Files { get; } = [];

        public double Seconds { get; private set; } = 3;

        public bool Once { get; private set; }

        public string Format { get; private set; } = "png";

        public CompressionLevel Level { get; private set; } = CompressionLevel.Fastest;

        public int Quality { get; private set; } = 90;

        public bool OptimizeCoding { get; private set; }

        public string? WriteDirectory { get; private set; }

        public string? Syntax { get; private set; }

        public string? OutputDirectory { get; private set; }

        public static Options Parse(string[] args)
        {
            var o = new Options();
            for (var i = 0; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "--seconds": o.Seconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                    case "--once": o.Once = true; break;
                    case "--optimize-coding": o.OptimizeCoding = true; break;
                    case "--format": o.Format = args[++i] == "png" ? "png" : "jpeg"; break;
                    case "--quality": o.Quality = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                    case "--write": o.WriteDirectory = args[++i]; break;
                    case "--syntax": o.Syntax = args[++i]; break;
                    case "--out": o.OutputDirectory = args[++i]; break;
                    case "--level":
                        o.Level = args[++i] switch
                        {
                            "optimal" => CompressionLevel.Optimal,
                            "smallest" => CompressionLevel.SmallestSize,
                            "none" => CompressionLevel.NoCompression,
                            _ => CompressionLevel.Fastest,
                        };
                        break;
                    default: o.Files.Add(args[i]); break;
                }
            }

            return o;
        }
    }
}
