using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace Hounsfield.Server.Hosting;

/// <summary>
/// The memory Kestrel reads requests into and writes responses from, in blocks of <see cref="BlockSize"/> rather than its
/// own 4 KiB. A socket read fills at most one block, and every filled block wakes the request's reader: a 130 KB STOW-RS
/// part took 33 reads (66 receive calls with the zero-byte wait before each) and ~127 futex calls per request, against 6
/// and 16 in 64 KiB blocks. Large responses (WADO-RS) leave in correspondingly fewer sends.
/// </summary>
/// <remarks>
/// Blocks are pinned (the socket layer hands them to the kernel) and reused. Idle connections hold none: Kestrel waits for
/// data before it asks for a block. At most <see cref="MaxRetainedBlocks"/> free blocks are kept; beyond a burst's peak the
/// rest go back to the garbage collector.
/// </remarks>
internal sealed class LargeBlockMemoryPool : MemoryPool<byte>
{
    /// <summary>64 KiB: the most one read of a loopback or LAN socket returns in practice.</summary>
    public const int BlockSize = 64 * 1024;

    /// <summary>Free blocks kept for reuse: 16 MiB.</summary>
    public const int MaxRetainedBlocks = 256;

    private readonly ConcurrentQueue<byte[]> free = new();
    private int freeCount;

    public override int MaxBufferSize => BlockSize;

    /// <summary>Free blocks held for reuse now.</summary>
    public int RetainedBlocks => Volatile.Read(ref freeCount);

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        if (free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref freeCount);
        }
        else
        {
            block = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);
        }

        return new Lease(this, block);
    }

    private void Return(byte[] block)
    {
        if (Interlocked.Increment(ref freeCount) <= MaxRetainedBlocks)
        {
            free.Enqueue(block);
        }
        else
        {
            Interlocked.Decrement(ref freeCount);
        }
    }

    protected override void Dispose(bool disposing)
    {
        while (free.TryDequeue(out _))
        {
            Interlocked.Decrement(ref freeCount);
        }
    }

    private sealed class Lease(LargeBlockMemoryPool pool, byte[] block) : IMemoryOwner<byte>
    {
        private byte[]? leased = block;

        public Memory<byte> Memory => leased ?? throw new ObjectDisposedException(nameof(LargeBlockMemoryPool), "The block was returned to its pool.");

        public void Dispose()
        {
            if (Interlocked.Exchange(ref leased, null) is { } returned)
            {
                pool.Return(returned);
            }
        }
    }

    /// <summary>Kestrel's transports ask this (from the services) for their memory pools.</summary>
    public sealed class Factory : IMemoryPoolFactory<byte>
    {
        private int created;

        /// <summary>Pools created so far (one per transport I/O queue).</summary>
        public int Created => Volatile.Read(ref created);

        public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
        {
            Interlocked.Increment(ref created);
            return new LargeBlockMemoryPool();
        }
    }
}

internal static class LargeBlockMemoryPoolServices
{
    /// <summary>Kestrel reads and writes through <see cref="LargeBlockMemoryPool"/>s (registered after Kestrel's own factory, so it wins).</summary>
    public static IServiceCollection AddLargeBlockMemoryPool(this IServiceCollection services) =>
        services.AddSingleton<IMemoryPoolFactory<byte>, LargeBlockMemoryPool.Factory>();
}
