using Hounsfield.Archive.Blobs;

namespace Hounsfield.Server.Tests;

/// <summary>The buffers incoming blobs are received into: their lengths, reuse across threads, and the retention bound.</summary>
public sealed class ReceiveBufferPoolTests
{
    [Theory]
    [InlineData(0, 64 * 1024)]
    [InlineData(1, 64 * 1024)]
    [InlineData(64 * 1024, 64 * 1024)]
    [InlineData(64 * 1024 + 1, 128 * 1024)]
    [InlineData(132_436, 256 * 1024)]
    [InlineData(8 * 1024 * 1024, 8 * 1024 * 1024)]
    public void A_buffer_is_the_next_power_of_two_of_at_least_64_KiB(int asked, int expected)
    {
        var pool = new ReceiveBufferPool(8 * 1024 * 1024, retainedBytes: 0);
        Assert.Equal(expected, pool.Rent(asked).Length);
    }

    [Fact]
    public void A_buffer_returned_on_one_thread_is_rented_again_on_another()
    {
        var pool = new ReceiveBufferPool(1024 * 1024, retainedBytes: 1024 * 1024);
        var buffer = pool.Rent(200_000);

        OnNewThread(() => pool.Return(buffer));
        Assert.Equal(buffer.Length, pool.RetainedBytes);
        var again = OnNewThread(() => pool.Rent(150_000));

        Assert.Same(buffer, again);
        Assert.Equal(0, pool.RetainedBytes);
        Assert.NotSame(buffer, pool.Rent(150_000));
    }

    [Fact]
    public void Free_buffers_beyond_the_retained_bytes_are_not_kept()
    {
        var pool = new ReceiveBufferPool(1024 * 1024, retainedBytes: 256 * 1024);
        var buffers = Enumerable.Range(0, 4).Select(_ => pool.Rent(128 * 1024)).ToList();
        buffers.ForEach(pool.Return);
        Assert.Equal(256 * 1024, pool.RetainedBytes);

        var rented = Enumerable.Range(0, 3).Select(_ => pool.Rent(128 * 1024)).ToList();
        Assert.Equal(2, rented.Count(buffer => buffers.Contains(buffer)));
        Assert.Equal(0, pool.RetainedBytes);
    }

    [Fact]
    public void An_array_of_a_length_no_bucket_has_is_not_kept()
    {
        var pool = new ReceiveBufferPool(1024 * 1024, retainedBytes: 1024 * 1024);
        var foreign = new byte[100_000];
        pool.Return(foreign);
        pool.Return(new byte[2 * 1024 * 1024]);

        Assert.Equal(0, pool.RetainedBytes);
        Assert.NotSame(foreign, pool.Rent(100_000));
    }

    private static T OnNewThread<T>(Func<T> work)
    {
        T result = default!;
        var thread = new Thread(() => result = work());
        thread.Start();
        thread.Join();
        return result;
    }

    private static void OnNewThread(Action work) => OnNewThread(() =>
    {
        work();
        return 0;
    });
}
