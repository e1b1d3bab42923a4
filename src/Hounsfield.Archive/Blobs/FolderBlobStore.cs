using System.Collections.Concurrent;

namespace Hounsfield.Archive.Blobs;

/// <summary>
/// Blobs under a folder. An incoming blob is held in memory up to <c>inMemoryLimit</c> bytes and appended at its commit to
/// a segment file shared with other small blobs (<see cref="BlobSegments"/>); a larger one spills to a temporary file as it
/// arrives and becomes a file of its own at its commit, renamed under its key. File keys are relative paths made of hex
/// names only, so no key escapes the folder.
/// </summary>
public sealed class FolderBlobStore : IBlobStore, IDisposable
{
    private const string TemporaryFolder = "tmp";
    private const string SegmentsFolder = "segments";

    /// <summary>
    /// The longest first buffer a blob gets from the one before it: small instances after a large one do not each hold a
    /// buffer of the large one's size (1 MiB holds a 512 x 512 CT image).
    /// </summary>
    private const int MaxExpectedLength = 1024 * 1024;
    private readonly string root;
    private readonly int inMemoryLimit;
    private readonly ReceiveBufferPool receiveBuffers;
    private readonly BlobSegments segments;
    private readonly ConcurrentDictionary<string, bool> createdFolders = new(StringComparer.Ordinal);

    /// <summary>
    /// The length of the last blob committed from memory: the next one, likely of the same kind, is received into a buffer
    /// that long, up to <see cref="MaxExpectedLength"/>.
    /// </summary>
    private int lastInMemoryLength;

    /// <param name="root">The folder.</param>
    /// <param name="inMemoryLimit">The longest blob held in memory and stored as a segment record; longer ones become files.</param>
    /// <param name="maxSegmentLength">The length past which a segment that grows takes no more records (the next one starts a new segment).</param>
    /// <param name="spareSegmentLength">The length of the spare segment made ahead (<see cref="SpareSegment"/>); 0 for none.</param>
    /// <param name="idleBeforeSpare">How long appends must have paused before the next spare segment is made. Default 1 s.</param>
    public FolderBlobStore(string root, int inMemoryLimit = 8 * 1024 * 1024, long maxSegmentLength = 1L << 30, long spareSegmentLength = 0, TimeSpan? idleBeforeSpare = null)
    {
        this.root = Path.GetFullPath(root);
        this.inMemoryLimit = inMemoryLimit;
        receiveBuffers = new ReceiveBufferPool(inMemoryLimit, retainedBytes: 2L * Math.Max(inMemoryLimit, ReceiveBufferPool.MinLength));
        var segmentsFolder = Path.Combine(this.root, SegmentsFolder);
        segments = new BlobSegments(segmentsFolder, maxSegmentLength, new SpareSegment(segmentsFolder, spareSegmentLength, idleBeforeSpare ?? TimeSpan.FromSeconds(1)));
        Directory.CreateDirectory(Path.Combine(this.root, TemporaryFolder));
    }

    public ITemporaryBlob CreateTemporary() => new TemporaryBlob(this);

