// ZIP archives (PKWARE APPNOTE 6.3: end of central directory record §4.3.16, zip64 §4.3.14-15), read from memory.
using System.Buffers.Binary;
using System.IO.Compression;

namespace Hounsfield.Server.Developer;

/// <summary>
/// The entries of an uploaded .zip, inflated one at a time into memory under the limits of <see cref="DicomServicesOptions"/>:
/// the entry count is checked from the end-of-central-directory record before any entry is parsed, and the sizes and
/// compression ratio are counted while inflating — the sizes the archive declares are not trusted.
/// </summary>
internal static class ZipUpload
{
    private const uint EndOfCentralDirectorySignature = 0x06054B50;
    private const uint Zip64LocatorSignature = 0x07064B50;
    private const uint Zip64EndSignature = 0x06064B50;
    private const int ChunkSize = 64 * 1024;

    /// <summary>Whether <paramref name="data"/> starts like a .zip (a local file header, or the end record of an empty archive).</summary>
    public static bool IsZip(ReadOnlySpan<byte> data) =>
        data.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(data) is 0x04034B50 or EndOfCentralDirectorySignature;

    /// <summary>
    /// The file entries (directories skipped) with their inflated bytes, in archive order. Each entry's bytes are valid until
    /// the next one is read. Throws <see cref="DicomServiceException"/> (400 on "file") for a corrupt archive or a limit exceeded.
    /// </summary>
    public static IEnumerable<(string Name, ReadOnlyMemory<byte> Content)> ReadEntries(ReadOnlyMemory<byte> zip, DicomServicesOptions options, CancellationToken cancellationToken)
    {
        var declared = DeclaredEntryCount(zip.Span);
        if (declared > (ulong)options.MaxZipEntries)
        {
            throw Limit($"The zip archive has {declared} entries; at most {options.MaxZipEntries} are accepted (Developer:MaxZipEntries).");
        }

        var source = new ReadOnlyMemoryStream(zip);
        using var archive = Open(source);
        var entries = ReadDirectory(archive);
        if (entries.Count > options.MaxZipEntries)
        {
            throw Limit($"The zip archive has {entries.Count} entries; at most {options.MaxZipEntries} are accepted (Developer:MaxZipEntries).");
        }

        long total = 0;
        foreach (var entry in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (entry.FullName.EndsWith('/') && entry.Length == 0)
            {
                continue;
            }

            if (entry.IsEncrypted)
            {
                throw Limit($"The zip entry '{entry.FullName}' is encrypted.");
            }

            var content = Inflate(entry, source, options, ref total);
            yield return (entry.FullName, content);
        }
    }

    /// <summary>The total entry count of the end-of-central-directory record (zip64 when present), or 0 when there is none (ZipArchive then refuses the data).</summary>
    private static ulong DeclaredEntryCount(ReadOnlySpan<byte> data)
    {
        var lowest = Math.Max(0, data.Length - 22 - ushort.MaxValue);
        for (var position = data.Length - 22; position >= lowest; position--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(data[position..]) != EndOfCentralDirectorySignature)
            {
                continue;
            }

            ulong count = BinaryPrimitives.ReadUInt16LittleEndian(data[(position + 10)..]);
            var locator = position - 20;
            if (locator >= 0 && data.Length >= 56 && BinaryPrimitives.ReadUInt32LittleEndian(data[locator..]) == Zip64LocatorSignature)
            {
                var offset = BinaryPrimitives.ReadUInt64LittleEndian(data[(locator + 8)..]);
                if (offset <= (ulong)(data.Length - 56) && BinaryPrimitives.ReadUInt32LittleEndian(data[(int)offset..]) == Zip64EndSignature)
                {
                    count = Math.Max(count, BinaryPrimitives.ReadUInt64LittleEndian(data[((int)offset + 32)..]));
                }
            }

            return count;
        }

        return 0;
    }

    private static ZipArchive Open(ReadOnlyMemoryStream source)
    {
        try
        {
            return new ZipArchive(source, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            throw Limit($"Invalid zip archive: {ex.Message}");
        }
    }

    /// <summary>The central directory, which ZipArchive parses on first use.</summary>
    private static IReadOnlyList<ZipArchiveEntry> ReadDirectory(ZipArchive archive)
    {
        try
        {
            return archive.Entries;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            throw Limit($"Invalid zip archive: {ex.Message}");
        }
    }

    /// <summary>
    /// Inflates one entry. The ratio compares the bytes inflated with the bytes of the archive read for them so far (the
    /// local header and the inflater's read-ahead included), so a bomb is caught early in its stream, whatever it declares.
    /// </summary>
    private static ReadOnlyMemory<byte> Inflate(ZipArchiveEntry entry, ReadOnlyMemoryStream source, DicomServicesOptions options, ref long total)
    {
        var start = source.BytesRead;
        // The declared size only sizes the first buffer, and at most 1 MiB of it: the archive may lie.
        var buffer = new byte[(int)Math.Clamp(Math.Min(entry.Length, options.MaxZipEntryBytes), ChunkSize, 1024 * 1024)];
        var length = 0;
        try
        {
            using var stream = entry.Open();
            while (true)
            {
                if (buffer.Length - length < ChunkSize)
                {
                    Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, Array.MaxLength));
                }

                var read = stream.Read(buffer, length, ChunkSize);
                if (read == 0)
                {
                    return buffer.AsMemory(0, length);
                }

                length += read;
                total += read;
                if (length > options.MaxZipEntryBytes)
                {
                    throw Limit($"The zip entry '{entry.FullName}' inflates to more than {options.MaxZipEntryBytes} bytes (Developer:MaxZipEntryBytes).");
                }

                if (total > options.MaxZipTotalBytes)
                {
                    throw Limit($"The zip archive inflates to more than {options.MaxZipTotalBytes} bytes (Developer:MaxZipTotalBytes).");
                }

                if (length > options.ZipRatioThresholdBytes && (double)length / Math.Max(1, source.BytesRead - start) > options.MaxZipCompressionRatio)
                {
                    throw Limit($"The zip entry '{entry.FullName}' inflates more than {options.MaxZipCompressionRatio}:1 (Developer:MaxZipCompressionRatio); it looks like a zip bomb.");
                }
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or NotSupportedException or IOException)
        {
            throw Limit($"The zip entry '{entry.FullName}' cannot be inflated: {ex.Message}");
        }
    }

    private static DicomServiceException Limit(string message) => DicomServiceException.Field("file", message);

    /// <summary>A read-only, seekable stream over memory, so the archive is read where the upload already is.</summary>
    private sealed class ReadOnlyMemoryStream(ReadOnlyMemory<byte> memory) : Stream
    {
        private long position;

        /// <summary>Bytes handed out by Read since the stream was made (seeks do not count).</summary>
        public long BytesRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => memory.Length;

        public override long Position
        {
            get => position;
            set => position = value is >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (position >= memory.Length)
            {
                return 0;
            }

            var count = (int)Math.Min(buffer.Length, memory.Length - position);
            memory.Span.Slice((int)position, count).CopyTo(buffer);
            position += count;
            BytesRead += count;
            return count;
        }

        /// <summary>Seeking before the start is an <see cref="IOException"/>, as for any stream: ZipArchive seeks back from the end by the sizes it expects.</summary>
        public override long Seek(long offset, SeekOrigin origin)
        {
            var target = origin switch
            {
                SeekOrigin.Begin => offset,
                SeekOrigin.Current => position + offset,
                _ => memory.Length + offset,
            };
            if (target < 0)
            {
                throw new IOException("An attempt was made to move the position before the beginning of the stream.");
            }

            position = target;
            return position;
        }

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
