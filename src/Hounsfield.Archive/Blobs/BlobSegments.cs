using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace Hounsfield.Archive.Blobs;

/// <summary>
/// Small blobs as records appended to a few large segment files rather than a file each. A new file costs a flush of its
/// inode and folder on top of its data; a record costs the flush of its data only, and the records written while a flush
/// runs share the next one (a group flush), so concurrent commits pay one flush between them.
/// <para>
/// A record starts at a 4 KiB boundary with a 16-byte header (magic, then the length, little-endian), so a segment can be
/// scanned without the index, and a deleted record is freed by punching a hole over whole blocks. Its key is
/// <c>s/{segment}/{offset}/{length}</c> in hex. Each process appends to segments it created itself, so at start-up no
/// segment is being written and the space no index row refers to (records of interrupted ingests) can be freed.
/// </para>
/// <para>
/// A new segment takes the spare (<see cref="SpareSegment"/>) when one is ready: a file already as long as the segment
/// will be, zero-filled, whose records cost a flush without file-system metadata. Otherwise it starts empty and grows.
/// </para>
/// </summary>
internal sealed class BlobSegments(string folder, long maxSegmentLength, SpareSegment spare) : IDisposable
{
    public const string KeyPrefix = "s/";
    private const int Alignment = 4096;
    private const int HeaderLength = 16;
    private const string Extension = ".seg";
    private const int MaxReadHandles = 64;

    private readonly Lock gate = new();
    private readonly Lock readersGate = new();
    private readonly List<Segment> written = [];
    private readonly HashSet<Segment> unflushed = [];
    private readonly Dictionary<(long Segment, long Offset), int> openReaders = []; // under readersGate
    private readonly HashSet<(long Segment, long Offset)> freeWhenClosed = []; // under readersGate
    private readonly Dictionary<long, ReadHandle> readHandles = []; // under readersGate
    private Segment? current;
    private bool flushing;
    private TaskCompletionSource? nextFlush;

    private static ReadOnlySpan<byte> Magic => "HFBLOB\x01\x00"u8;

    public static bool IsKey(string key) => key.StartsWith(KeyPrefix, StringComparison.Ordinal);