    public Stream OpenRead(string key) => BlobSegments.IsKey(key)
        ? segments.OpenRead(key)
        : new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.SequentialScan);

    public Func<Stream> Reopener(string key)
    {
        if (BlobSegments.IsKey(key))
        {
            return () => segments.OpenRead(key);
        }

        var path = PathOf(key);
        return () => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.RandomAccess);
    }

    public bool Exists(string key) => BlobSegments.IsKey(key) ? segments.Exists(key) : File.Exists(PathOf(key));

    public IReadOnlyList<string> DeleteDurably(params IReadOnlyCollection<string> keys)
    {
        // Every key checked before anything is deleted.
        var files = keys.Where(key => !BlobSegments.IsKey(key)).Select(key => (Key: key, Path: PathOf(key))).ToList();
        var gone = segments.DeleteDurably(keys.Where(BlobSegments.IsKey)).ToList();
        DeleteFilesDurably(files.Select(file => file.Path));
        gone.AddRange(files.Select(file => file.Key));
        return gone;
    }

    public IEnumerable<string> EnumerateKeys() => FileFolders().SelectMany(name => EnumerateFileKeys(name + "/")).Concat(segments.EnumerateKeys());

    public IReadOnlyList<string> KeyPrefixes() => [.. FileFolders().Select(name => name + "/"), .. segments.KeyPrefixes()];

    public IEnumerable<string> EnumerateUnreferenced(string prefix, IReadOnlySet<string> known) => BlobSegments.IsKey(prefix)
        ? segments.UnreferencedKeys(prefix, known)
        : EnumerateFileKeys(prefix).Where(key => !known.Contains(key));

    /// <summary>Segment records are: a record's key names its place, which no later record takes. Files are not: an instance stored again reuses its file's key.</summary>
    public bool IsRecoverable(string key) => BlobSegments.IsKey(key);

    public int RemoveUnreferenced(string prefix, IReadOnlySet<string> known)
    {
        if (BlobSegments.IsKey(prefix))
        {
            return segments.RemoveUnreferenced(prefix, known);
        }

        var removed = EnumerateUnreferenced(prefix, known).Select(PathOf).ToList();
        DeleteFilesDurably(removed);
        return removed.Count;
    }

    public void PrepareSpace() => segments.PrepareSpare();

    public void DeleteTemporaries()
    {
        foreach (var path in Directory.EnumerateFiles(Path.Combine(root, TemporaryFolder)))
        {
            File.Delete(path);
        }
    }

    public void Dispose() => segments.Dispose();

    /// <summary>
    /// Deletes the files (those still there), then flushes each of their folders once: a deleted file that came back after a
    /// power loss would be recovered into the index.
    /// </summary>
    private static void DeleteFilesDurably(IEnumerable<string> paths)
    {
        var deleted = paths.ToList();
        foreach (var path in deleted.Where(File.Exists))
        {
            File.Delete(path);
        }

        foreach (var folder in deleted.Select(path => Path.GetDirectoryName(path)!).Distinct().Where(Directory.Exists))
        {
            NativeFile.FlushFolder(folder);
        }
    }

    /// <summary>
    /// The top folders that hold files (a file's key starts with its folder's name), in name order. Folders and files whose
    /// names no key of this store can have are not the store's: they are left alone.
    /// </summary>
    private IEnumerable<string> FileFolders() => Directory.EnumerateDirectories(root)
        .Select(path => Path.GetFileName(path))
        .Where(name => name is not (TemporaryFolder or SegmentsFolder) && IsFileKey(name) && !BlobSegments.IsKey(name + "/"))
        .Order(StringComparer.Ordinal);

    /// <summary>The keys of the files in the top folder of <paramref name="prefix"/> (its name and a slash).</summary>
    private IEnumerable<string> EnumerateFileKeys(string prefix)
    {
        var folder = Path.Combine(root, prefix.TrimEnd('/'));
        if (!Directory.Exists(folder))
        {
            yield break;
        }

        foreach (var path in Directory.EnumerateFiles(folder, "*.dcm", SearchOption.AllDirectories))
        {
            var key = Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/');
            if (IsFileKey(key))
            {
                yield return key;
            }
        }
    }

    private string PathOf(string key) => IsFileKey(key)
        ? Path.Combine(root, key.Replace('/', Path.DirectorySeparatorChar))
        : throw new ArgumentException($"'{key}' is not a blob key.", nameof(key));

    /// <summary>Whether <paramref name="key"/> can name a file of this store: lower-case letters, digits, dots and slashes, no "..".</summary>
    private static bool IsFileKey(string key) =>
        key.Length > 0 && !key.Contains("..", StringComparison.Ordinal) && key.All(c => char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c) || c is '/' or '.');

    private string NewTemporaryPath() => Path.Combine(root, TemporaryFolder, Guid.NewGuid().ToString("N"));

    /// <summary>
    /// Moves a durable temporary file under <paramref name="key"/>, replacing a blob of that key, and flushes the folder:
    /// without that a rename acknowledged a moment before a power loss can be undone, leaving the instance in the temporary
    /// folder, which start-up clears. A folder created just before gets its entry durable by the same flush (journaling file
    /// systems commit metadata changes in order; ext4 without a journal flushes newly created parent folders in fsync).
    /// </summary>
    private void Publish(string temporaryPath, string key)
    {
        var target = PathOf(key);
        var folder = Path.GetDirectoryName(target)!;
        if (!createdFolders.ContainsKey(folder))
        {
            Directory.CreateDirectory(folder);
            createdFolders.TryAdd(folder, true);
        }

        File.Move(temporaryPath, target, overwrite: true);
        NativeFile.FlushFolder(folder);
    }

    private sealed class TemporaryBlob(FolderBlobStore store) : ITemporaryBlob
    {
        private readonly SpillingStream content = new(store.inMemoryLimit, store.receiveBuffers, Math.Min(Volatile.Read(ref store.lastInMemoryLength), MaxExpectedLength), store.NewTemporaryPath);
        private bool committed;

        public Stream Content => content;

        public ReadOnlyMemory<byte>? Memory => content.File is null ? content.Buffered : (ReadOnlyMemory<byte>?)null;

        public string? Path => content.File is null ? null : content.FilePath;

        /// <summary>A blob held in memory becomes a segment record, whose key the segments choose.</summary>
        public bool ChoosesKey => content.File is null;

        public async Task<string> CommitAsync(string fileKey, CancellationToken cancellationToken)
        {
            if (content.File is not { } file)
            {
                var key = await store.segments.AppendAsync(content.Buffered);
                Volatile.Write(ref store.lastInMemoryLength, content.Buffered.Length);
                committed = true;
                return key;
            }

            await file.FlushAsync(cancellationToken);
            file.Flush(flushToDisk: true);
            await file.DisposeAsync();
            var path = content.FilePath!;
            try
            {
                store.Publish(path, fileKey);
            }
            catch
            {
                File.Delete(path);
                throw;
            }

            committed = true;
            return fileKey;
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

    /// <summary>
    /// A write-only stream into a pooled buffer that moves to a new temporary file once it would exceed its limit. The buffer
    /// starts <paramref name="expectedLength"/> long, and doubles when it must: each doubling copies what it holds.
    /// </summary>
    private sealed class SpillingStream(int limit, ReceiveBufferPool buffers, int expectedLength, Func<string> newFilePath) : Stream
    {
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
                var grown = buffers.Rent((int)Math.Min(limit, Math.Max(needed, buffer is null ? expectedLength : buffer.Length * 2L)));
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
                buffers.Return(buffer);
                buffer = null;
            }
        }
    }
}
