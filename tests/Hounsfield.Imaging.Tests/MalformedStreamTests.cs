using System.Diagnostics;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;
using Xunit.Abstractions;

namespace Hounsfield.Imaging.Tests;

/// <summary>
/// Truncated and garbled compressed frames either decode or raise <see cref="ImageCodecException"/>: never another
/// exception (index out of range, overflow, out of memory), never a hang.
/// </summary>
public sealed class MalformedStreamTests(ITestOutputHelper output)
{
    private static readonly TimeSpan PerDecodeLimit = TimeSpan.FromSeconds(5);

    public static TheoryData<string> Sources => Corpus.Names(f => f.Name is
        "jpeg_baseline_ybr_full_422" or "jpeg_baseline_mono8" or "jpeg_extended_12bit" or "jpeg_lossless_sv1_rgb"
        or "jpeg_lossless_sv1_s16_nm" or "rle_rgb16_2frame" or "rle_mr_small_s16");

    [CorpusTheory]
    [MemberData(nameof(Sources))]
    public void MutatedFramesDecodeOrRaiseImageCodecException(string name)
    {
        var file = DicomFile.Open(Corpus.Get(name).Path);
        var info = TestImages.GetFrameInfo(file.Dataset);
        var frame = TestImages.GetCompressedFrames(file.Dataset, TestImages.GetNumberOfFrames(file.Dataset))[0];
        var decoder = FrameCodecs.GetDecoder(file.TransferSyntax.Uid)!;
        var (decoded, rejected) = DecodeMutations(decoder, info, frame, seed: name.Length);
        output.WriteLine($"{name}: {decoded} mutated frames decoded, {rejected} rejected with ImageCodecException.");
        Assert.True(rejected > 0);
    }

    [Fact]
    public void MutatedRleFramesOfGeneratedImagesDecodeOrRaiseImageCodecException()
    {
        var info = new FrameInfo(37, 41, 3, 16, 16, 0, "RGB", 0);
        var native = new byte[info.FrameLength];
        var random = new Random(7);
        for (var i = 0; i < native.Length; i++)
        {
            native[i] = (byte)(i % 97 < 50 ? 0x40 : random.Next(256)); // runs and literals
        }

        var encoded = RleEncoder.Instance.Encode(native, info);
        Assert.Equal(native, RleDecoder.Instance.Decode(encoded, info));
        var (_, rejected) = DecodeMutations(RleDecoder.Instance, info, encoded, seed: 11);
        Assert.True(rejected > 0);
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0xFF, 0xD8 })]
    [InlineData(new byte[] { 0xFF, 0xD8, 0xFF, 0xD9 })]
    [InlineData(new byte[] { 0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 8, 0, 1, 0, 1, 1, 1, 0x11, 0, 0xFF, 0xD9 })]
    [InlineData(new byte[] { 0xFF, 0xD8, 0xFF, 0xC2, 0x00, 0x0B, 8, 0, 1, 0, 1, 1, 1, 0x11, 0, 0xFF, 0xD9 })]
    [InlineData(new byte[] { 0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0 })]
    [InlineData(new byte[] { 0xFF, 0xD8, 0xFF, 0xC4, 0xFF, 0xFF })]
    [InlineData(new byte[] { 0x00, 0x01, 0x02, 0x03 })]
    public void DegenerateJpegStreamsRaiseImageCodecException(byte[] stream)
    {
        var info = new FrameInfo(1, 1, 1, 8, 8, 0, "MONOCHROME2", 0);
        Assert.Throws<ImageCodecException>(() => JpegDecoder.Instance.Decode(stream, info));
    }

    [Fact]
    public void JpegWhoseSizeDisagreesWithTheDataSetIsRejected()
    {
        var stream = new byte[] { 0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 8, 0, 2, 0, 2, 1, 1, 0x11, 0, 0xFF, 0xD9 };
        var exception = Assert.Throws<ImageCodecException>(() => JpegDecoder.Instance.Decode(stream, new FrameInfo(1, 1, 1, 8, 8, 0, "MONOCHROME2", 0)));
        Assert.Contains("2x2", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(63)]
    [InlineData(64)]
    public void RleHeaderProblemsRaiseImageCodecException(int length)
    {
        var stream = new byte[length];
        if (length >= 64)
        {
            stream[0] = 1;
            stream[4] = 200; // offset beyond the frame
        }

        Assert.Throws<ImageCodecException>(() => RleDecoder.Instance.Decode(stream, new FrameInfo(2, 2, 1, 8, 8, 0, "MONOCHROME2", 0)));
    }

    /// <summary>Truncations, bit flips, random bytes, inserted markers; each decode bounded in time.</summary>
    private static (int Decoded, int Rejected) DecodeMutations(IFrameDecoder decoder, FrameInfo info, byte[] frame, int seed)
    {
        var random = new Random(seed);
        var mutations = new List<(string What, byte[] Bytes)>();
        var cuts = new SortedSet<int> { 0, 1, 2, 3, 4, 16, 63, 64, 65, frame.Length - 1, frame.Length - 2, frame.Length - 3 };
        for (var i = 1; i < 24; i++)
        {
            cuts.Add(frame.Length * i / 24);
        }

        foreach (var cut in cuts.Where(c => c >= 0 && c < frame.Length))
        {
            mutations.Add(($"truncated to {cut}", frame[..cut]));
        }

        for (var i = 0; i < 120; i++)
        {
            var bytes = (byte[])frame.Clone();
            var position = random.Next(bytes.Length);
            var what = (i % 4) switch
            {
                0 => Flip(bytes, position, (byte)(1 << random.Next(8))),
                1 => Set(bytes, position, (byte)random.Next(256)),
                2 => Set(bytes, position, 0xFF),
                _ => Garble(bytes, position, random),
            };
            mutations.Add((what, bytes));
        }

        var decoded = 0;
        var rejected = 0;
        var destination = new byte[decoder.GetDecodedInfo(info).FrameLength];
        foreach (var (what, bytes) in mutations)
        {
            var task = Task.Run(() =>
            {
                try
                {
                    decoder.Decode(bytes, info, destination);
                    return true;
                }
                catch (ImageCodecException)
                {
                    return false;
                }
            });
            var stopwatch = Stopwatch.StartNew();
            try
            {
                Assert.True(task.Wait(PerDecodeLimit), $"decoding the frame {what} did not finish within {PerDecodeLimit}.");
            }
            catch (AggregateException exception)
            {
                Assert.Fail($"decoding the frame {what} threw {exception.InnerException}");
            }

            Assert.True(stopwatch.Elapsed < PerDecodeLimit);
            if (task.Result)
            {
                decoded++;
            }
            else
            {
                rejected++;
            }
        }

        return (decoded, rejected);
    }

    private static string Flip(byte[] bytes, int position, byte mask)
    {
        bytes[position] ^= mask;
        return $"with byte {position} xor 0x{mask:X2}";
    }

    private static string Set(byte[] bytes, int position, byte value)
    {
        bytes[position] = value;
        return $"with byte {position} set to 0x{value:X2}";
    }

    private static string Garble(byte[] bytes, int position, Random random)
    {
        var length = Math.Min(random.Next(1, 64), bytes.Length - position);
        random.NextBytes(bytes.AsSpan(position, length));
        return $"with {length} random bytes at {position}";
    }
}