    /// <summary>Appends <paramref name="bytes"/> as a record and returns its key once the record is on disk.</summary>
    public async Task<string> AppendAsync(ReadOnlyMemory<byte> bytes)
    {
        var recordLength = RecordLength(bytes.Length);
        Segment segment;
        long offset;
        lock (gate)
        {
            spare.NoteAppend();
            if (current is null || current.Failure is not null || (current.End > 0 && current.End + recordLength > current.Capacity))
            {
                current = CreateSegment();
            }

            segment = current;
            offset = segment.End;
            segment.End += recordLength;
        }

        var header = new byte[HeaderLength];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8), bytes.Length);
        try
        {
            RandomAccess.Write(segment.Handle, [header, bytes], offset);
        }
        catch
        {
            TryDiscard(segment.Handle, offset, recordLength);
            throw;
        }

        lock (gate)
        {
            unflushed.Add(segment);
        }

        await FlushAsync();
        if (segment.Failure is { } failure)
        {
            throw new IOException($"Blob segment {segment.Path} could not be flushed to disk: {failure.Message}", failure);
        }

        return KeyOf(segment.Id, offset, bytes.Length);
    }

    /// <summary>
    /// A read-only stream over the record of <paramref name="key"/>; throws when the segment holds no such record. Streams
    /// over one segment share one handle, kept open after them for the next (see <see cref="LeaseReadHandle"/>).
    /// </summary>
    public Stream OpenRead(string key)
    {
        var (id, offset, length) = Parse(key);
        var lease = LeaseReadHandle(id);
        try
        {
            lock (readersGate)
            {
                if (!HoldsRecord(lease.Handle, offset, length))
                {
                    throw new IOException($"Blob segment {PathOf(id)} holds no record of {length} bytes at {offset}.");
                }

                openReaders[(id, offset)] = openReaders.GetValueOrDefault((id, offset)) + 1;
            }

            return new RecordStream(lease.Handle, offset + HeaderLength, length, () =>
            {
                CloseReader(id, offset, length);
                Release(lease);
            });
        }
        catch
        {
            Release(lease);
            throw;
        }
    }

    /// <summary>
    /// The segment's read handle, opened when no stream holds it: a retrieve then costs no open, file-status and close
    /// calls (4.5% of a WADO-RS instance request's CPU, twice that where the pixel data is read lazily). At most
    /// <see cref="MaxReadHandles"/> stay open; past that an unleased one is closed, or the new one closes after its use.
    /// </summary>
    private ReadHandle LeaseReadHandle(long id)
    {
        lock (readersGate)
        {
            if (readHandles.TryGetValue(id, out var cached))
            {
                cached.Leases++;
                return cached;
            }
        }

        var opened = new ReadHandle(OpenSegment(PathOf(id), FileAccess.Read)) { Leases = 1 };
        SafeFileHandle? surplus = null;
        lock (readersGate)
        {
            if (readHandles.TryGetValue(id, out var raced))
            {
                raced.Leases++;
                surplus = opened.Handle;
                opened = raced;
            }
            else if (readHandles.Count < MaxReadHandles || TryCloseUnleasedReadHandle())
            {
                readHandles.Add(id, opened);
            }
            else
            {
                opened.Closing = true;
            }
        }

        surplus?.Dispose();
        return opened;
    }

    private void Release(ReadHandle lease)
    {
        lock (readersGate)
        {
            if (--lease.Leases > 0 || !lease.Closing)
            {
                return;
            }
        }

        lease.Handle.Dispose();
    }

    /// <summary>Closes one cached read handle no stream holds (under <see cref="readersGate"/>); false when all are held.</summary>
    private bool TryCloseUnleasedReadHandle()
    {
        foreach (var (id, handle) in readHandles)
        {
            if (handle.Leases == 0)
            {
                readHandles.Remove(id);
                Retire(handle);
                return true;
            }
        }

        return false;
    }

    /// <summary>Drops the cached read handle of a segment about to be deleted, which would keep the deleted file open.</summary>
    private void ForgetReadHandle(long id)
    {
        lock (readersGate)
        {
            if (readHandles.Remove(id, out var handle))
            {
                Retire(handle);
            }
        }
    }

    /// <summary>A handle taken out of the cache (under <see cref="readersGate"/>): closed now, or by the last stream holding it.</summary>
    private static void Retire(ReadHandle handle)
    {
        handle.Closing = true;
        if (handle.Leases == 0)
        {
            handle.Handle.Dispose();
        }
    }

    public bool Exists(string key)
    {
        var (id, offset, length) = Parse(key);
        if (!File.Exists(PathOf(id)))
        {
            return false;
        }

        using var handle = OpenSegment(PathOf(id), FileAccess.Read);
        return HoldsRecord(handle, offset, length);
    }

    /// <summary>
    /// Frees the records of <paramref name="keys"/> (nothing for one already gone), flushing each segment once; returns the
    /// keys whose records are gone on disk when it returns. A record being read is freed when its last reader closes, so a
    /// retrieve that began before the delete is served whole, as a deleted file is; it is not among the keys returned.
    /// </summary>
    public IReadOnlyList<string> DeleteDurably(IEnumerable<string> keys)
    {
        var gone = new List<string>();
        foreach (var records in keys.Select(key => (Key: key, Place: Parse(key))).GroupBy(record => record.Place.Id))
        {
            if (!File.Exists(PathOf(records.Key)))
            {
                gone.AddRange(records.Select(record => record.Key));
                continue;
            }

            using var handle = OpenSegment(PathOf(records.Key), FileAccess.ReadWrite);
            gone.AddRange(records.Where(record => TryFree(handle, record.Place.Id, record.Place.Offset, record.Place.Length)).Select(record => record.Key));
            NativeFile.FlushData(handle);
        }

        return gone;
    }

    private void Free(long id, long offset, long length)
    {
        if (File.Exists(PathOf(id)))
        {
            using var handle = OpenSegment(PathOf(id), FileAccess.ReadWrite);
            TryFree(handle, id, offset, length);
        }
    }

    /// <summary>Punches the record out of its segment, or (false) leaves it to its last reader.</summary>
    private bool TryFree(SafeFileHandle handle, long id, long offset, long length)
    {
        lock (readersGate)
        {
            // Checked under the lock a reader takes to check the record, so no reader opens it in between.
            if (openReaders.ContainsKey((id, offset)))
            {
                freeWhenClosed.Add((id, offset));
                return false;
            }

            if (HoldsRecord(handle, offset, length))
            {
                NativeFile.Discard(handle, offset, RecordLength(length));
            }

            return true;
        }
    }

    private void CloseReader(long id, long offset, long length)
    {
        lock (readersGate)
        {
            var remaining = openReaders[(id, offset)] - 1;
            if (remaining > 0)
            {
                openReaders[(id, offset)] = remaining;
                return;
            }

            openReaders.Remove((id, offset));
            if (!freeWhenClosed.Remove((id, offset)))
            {
                return;
            }
        }

        try
        {
            Free(id, offset, length);
        }
        catch (IOException)
        {
            // Unreferenced either way; the next start-up frees it.
        }
    }

    /// <summary>Every record's key, found by scanning the segments.</summary>
    public IEnumerable<string> EnumerateKeys()
    {
        foreach (var (id, path) in SegmentFiles())
        {
            using var handle = OpenSegment(path, FileAccess.Read);
            foreach (var (offset, length) in ScanRecords(handle, 0, long.MaxValue))
            {
                yield return KeyOf(id, offset, length);
            }
        }
    }

    /// <summary>
    /// The key prefix of each segment that no append of this process can reach (it is complete), oldest first: the parts
    /// of the start-up sweep (<see cref="UnreferencedKeys"/>, <see cref="RemoveUnreferenced"/>), one segment each.
    /// </summary>
    public IEnumerable<string> KeyPrefixes() => SegmentsOfEarlierRuns().Select(segment => PrefixOf(segment.Id));

    /// <summary>
    /// Frees every range of the segment of <paramref name="prefix"/> that no key of <paramref name="known"/> covers: holes
    /// between the known records and the tail after the last one (truncated); the whole segment when none is known (deleted,
    /// or emptied when it is the newest). A segment this process writes is left alone. Returns the number of records freed,
    /// once the frees are on disk (a record that came back after a power loss would be recovered into the index).
    /// </summary>
    public int RemoveUnreferenced(string prefix, IReadOnlySet<string> known)
    {
        if (SweptSegment(prefix) is not { } swept)
        {
            return 0;
        }

        var (id, path) = swept;

        var records = Referenced(known, id);

        // The newest segment stays, emptied, when none of its records is known: a new segment takes the id after the highest
        // file's, and an id given again could meet a reader's handle or a stale key of the deleted segment.
        var kept = records.Count > 0 || !SegmentFiles().Any(file => file.Id > id);
        var removed = 0;
        using (var handle = OpenSegment(path, FileAccess.ReadWrite))
        {
            var gaps = Gaps(records).ToList();
            foreach (var (from, to) in gaps[..^1])
            {
                removed += DiscardRange(handle, from, to);
            }

            var tail = gaps[^1].From;
            removed += ScanRecords(handle, tail, long.MaxValue).Count();
            if (kept && RandomAccess.GetLength(handle) > tail)
            {
                RandomAccess.SetLength(handle, tail);
            }

            NativeFile.FlushData(handle);
        }

        if (!kept)
        {
            ForgetReadHandle(id);
            File.Delete(path);
            NativeFile.FlushFolder(folder);
        }

        return removed;
    }

    /// <summary>
    /// The keys of the records in the segment of <paramref name="prefix"/> that no key of <paramref name="known"/> covers, in
    /// the order they were written; only the ranges between known records are scanned (holes skipped). Nothing for a segment
    /// this process writes.
    /// </summary>
    public IEnumerable<string> UnreferencedKeys(string prefix, IReadOnlySet<string> known)
    {
        if (SweptSegment(prefix) is not { } swept)
        {
            yield break;
        }

        var (id, path) = swept;

        using var handle = OpenSegment(path, FileAccess.Read);
        foreach (var (from, to) in Gaps(Referenced(known, id)))
        {
            foreach (var (offset, length) in ScanRecords(handle, from, to))
            {
                yield return KeyOf(id, offset, length);
            }
        }
    }

    /// <summary>The segments that no append of this process can reach (they are complete), oldest first.</summary>
    private List<(long Id, string Path)> SegmentsOfEarlierRuns()
    {
        lock (gate)
        {
            return [.. SegmentFiles().Where(file => !IsWrittenHere(file.Id)).OrderBy(file => file.Id)];
        }
    }

    /// <summary>Whether this process appends to segment <paramref name="id"/> (under <see cref="gate"/>).</summary>
    private bool IsWrittenHere(long id) => written.Exists(segment => segment.Id == id);

    /// <summary>The segment that <paramref name="prefix"/> (of <see cref="KeyPrefixes"/>) names, when it exists and no append of this process can reach it.</summary>
    private (long Id, string Path)? SweptSegment(string prefix)
    {
        var parts = prefix.Split('/');
        if (parts.Length != 3 || parts[0] + "/" != KeyPrefix || parts[2].Length != 0 || !TryParseHex(parts[1], out var id))
        {
            throw new ArgumentException($"'{prefix}' is not a blob segment's key prefix.", nameof(prefix));
        }

        lock (gate)
        {
            return File.Exists(PathOf(id)) && !IsWrittenHere(id) ? (id, PathOf(id)) : null;
        }
    }

    /// <summary>The records of segment <paramref name="id"/> that keys of <paramref name="known"/> name, in offset order.</summary>
    private static List<(long Offset, long Length)> Referenced(IReadOnlySet<string> known, long id) =>
        [.. known.Where(IsKey).Select(Parse).Where(record => record.Id == id).Select(record => (record.Offset, record.Length)).OrderBy(record => record.Offset)];

    /// <summary>
    /// The ranges of a segment that none of its <paramref name="records"/> (in offset order) covers: the holes between them,
    /// then always the tail, from the end of the last to the end.
    /// </summary>
    private static IEnumerable<(long From, long To)> Gaps(IEnumerable<(long Offset, long Length)> records)
    {
        long cursor = 0;
        foreach (var (offset, length) in records)
        {
            if (offset > cursor)
            {
                yield return (cursor, offset);
            }

            cursor = Math.Max(cursor, offset + RecordLength(length));
        }

        yield return (cursor, long.MaxValue);
    }

    /// <summary>Makes the spare segment now when none is ready (at start-up, before any append).</summary>
    public void PrepareSpare() => spare.Prepare();

    public void Dispose()
    {
        spare.Dispose();
        lock (gate)
        {
            foreach (var segment in written)
            {
                segment.Handle.Dispose();
            }

            written.Clear();
            current = null;
        }

        lock (readersGate)
        {
            foreach (var handle in readHandles.Values)
            {
                Retire(handle);
            }

            readHandles.Clear();
        }
    }

    private static long AlignUp(long value) => (value + Alignment - 1) & ~(long)(Alignment - 1);

    /// <summary>The bytes a record of <paramref name="length"/> takes in its segment: header and bytes, up to the next boundary.</summary>
    private static long RecordLength(long length) => AlignUp(HeaderLength + length);

    /// <summary>The key of a record; <see cref="Parse"/> reads it back.</summary>
    private static string KeyOf(long id, long offset, long length) => $"{PrefixOf(id)}{offset:x}/{length:x}";

    /// <summary>The start of the keys of every record of segment <paramref name="id"/>.</summary>
    private static string PrefixOf(long id) => $"{KeyPrefix}{id:x8}/";

    /// <summary>An existing segment, shared with its writer and with readers, and deletable while open.</summary>
    private static SafeFileHandle OpenSegment(string path, FileAccess access) =>
        File.OpenHandle(path, FileMode.Open, access, FileShare.ReadWrite | FileShare.Delete);

    private static (long Id, long Offset, long Length) Parse(string key)
    {
        var parts = key.Split('/');
        if (parts.Length == 4 && parts[0] + "/" == KeyPrefix && TryParseHex(parts[1], out var id) && TryParseHex(parts[2], out var offset) &&
            TryParseHex(parts[3], out var length) && offset % Alignment == 0)
        {
            return (id, offset, length);
        }

        throw new ArgumentException($"'{key}' is not a blob segment key.", nameof(key));
    }

    private static bool TryParseHex(string text, out long value)
    {
        value = 0;
        return text.Length is > 0 and <= 15 && text.All(char.IsAsciiHexDigitLower) &&
            long.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    private static bool HoldsRecord(SafeFileHandle handle, long offset, long length)
    {
        Span<byte> header = stackalloc byte[HeaderLength];
        return RandomAccess.Read(handle, header, offset) == HeaderLength && header[..8].SequenceEqual(Magic) &&
            BinaryPrimitives.ReadInt64LittleEndian(header[8..]) == length && offset + HeaderLength + length <= RandomAccess.GetLength(handle);
    }

    /// <summary>The records whose header starts in [<paramref name="from"/>, <paramref name="to"/>), skipping holes.</summary>
    private static IEnumerable<(long Offset, long Length)> ScanRecords(SafeFileHandle handle, long from, long to)
    {
        var fileLength = RandomAccess.GetLength(handle);
        var end = Math.Min(to, fileLength);
        var header = new byte[HeaderLength];
        var position = AlignUp(from);
        while (position < end)
        {
            var data = NativeFile.NextData(handle, position);
            if (data < 0 || data >= end)
            {
                yield break;
            }

            position = data & ~(long)(Alignment - 1);
            var read = RandomAccess.Read(handle, header, position);
            var length = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(8));
            if (read == HeaderLength && header.AsSpan(0, 8).SequenceEqual(Magic) && length >= 0 && position + HeaderLength + length <= fileLength)
            {
                yield return (position, length);
                position += RecordLength(length);
            }
            else
            {
                position += Alignment;
            }
        }
    }

    /// <summary>Frees [<paramref name="from"/>, <paramref name="to"/>) when it holds data; returns the records it held.</summary>
    private static int DiscardRange(SafeFileHandle handle, long from, long to)
    {
        if (to <= from)
        {
            return 0;
        }

        var data = NativeFile.NextData(handle, from);
        if (data < 0 || data >= to)
        {
            return 0;
        }

        var records = ScanRecords(handle, from, to).Count();
        NativeFile.Discard(handle, from, to - from);
        return records;
    }

    private static void TryDiscard(SafeFileHandle handle, long offset, long length)
    {
        try
        {
            NativeFile.Discard(handle, offset, length);
        }
        catch (IOException)
        {
            // The range is unreferenced either way; the next start-up frees it.
        }
    }

    private string PathOf(long id) => Path.Combine(folder, $"{id:x8}{Extension}");

    private IEnumerable<(long Id, string Path)> SegmentFiles()
    {
        if (!Directory.Exists(folder))
        {
            yield break;
        }

        foreach (var path in Directory.EnumerateFiles(folder, "*" + Extension))
        {
            if (TryParseHex(System.IO.Path.GetFileNameWithoutExtension(path), out var id))
            {
                yield return (id, path);
            }
        }
    }

    /// <summary>
    /// A new segment whose folder entry is durable, so records flushed into it survive a power loss: the spare, as long as
    /// it will be, or else an empty file that grows up to <c>maxSegmentLength</c>.
    /// </summary>
    private Segment CreateSegment()
    {
        Directory.CreateDirectory(folder);
        var id = SegmentFiles().Select(file => file.Id).DefaultIfEmpty(0).Max() + 1;
        while (true)
        {
            var path = PathOf(id);
            try
            {
                SafeFileHandle handle;
                long capacity;
                if (!File.Exists(path) && spare.TryTake(path))
                {
                    handle = OpenSegment(path, FileAccess.ReadWrite);
                    capacity = spare.Length;
                }
                else
                {
                    handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
                    RandomAccess.FlushToDisk(handle);
                    capacity = maxSegmentLength;
                }

                NativeFile.FlushFolder(folder);
                var segment = new Segment(id, path, handle, capacity);
                written.Add(segment);
                return segment;
            }
            catch (IOException) when (File.Exists(path))
            {
                id++; // another process took this id
            }
        }
    }

    /// <summary>
    /// Returns once every record written before the call is on disk. One flush runs at a time; the callers arriving meanwhile
    /// wait for the next one, which covers them all.
    /// </summary>
    private Task FlushAsync()
    {
        TaskCompletionSource flush;
        lock (gate)
        {
            if (flushing)
            {
                return (nextFlush ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            flushing = true;
            flush = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        RunFlush(flush);
        return flush.Task;
    }

    private void RunFlush(TaskCompletionSource flush)
    {
        Segment[] segments;
        lock (gate)
        {
            segments = [.. unflushed];
            unflushed.Clear();
        }

        foreach (var segment in segments)
        {
            try
            {
                NativeFile.FlushData(segment.Handle);
            }
            catch (Exception ex)
            {
                // After a failed flush the kernel may have dropped the written pages: nothing more in this segment is acknowledged.
                segment.Failure ??= ex;
            }
        }

        flush.SetResult();
        TaskCompletionSource? next;
        lock (gate)
        {
            next = nextFlush;
            nextFlush = null;
            flushing = next is not null;
        }

        if (next is not null)
        {
            ThreadPool.UnsafeQueueUserWorkItem(state => RunFlush(state), next, preferLocal: false);
        }
    }

    /// <summary>A segment's read handle and the streams that hold it (under <see cref="readersGate"/>).</summary>
    private sealed class ReadHandle(SafeFileHandle handle)
    {
        public SafeFileHandle Handle => handle;

        public int Leases { get; set; }

        /// <summary>Out of the cache: closed when its last stream closes.</summary>
        public bool Closing { get; set; }
    }

    private sealed class Segment(long id, string path, SafeFileHandle handle, long capacity)
    {
        /// <summary>The length past which it takes no more records: the spare's length, or <c>maxSegmentLength</c> for one that grows.</summary>
        public long Capacity => capacity;

        public long Id => id;

        public string Path => path;

        public SafeFileHandle Handle => handle;

        /// <summary>Where the next record goes.</summary>
        public long End { get; set; }

        public Exception? Failure { get; set; }
    }

    /// <summary>A seekable read-only view of one record, read with positional reads on a shared handle; <paramref name="onClose"/> gives it back.</summary>
    private sealed class RecordStream(SafeFileHandle handle, long start, long length, Action onClose) : Stream
    {
        private long position;

        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position
        {
            get => position;
            set => position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var count = (int)Math.Clamp(length - position, 0, buffer.Length);
            if (count == 0)
            {
                return 0;
            }

            return Advance(RandomAccess.Read(handle, buffer[..count], start + position));
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var count = (int)Math.Clamp(length - position, 0, buffer.Length);
            if (count == 0)
            {
                return 0;
            }

            return Advance(await RandomAccess.ReadAsync(handle, buffer[..count], start + position, cancellationToken));
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        /// <summary>Moves past <paramref name="read"/> bytes; a segment that ends inside the record (cut short on disk) is an error, not a short instance.</summary>
        private int Advance(int read)
        {
            if (read == 0)
            {
                throw new IOException($"The blob segment ends {length - position} bytes before the end of its record.");
            }

            position += read;
            return read;
        }

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => position + offset,
            SeekOrigin.End => length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private bool closed;

        protected override void Dispose(bool disposing)
        {
            if (disposing && !closed)
            {
                closed = true;
                onClose();
            }

            base.Dispose(disposing);
        }
    }
}
