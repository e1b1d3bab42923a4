using System.Collections.Concurrent;
using System.Numerics;

namespace Hounsfield.Archive.Blobs;

/// <summary>
/// The buffers incoming blobs are held in until their commit, reused by whichever thread receives next. ArrayPool.Shared
/// keeps a returned array with the thread that returned it, and a request's continuations move between pool threads: a
/// receive on another thread then got a new array, whose fresh pages faulted in as they were written (about 4,400 faults,
/// half the CPU time, of a warm 25 MB STOW-RS request). Buffers are powers of two from <see cref="MinLength"/>; at most
/// <c>retainedBytes</c> of them are kept, the rest go back to the garbage collector.
/// </summary>
internal sealed class ReceiveBufferPool
{
    public const int MinLength = 64 * 1024;

    /// <summary>The longest buffer kept: 1 GiB, the largest power of two an array can have.</summary>
    public const int MaxPooledLength = 1 << 30;

    private readonly ConcurrentStack<byte[]>[] buckets;
    private readonly long retainedBytes;
    private long retained;

    /// <param name="maxLength">The longest buffer asked for.</param>
    /// <param name="retainedBytes">The most bytes of free buffers kept.</param>
    public ReceiveBufferPool(int maxLength, long retainedBytes)
    {
        buckets = new ConcurrentStack<byte[]>[BucketOf(Math.Clamp(maxLength, MinLength, MaxPooledLength)) + 1];
        for (var i = 0; i < buckets.Length; i++)
        {
            buckets[i] = new ConcurrentStack<byte[]>();
        }

        this.retainedBytes = retainedBytes;
    }

    /// <summary>Free buffers kept now, in bytes.</summary>
    public long RetainedBytes => Volatile.Read(ref retained);

    /// <summary>
    /// A buffer of at least <paramref name="minimumLength"/> bytes: the next power of two, at least <see cref="MinLength"/>;
    /// beyond <see cref="MaxPooledLength"/>, exactly that long and not kept once returned.
    /// </summary>
    public byte[] Rent(int minimumLength)
    {
        if (minimumLength > MaxPooledLength)
        {
            return GC.AllocateUninitializedArray<byte>(minimumLength);
        }

        var bucket = BucketOf(minimumLength);
        if (bucket < buckets.Length && buckets[bucket].TryPop(out var buffer))
        {
            Interlocked.Add(ref retained, -buffer.Length);
            return buffer;
        }

        return GC.AllocateUninitializedArray<byte>(MinLength << bucket);
    }

    public void Return(byte[] buffer)
    {
        var bucket = BucketOf(buffer.Length);
        if (buffer.Length > MaxPooledLength || !BitOperations.IsPow2(buffer.Length) || bucket >= buckets.Length)
        {
            return;
        }

        if (Interlocked.Add(ref retained, buffer.Length) <= retainedBytes)
        {
            buckets[bucket].Push(buffer);
        }
        else
        {
            Interlocked.Add(ref retained, -buffer.Length);
        }
    }

    private static int BucketOf(int length) =>
        length <= MinLength ? 0 : BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)length)) - BitOperations.Log2(MinLength);
}
