using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Hounsfield.Imaging.Rendering;

/// <summary>
/// A byte table over 16-bit indices, looked up 64 samples at a time with AVX-512 permutes: VBMI byte permutes (vpermi2b,
/// 128 entries per permute) or, without VBMI, word permutes (vpermi2w, 64 entries). Only the part of the table between
/// its constant ends is kept (a window saturates to 0 and 255 outside it): indices are clamped into it, then each chunk
/// is looked up and the right chunk's values chosen.
/// </summary>
internal sealed class ByteTableLookup
{
    /// <summary>Beyond 32 chunks of 128 bytes (16 of 64 words) the permutes cost about what a scalar lookup per sample does.</summary>
    private const int MaxTableLength = 4096;

    private const int MaxWordTableLength = 1024;

    private readonly byte[] chunks;
    private readonly ushort[]? words;
    private readonly int chunkCount;
    private readonly ushort low;
    private readonly ushort high;

    private ByteTableLookup(byte[] chunks, ushort[]? words, int chunkCount, int low, int high)
    {
        this.chunks = chunks;
        this.words = words;
        this.chunkCount = chunkCount;
        this.low = (ushort)low;
        this.high = (ushort)high;
    }

    public static bool IsSupported => Vector512.IsHardwareAccelerated && (Avx512Vbmi.IsSupported || Avx512BW.IsSupported);

    /// <summary>
    /// The lookup of <paramref name="table"/> for indices <paramref name="first"/>..<paramref name="last"/> (the ones that
    /// occur), or null when the hardware has no AVX-512 permutes or the table's varying part is too long. With
    /// <paramref name="bytePermutes"/> false the word permutes serve even where VBMI is present (for tests).
    /// </summary>
    public static ByteTableLookup? Create(ReadOnlySpan<byte> table, int first, int last, bool bytePermutes = true)
    {
        if (!IsSupported || first > last || last >= table.Length || last > ushort.MaxValue)
        {
            return null;
        }

        // Indices below low map as low does, above high as high does.
        var low = first;
        while (low < last && table[low + 1] == table[first])
        {
            low++;
        }

        var high = last;
        while (high > low && table[high - 1] == table[last])
        {
            high--;
        }

        var length = high - low + 1;
        if (bytePermutes && Avx512Vbmi.IsSupported)
        {
            if (length > MaxTableLength)
            {
                return null;
            }

            var chunks = new byte[((length + 127) / 128) * 128];
            table[low..(high + 1)].CopyTo(chunks);
            return new ByteTableLookup(chunks, null, chunks.Length / 128, low, high);
        }

        if (length > MaxWordTableLength || !Avx512BW.IsSupported)
        {
            return null;
        }

        var words = new ushort[((length + 63) / 64) * 64];
        for (var i = 0; i < length; i++)
        {
            words[i] = table[low + i];
        }

        return new ByteTableLookup(table[low..(high + 1)].ToArray(), words, words.Length / 64, low, high);
    }

