using System.Diagnostics;
using Hounsfield.Dicom.IO;
using Hounsfield.Dicom.Json;

namespace Hounsfield.Dicom.Tests;

/// <summary>
/// Deterministic mutation fuzzing over the corpus: flipped bytes, truncations and giant lengths. The reader may
/// succeed or throw <see cref="DicomFormatException"/>; anything else, a hang or a big allocation fails the test.
/// </summary>
public sealed class FuzzTests
{
    private const int MutationsPerFile = 60;

    [CorpusFact]
    public void Thousands_of_mutated_files_raise_only_format_exceptions_with_bounded_allocation()
    {
        var seeds = Corpus.Files.Where(f => new FileInfo(f.Path).Length <= 600_000).ToList();
        var random = new Random(20261122);
        var stopwatch = Stopwatch.StartNew();
        var failures = new List<string>();
        var cases = 0;
        var rejected = 0;
        var options = DicomReadOptions.Default with { MaxInflatedLength = 64L * 1024 * 1024 };

        foreach (var seed in seeds)
        {
            var original = File.ReadAllBytes(seed.Path);
            for (var i = 0; i < MutationsPerFile; i++)
            {
                var (mutated, description) = Mutate(original, random);
                cases++;
                var unseekable = i % 4 == 0;
                var before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    var file = unseekable ? DicomFile.Read(new UnseekableStream(mutated), options) : DicomFile.Read(mutated, options);
                    _ = DicomJsonWriter.Serialize(file.Dataset); // typed access over whatever was read must not throw either
                }
                catch (DicomFormatException)
                {
                    rejected++;
                }
                catch (Exception ex)
                {
                    failures.Add($"{seed.Name} {description}: {ex.GetType().Name}: {ex.Message}");
                }

                var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                var bound = (64L * mutated.Length) + (16L * 1024 * 1024);
                if (allocated > bound)
                {
                    failures.Add($"{seed.Name} {description}: allocated {allocated} bytes for a {mutated.Length}-byte input");
                }
            }
        }

        Assert.True(cases >= 3000, $"only {cases} cases");
        Assert.True(failures.Count == 0, string.Join('\n', failures.Take(20)));
        Assert.True(rejected > cases / 10, $"only {rejected} of {cases} mutations were rejected: the mutations are too gentle");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(60), $"took {stopwatch.Elapsed}");
    }

    private static (byte[] Bytes, string Description) Mutate(byte[] original, Random random)
    {
        var bytes = (byte[])original.Clone();
        switch (random.Next(4))
        {
            case 0:
                var flips = random.Next(1, 9);
                for (var i = 0; i < flips; i++)
                {
                    bytes[random.Next(bytes.Length)] ^= (byte)random.Next(1, 256);
                }

                return (bytes, $"{flips} flipped bytes");
            case 1:
                var length = random.Next(bytes.Length);
                return (bytes[..length], $"truncated at {length}");
            case 2:
                // A giant or undefined length where a length field may be: just after a VR.
                var at = FindLengthField(bytes, random);
                var value = random.Next(3) switch { 0 => 0xFFFFFFFFu, 1 => 0x7FFFFFF0u, _ => (uint)random.Next() };
                BitConverter.TryWriteBytes(bytes.AsSpan(at, 4), value);
                return (bytes, $"length 0x{value:X8} at {at}");
            default:
                var start = random.Next(bytes.Length);
                var count = Math.Min(random.Next(1, 64), bytes.Length - start);
                random.NextBytes(bytes.AsSpan(start, count));
                return (bytes, $"{count} random bytes at {start}");
        }
    }

    private static int FindLengthField(byte[] bytes, Random random)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var i = random.Next(132, Math.Max(133, bytes.Length - 12));
            if (i + 12 <= bytes.Length && DicomVRInfo.TryParse(bytes[i], bytes[i + 1], out var vr))
            {
                return vr.HasLongLength() ? i + 4 : i + 2;
            }
        }

        return random.Next(0, Math.Max(1, bytes.Length - 4));
    }
}
