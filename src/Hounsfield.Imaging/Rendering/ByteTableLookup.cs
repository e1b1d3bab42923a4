using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Hounsfield.Imaging.Rendering;

/// <summary>
/// A byte table over 16-bit indices, looked up 64 samples at a time with AVX-512 VBMI byte permutes (vpermi2b: 128
/// entries per permute). Only the part of the table between its constant ends is kept (a window saturates to 0 and 255
/// outside it): indices are clamped into it, then each 128-entry chunk is looked up and the right chunk's bytes chosen.
/// </summary>
internal sealed class ByteTableLookup
{
    /// <summary>Beyond 32 chunks a permute per chunk costs more than a scalar lookup per sample.</summary>
    private const int MaxChunks = 32;

    private readonly byte[] chunks;
    private readonly int chunkCount;
    private readonly ushort low;
    private readonly ushort high;

    private ByteTableLookup(byte[] chunks, int chunkCount, int low, int high)
    {
        this.chunks = chunks;
        this.chunkCount = chunkCount;
        this.low = (ushort)low;
        this.high = (ushort)high;
    }

    public static bool IsSupported => Avx512Vbmi.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>
    /// The lookup of <paramref name="table"/> for indices <paramref name="first"/>..<paramref name="last"/> (the ones that
    /// occur), or null when the hardware has no byte permutes or the table's varying part is too long.
    /// </summary>
    public static ByteTableLookup? Create(ReadOnlySpan<byte> table, int first, int last)
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

        var chunkCount = ((high - low) / 128) + 1;
        if (chunkCount > MaxChunks)
        {
            return null;
        }

        var chunks = new byte[chunkCount * 128];
        table[low..(high + 1)].CopyTo(chunks);
        return new ByteTableLookup(chunks, chunkCount, low, high);
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
        if (IsSupported)
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
}
