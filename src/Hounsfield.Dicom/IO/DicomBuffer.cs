namespace Hounsfield.Dicom.IO;

/// <summary>
/// The bytes of one value, always in little-endian byte order. Either held in memory or a range of a
/// seekable source read on demand, so that a large Pixel Data value is never loaded whole.
/// </summary>
public abstract class DicomBuffer
{
    public static readonly DicomBuffer Empty = new MemoryDicomBuffer(ReadOnlyMemory<byte>.Empty);

    public abstract long Length { get; }

    public abstract bool IsInMemory { get; }

    /// <summary>The whole value; a lazy buffer reads it from its source now (and fails above 2 GB).</summary>
    public abstract ReadOnlyMemory<byte> GetMemory();

    /// <summary>Copies up to <paramref name="destination"/>.Length bytes from <paramref name="offset"/>; returns the count copied.</summary>
    public abstract int Read(long offset, Span<byte> destination);

    public virtual async Task CopyToAsync(Stream destination, CancellationToken cancellationToken = default)
    {
        await destination.WriteAsync(GetMemory(), cancellationToken).ConfigureAwait(false);
    }

    public virtual void CopyTo(Stream destination) => destination.Write(GetMemory().Span);

    public static DicomBuffer FromBytes(ReadOnlyMemory<byte> bytes) => bytes.IsEmpty ? Empty : new MemoryDicomBuffer(bytes);
}

public sealed class MemoryDicomBuffer(ReadOnlyMemory<byte> bytes) : DicomBuffer
{
    public override long Length => bytes.Length;

    public override bool IsInMemory => true;

    public override ReadOnlyMemory<byte> GetMemory() => bytes;

    public override int Read(long offset, Span<byte> destination)
    {
        if (offset >= bytes.Length)
        {
            return 0;
        }

        var count = (int)Math.Min(destination.Length, bytes.Length - offset);
        bytes.Span.Slice((int)offset, count).CopyTo(destination);
        return count;
    }
}

/// <summary>A range of a seekable source (a file), opened for each read through the factory.</summary>
public sealed class StreamRangeDicomBuffer : DicomBuffer
{
    private const int CopyChunk = 81920;
    private readonly Func<Stream> openSource;

    public StreamRangeDicomBuffer(Func<Stream> openSource, long offset, long length)
    {
        this.openSource = openSource;
        Offset = offset;
        Length = length;
    }

    public long Offset { get; }

    public override long Length { get; }

    public override bool IsInMemory => false;

    public override ReadOnlyMemory<byte> GetMemory()
    {
        if (Length > Array.MaxLength)
        {
            throw new InvalidOperationException($"A value of {Length} bytes cannot be held in memory; read it by range.");
        }

        var bytes = new byte[Length];
        var read = Read(0, bytes);
        if (read != Length)
        {
            throw new DicomFormatException($"The source ended after {read} of {Length} bytes of a value", Offset + read, null);
        }

        return bytes;
    }

    public override int Read(long offset, Span<byte> destination)
    {
        if (offset >= Length)
        {
            return 0;
        }

        using var source = openSource();
        source.Seek(Offset + offset, SeekOrigin.Begin);
        var wanted = (int)Math.Min(destination.Length, Length - offset);
        var total = 0;
        while (total < wanted)
        {
            var n = source.Read(destination[total..wanted]);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    public override void CopyTo(Stream destination)
    {
        using var source = openSource();
        source.Seek(Offset, SeekOrigin.Begin);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(CopyChunk);
        try
        {
            var remaining = Length;
            while (remaining > 0)
            {
                var n = source.Read(buffer, 0, (int)Math.Min(buffer.Length, remaining));
                if (n == 0)
                {
                    throw new DicomFormatException($"The source ended {remaining} bytes before the end of a value", Offset + Length - remaining, null);
                }

                destination.Write(buffer, 0, n);
                remaining -= n;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public override async Task CopyToAsync(Stream destination, CancellationToken cancellationToken = default)
    {
        await using var source = openSource();
        source.Seek(Offset, SeekOrigin.Begin);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(CopyChunk);
        try
        {
            var remaining = Length;
            while (remaining > 0)
            {
                var n = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new DicomFormatException($"The source ended {remaining} bytes before the end of a value", Offset + Length - remaining, null);
                }

                await destination.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                remaining -= n;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
