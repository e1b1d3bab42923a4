using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Hounsfield.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Hounsfield.Server.Tests;

/// <summary>The 64 KiB blocks Kestrel reads requests into: reuse, the retention bound, misuse, and a real Kestrel using them.</summary>
public sealed class LargeBlockMemoryPoolTests
{
    [Fact]
    public void ABlockIsReusedOnceReturnedAndOnlyOnce()
    {
        using var pool = new LargeBlockMemoryPool();
        var first = pool.Rent(1);
        var block = ArrayOf(first.Memory);
        Assert.Equal(LargeBlockMemoryPool.BlockSize, block.Length);
        first.Dispose();
        first.Dispose();
        Assert.Equal(1, pool.RetainedBlocks);

        using var second = pool.Rent();
        using var third = pool.Rent();
        Assert.Same(block, ArrayOf(second.Memory));
        Assert.NotSame(block, ArrayOf(third.Memory));
        Assert.Equal(0, pool.RetainedBlocks);
        Assert.Throws<ObjectDisposedException>(() => first.Memory);
    }

    [Fact]
    public void FreeBlocksBeyondTheBoundAreNotKept()
    {
        using var pool = new LargeBlockMemoryPool();
        var leases = Enumerable.Range(0, LargeBlockMemoryPool.MaxRetainedBlocks + 40).Select(_ => pool.Rent()).ToList();
        Assert.Equal(leases.Count, leases.Select(lease => ArrayOf(lease.Memory)).Distinct().Count());
        leases.ForEach(lease => lease.Dispose());
        Assert.Equal(LargeBlockMemoryPool.MaxRetainedBlocks, pool.RetainedBlocks);
    }

    [Fact]
    public void ARequestLargerThanABlockIsRefused()
    {
        using var pool = new LargeBlockMemoryPool();
        Assert.Equal(LargeBlockMemoryPool.BlockSize, pool.MaxBufferSize);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(LargeBlockMemoryPool.BlockSize + 1));
    }

    [Fact]
    public async Task KestrelReadsAndWritesThroughThePool()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddLargeBlockMemoryPool();
        await using var app = builder.Build();
        app.MapPost("/echo-hash", async (HttpRequest request) =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[10_000];
            int read;
            while ((read = await request.Body.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }

            return Results.Bytes(hash.GetHashAndReset());
        });
        app.MapGet("/bytes", () => Results.Bytes(Payload()));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();

        using var client = new HttpClient { BaseAddress = new Uri(address) };
        var payload = Payload();
        using var posted = await client.PostAsync("/echo-hash", new ByteArrayContent(payload));
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Equal(SHA256.HashData(payload), await posted.Content.ReadAsByteArrayAsync());
        Assert.Equal(payload, await client.GetByteArrayAsync("/bytes"));

        var factory = Assert.IsType<LargeBlockMemoryPool.Factory>(app.Services.GetRequiredService<IMemoryPoolFactory<byte>>());
        Assert.True(factory.Created > 0, "Kestrel did not take its memory pool from the registered factory.");
        await app.StopAsync();
    }

    /// <summary>3 MB that no block boundary divides evenly.</summary>
    private static byte[] Payload()
    {
        var payload = new byte[3_000_017];
        new Random(7).NextBytes(payload);
        return payload;
    }

    private static byte[] ArrayOf(Memory<byte> memory) =>
        MemoryMarshal.TryGetArray<byte>(memory, out var segment) ? segment.Array! : throw new InvalidOperationException("Not an array.");
}
