using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Hounsfield.Archive.Blobs;

/// <summary>
/// Blobs as files under a folder; keys are relative paths made of hex names only, so no key escapes the folder.
/// An incoming blob is held in memory up to <c>inMemoryLimit</c> bytes and written under its key with one write and one
/// fsync at its commit; a larger one spills to a temporary file as it arrives and is renamed at its commit.
/// </summary>
public sealed class FolderBlobStore : IBlobStore
{
    private const string TemporaryFolder = "tmp";
    private readonly string root;
    private readonly int inMemoryLimit;
    private readonly ConcurrentDictionary<string, bool> createdFolders = new(StringComparer.Ordinal);

    public FolderBlobStore(string root, int inMemoryLimit = 8 * 1024 * 1024)
    {
        this.root = Path.GetFullPath(root);
        this.inMemoryLimit = inMemoryLimit;
        Directory.CreateDirectory(Path.Combine(this.root, TemporaryFolder));
    }

    public ITemporaryBlob CreateTemporary() => new TemporaryBlob(this);

    public Stream OpenRead(string key) =>
        new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.SequentialScan);

    public Func<Stream> Reopener(string key)
    {
        var path = PathOf(key);
        return () => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.RandomAccess);
    }

    public bool Exists(string key) => File.Exists(PathOf(key));

    public void Delete(string key)
    {
        var path = PathOf(key);
        if (File.Exists(path))
        {
            File.Delete(path);
        }
    }

    public IEnumerable<string> EnumerateKeys()
    {
        foreach (var path in Directory.EnumerateFiles(root, "*.dcm", SearchOption.AllDirectories))
        {
            var key = Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/');
            if (!key.StartsWith(TemporaryFolder + "/", StringComparison.Ordinal))
            {
                yield return key;
            }
        }
    }

    public void DeleteTemporaries()
    {
        foreach (var path in Directory.EnumerateFiles(Path.Combine(root, TemporaryFolder)))
        {
            File.Delete(path);
        }
    }

    private string PathOf(string key)
    {
        foreach (var c in key)
        {
            if (!(char.IsAsciiHexDigitLower(c) || c == '/' || c == '.' || char.IsAsciiLetterLower(c)) || key.Contains("..", StringComparison.Ordinal))
            {
                throw new ArgumentException($"'{key}' is not a blob key.", nameof(key));
            }
        }

        return Path.Combine(root, key.Replace('/', Path.DirectorySeparatorChar));
    }

    private string NewTemporaryPath() => Path.Combine(root, TemporaryFolder, Guid.NewGuid().ToString("N"));

    /// <summary>Moves a durable temporary file under <paramref name="key"/>, replacing a blob of that key.</summary>
    private void Publish(string temporaryPath, string key)
    {
        var target = PathOf(key);
        var folder = EnsureFolderOf(target);
        File.Move(temporaryPath, target, overwrite: true);
        DirectoryEntries.Flush(folder);
    }

    /// <summary>
    /// Writes a blob whose key is free straight under it: created, written and flushed in place, with no rename. Flushing a
    /// new file also makes its folder entry durable: journaling file systems (ext4, XFS) commit the creation with it, and ext4
    /// without a journal flushes the new entry's folders itself (its fsync walks up the folders created since), so
    /// one flush does what the temporary file, its flush, the rename and the folder's flush do. A crash before the index row
    /// leaves a blob the index does not know, which start-up removes. False when the key is taken (a replacement goes
    /// through <see cref="Publish"/>, so the stored copy stays whole until the new one is durable).
    /// </summary>
    private bool TryWriteNew(string key, ReadOnlyMemory<byte> bytes)
    {
        var target = PathOf(key);
        EnsureFolderOf(target);
        try
        {
            WriteNewFile(target, bytes);
            return true;
        }
        catch (IOException) when (File.Exists(target))
        {
            return false; // taken (a failed write removes what it created, so the file found is another's)
        }
    }

    /// <summary>Creates <paramref name="path"/> (which must not exist), writes <paramref name="bytes"/> and flushes them to disk; on failure nothing is left there.</summary>
    private static void WriteNewFile(string path, ReadOnlyMemory<byte> bytes)
    {
        using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None, bytes.Length);
        try
        {
            RandomAccess.Write(handle, bytes.Span, 0);
            RandomAccess.FlushToDisk(handle);
        }
        catch
        {
            handle.Dispose();
            File.Delete(path);
            throw;
        }
    }

    private string EnsureFolderOf(string path)
    {
        var folder = Path.GetDirectoryName(path)!;
        if (!createdFolders.ContainsKey(folder))
        {
            Directory.CreateDirectory(folder);
            createdFolders.TryAdd(folder, true);
        }

        return folder;
    }

    private sealed class TemporaryBlob(FolderBlobStore store) : ITemporaryBlob
    {
        private readonly SpillingStream content = new(store.inMemoryLimit, store.NewTemporaryPath);
        private bool committed;

        public Stream Content => content;

        public ReadOnlyMemory<byte>? Memory => content.File is null ? content.Buffered : (ReadOnlyMemory<byte>?)null;

        public string? Path => content.File is null ? null : content.FilePath;

        public async Task CommitAsync(string key, CancellationToken cancellationToken)
        {
            string path;
            if (content.File is { } file)
            {
                await file.FlushAsync(cancellationToken);
                file.Flush(flushToDisk: true);
                await file.DisposeAsync();
                path = content.FilePath!;
            }
            else if (store.TryWriteNew(key, content.Buffered))
            {
                committed = true;
                return;
            }
            else
            {
                path = store.NewTemporaryPath();
                WriteNewFile(path, content.Buffered);
            }

            try
            {
                store.Publish(path, key);
            }
            catch
            {
                File.Delete(path);
                throw;
            }

            committed = true;
        }

        public async ValueTask DisposeAsync()
        {
            var path = content.FilePath;
            await content.DisposeAsync();
            if (!committed && path is not null && File.Exists(path))
            {
                File.Delete(path);
            }
        }
    }

    /// <summary>A write-only stream into a pooled buffer that moves to a new temporary file once it would exceed its limit.</summary>
    private sealed class SpillingStream(int limit, Func<string> newFilePath) : Stream
    {
        private const int FirstBufferLength = 64 * 1024;
        private byte[]? buffer;
        private int count;

        public FileStream? File { get; private set; }

        public string? FilePath { get; private set; }

        public ReadOnlyMemory<byte> Buffered => buffer.AsMemory(0, count);

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => File?.Length ?? count;

        public override long Position { get => Length; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> bytes)
        {
            if (File is null && !TryBuffer(bytes))
            {
                Spill();
            }

            File?.Write(bytes);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
        {
            if (File is null && TryBuffer(bytes.Span))
            {
                return ValueTask.CompletedTask;
            }

            if (File is null)
            {
                Spill();
            }

            return File!.WriteAsync(bytes, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => File?.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => File?.FlushAsync(cancellationToken) ?? Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                File?.Dispose();
                Release();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            if (File is not null)
            {
                await File.DisposeAsync();
            }

            Release();
            await base.DisposeAsync();
        }

        private bool TryBuffer(ReadOnlySpan<byte> bytes)
        {
            var needed = (long)count + bytes.Length;
            if (needed > limit)
            {
                return false;
            }

            if (buffer is null || needed > buffer.Length)
            {
                var grown = ArrayPool<byte>.Shared.Rent((int)Math.Min(limit, Math.Max(needed, Math.Max(FirstBufferLength, (buffer?.Length ?? 0) * 2L))));
                buffer.AsSpan(0, count).CopyTo(grown);
                Release();
                buffer = grown;
            }

            bytes.CopyTo(buffer.AsSpan(count));
            count += bytes.Length;
            return true;
        }

        private void Spill()
        {
            FilePath = newFilePath();
            File = new FileStream(FilePath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, 64 * 1024);
            File.Write(buffer.AsSpan(0, count));
            Release();
            count = 0;
        }

        private void Release()
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
            }
        }
    }

    /// <summary>
    /// Makes a folder's entries durable (fsync of the folder, POSIX): without it a rename acknowledged a moment before a
    /// power loss can be undone by the file system, leaving the instance in the temporary folder, which start-up clears.
    /// A folder created just before gets its own entry durable by the same flush (journaling file systems commit metadata
    /// changes in order; ext4 without a journal flushes newly created parent folders in fsync), so its parent is not
    /// flushed as well.
    /// </summary>
    private static class DirectoryEntries
    {
        private const int ReadOnlyDirectory = 0x10000; // O_RDONLY | O_DIRECTORY on Linux

        public static void Flush(string folder)
        {
            if (!OperatingSystem.IsLinux())
            {
                return; // Windows has no folder flush; macOS and the BSDs differ in the flag values above.
            }

            var descriptor = Open(folder, ReadOnlyDirectory);
            if (descriptor < 0)
            {
                throw new IOException($"Could not open folder {folder} to flush it (errno {Marshal.GetLastPInvokeError()}).");
            }

            try
            {
                if (Fsync(descriptor) != 0)
                {
                    throw new IOException($"Could not flush folder {folder} (errno {Marshal.GetLastPInvokeError()}).");
                }
            }
            finally
            {
                Close(descriptor);
            }
        }

        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
        private static extern int Fsync(int descriptor);

        [DllImport("libc", EntryPoint = "close")]
        private static extern int Close(int descriptor);
    }
}