    /// <summary>
    /// <paramref name="target"/>[x] = table[((<paramref name="source"/>[x] &gt;&gt; <paramref name="shift"/>) &amp;
    /// <paramref name="mask"/>) ^ <paramref name="signFlip"/>], the index being one the table was made for.
    /// </summary>
    public void Map(ReadOnlySpan<ushort> source, int shift, int mask, int signFlip, Span<byte> target)
    {
        var length = Math.Min(source.Length, target.Length);
        ref var input = ref MemoryMarshal.GetReference(source);
        ref var output = ref MemoryMarshal.GetReference(target);
        ref var table = ref MemoryMarshal.GetArrayDataReference(chunks);
        var x = 0;
        if (words is not null)
        {
            x = MapByWords(ref input, shift, mask, signFlip, ref output, length);
        }
        else if (Avx512Vbmi.IsSupported && Vector512.IsHardwareAccelerated)
        {
            var vectorMask = Vector512.Create((ushort)mask);
            var vectorFlip = Vector512.Create((ushort)signFlip);
            var vectorLow = Vector512.Create(low);
            var vectorHigh = Vector512.Create(high);
            var first = Vector512.LoadUnsafe(ref table, 0);
            var second = Vector512.LoadUnsafe(ref table, 64);
            for (; x + 64 <= length; x += 64)
            {
                var a = Index(Vector512.LoadUnsafe(ref input, (nuint)x));
                var b = Index(Vector512.LoadUnsafe(ref input, (nuint)(x + 32)));

                // vpermi2b reads the low 7 bits of each index byte; bits 7 and up say which chunk.
                var within = Vector512.Narrow(a, b);
                var result = Avx512Vbmi.PermuteVar64x8x2(first, within, second);
                if (chunkCount > 1)
                {
                    var chunk = Vector512.Narrow(Vector512.ShiftRightLogical(a, 7), Vector512.ShiftRightLogical(b, 7));
                    for (var c = 1; c < chunkCount; c++)
                    {
                        var lookup = Avx512Vbmi.PermuteVar64x8x2(
                            Vector512.LoadUnsafe(ref table, (nuint)(c * 128)), within, Vector512.LoadUnsafe(ref table, (nuint)((c * 128) + 64)));
                        result = Vector512.ConditionalSelect(Vector512.Equals(chunk, Vector512.Create((byte)c)), lookup, result);
                    }
                }

                result.StoreUnsafe(ref output, (nuint)x);
            }

            Vector512<ushort> Index(Vector512<ushort> raw) =>
                Vector512.Min(Vector512.Max((Vector512.ShiftRightLogical(raw, shift) & vectorMask) ^ vectorFlip, vectorLow), vectorHigh) - vectorLow;
        }

        for (; x < length; x++)
        {
            var index = ((Unsafe.Add(ref input, x) >> shift) & mask) ^ signFlip;
            Unsafe.Add(ref output, x) = Unsafe.Add(ref table, Math.Clamp(index, low, high) - low);
        }
    }

    /// <summary>The word-permute lookup of the whole 64-sample groups; returns how many samples it mapped.</summary>
    private int MapByWords(ref ushort input, int shift, int mask, int signFlip, ref byte output, int length)
    {
        if (!Avx512BW.IsSupported || !Vector512.IsHardwareAccelerated)
        {
            return 0;
        }

        ref var table = ref MemoryMarshal.GetArrayDataReference(words!);
        var vectorMask = Vector512.Create((ushort)mask);
        var vectorFlip = Vector512.Create((ushort)signFlip);
        var vectorLow = Vector512.Create(low);
        var vectorHigh = Vector512.Create(high);
        var first = Vector512.LoadUnsafe(ref table, 0);
        var second = Vector512.LoadUnsafe(ref table, 32);
        var x = 0;
        for (; x + 64 <= length; x += 64)
        {
            var a = Index(Vector512.LoadUnsafe(ref input, (nuint)x));
            var b = Index(Vector512.LoadUnsafe(ref input, (nuint)(x + 32)));
            Vector512.Narrow(LookupWords(a, ref table, first, second, chunkCount), LookupWords(b, ref table, first, second, chunkCount)).StoreUnsafe(ref output, (nuint)x);
        }

        return x;

        Vector512<ushort> Index(Vector512<ushort> raw) =>
            Vector512.Min(Vector512.Max((Vector512.ShiftRightLogical(raw, shift) & vectorMask) ^ vectorFlip, vectorLow), vectorHigh) - vectorLow;
    }

    /// <summary>Table values of 32 indices (clamped into the table) by word permutes over 64-entry chunks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ushort> LookupWords(Vector512<ushort> index, ref ushort table, Vector512<ushort> first, Vector512<ushort> second, int chunkCount)
    {
        // vpermi2w reads the low 6 bits of each index; bits 6 and up say which chunk.
        var result = Avx512BW.PermuteVar32x16x2(first, index, second);
        if (chunkCount > 1)
        {
            var chunk = Vector512.ShiftRightLogical(index, 6);
            for (var c = 1; c < chunkCount; c++)
            {
                var lookup = Avx512BW.PermuteVar32x16x2(
                    Vector512.LoadUnsafe(ref table, (nuint)(c * 64)), index, Vector512.LoadUnsafe(ref table, (nuint)((c * 64) + 32)));
                result = Vector512.ConditionalSelect(Vector512.Equals(chunk, Vector512.Create((ushort)c)), lookup, result);
            }
        }

        return result;
    }
}
