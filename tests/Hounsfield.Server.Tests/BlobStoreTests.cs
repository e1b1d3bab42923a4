using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Hounsfield.Archive.Blobs;

namespace Hounsfield.Server.Tests;

/// <summary>The folder blob store: small blobs as records in shared segment files, large ones as files of their own.</summary>
public sealed class BlobStoreTests : IDisposable
{
    private const int InMemoryLimit = 256 * 1024;
    private const int SpareLength = 64 * 4096;
    private readonly DirectoryInfo root = Directory.CreateTempSubdirectory("hounsfield-blobs-");

    private string SegmentFolder => Path.Combine(root.FullName, "segments");

    public void Dispose() => root.Delete(recursive: true);

    [Fact]
    public async Task Small_blobs_committed_at_once_are_records_of_one_segment_each_read_back_as_written()
    {
        using var store = new FolderBlobStore(root.FullName, InMemoryLimit);
        var lengths = new[] { 1, 4079, 4080, 4081, 4096, 100_000, InMemoryLimit };
        var blobs = Enumerable.Range(0, 40).Select(i => RandomNumberGenerator.GetBytes(lengths[i % lengths.Length])).ToList();

        var keys = await Task.WhenAll(blobs.Select(bytes => Task.Run(() => CommitAsync(store, bytes))));

        Assert.Equal(blobs.Count, keys.Distinct().Count());
        Assert.All(keys, key => Assert.StartsWith("s/00000001/", key, StringComparison.Ordinal));
        Assert.All(keys, key => Assert.Equal(0, OffsetOf(key) % 4096));
        for (var i = 0; i < blobs.Count; i++)
        {
            Assert.Equal(blobs[i], ReadAll(store.OpenRead(keys[i])));
            Assert.True(store.Exists(keys[i]));
        }

        Assert.Equal(keys.Order(StringComparer.Ordinal), store.EnumerateKeys().Order(StringComparer.Ordinal));
        Assert.Single(Directory.GetFiles(SegmentFolder));
        Assert.Empty(Directory.GetFiles(Path.Combine(root.FullName, "tmp")));
    }

    [Fact]
    public async Task A_full_segment_takes_no_more_records_and_the_next_ones_go_to_a_new_segment()
    {
        using var store = new FolderBlobStore(root.FullName, InMemoryLimit, maxSegmentLength: 3 * 4096);
        var blobs = Enumerable.Range(0, 5).Select(_ => RandomNumberGenerator.GetBytes(5000)).ToList(); // two blocks a record
        var keys = new List<string>();
        foreach (var bytes in blobs)
        {
            keys.Add(await CommitAsync(store, bytes));
        }

        Assert.Equal(["00000001", "00000002", "00000003", "00000004", "00000005"], keys.Select(k => k.Split('/')[1]));
        var oversized = RandomNumberGenerator.GetBytes(5 * 4096); // longer than a segment: a segment of its own
        var oversizedKey = await CommitAsync(store, oversized);
        Assert.StartsWith("s/00000006/0/", oversizedKey, StringComparison.Ordinal);
        Assert.Equal(blobs, keys.Select(k => ReadAll(store.OpenRead(k))));
        Assert.Equal(oversized, ReadAll(store.OpenRead(oversizedKey)));
    }

    [Fact]
    public async Task A_record_is_seekable_through_the_reopener_and_ends_at_its_own_length()
    {
        using var store = new FolderBlobStore(root.FullName, InMemoryLimit);
        var first = RandomNumberGenerator.GetBytes(10_000);
        var second = RandomNumberGenerator.GetBytes(20_000);
        var key = await CommitAsync(store, first);
        await CommitAsync(store, second);

        await using var stream = store.Reopener(key)();
        Assert.Equal(first.Length, stream.Length);
        stream.Seek(-100, SeekOrigin.End);
        var tail = new byte[500];
        Assert.Equal(100, await stream.ReadAtLeastAsync(tail, tail.Length, throwOnEndOfStream: false));
        Assert.Equal(first.AsSpan(first.Length - 100).ToArray(), tail.AsSpan(0, 100).ToArray());
        Assert.Equal(0, stream.Read(tail));
    }

    [Fact]
    public async Task A_record_cut_short_on_disk_fails_to_read_rather_than_ending_early()
    {
        using var store = new FolderBlobStore(root.FullName, InMemoryLimit);
        var key = await CommitAsync(store, RandomNumberGenerator.GetBytes(50_000));
        await using var stream = store.OpenRead(key);
        using (var segment = File.OpenHandle(Directory.GetFiles(SegmentFolder).Single(), FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            RandomAccess.SetLength(segment, 30_000);
        }

        var error = await Assert.ThrowsAsync<IOException>(() => stream.CopyToAsync(Stream.Null));
        Assert.Contains("before the end of its record", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_deleted_record_leaves_zeros_and_no_allocated_blocks_and_its_neighbours_intact()
    {
        using var store = new FolderBlobStore(root.FullName, InMemoryLimit);
        var blobs = Enumerable.Range(0, 3).Select(_ => RandomNumberGenerator.GetBytes(100_000)).ToList();
        var keys = new List<string>();
        foreach (var bytes in blobs)
        {
            keys.Add(await CommitAsync(store, bytes));
        }

        var segment = Directory.GetFiles(SegmentFolder).Single();
        var allocatedBefore = AllocatedBytes(segment);

        Assert.True(store.IsRecoverable(keys[1]));
        Assert.Equal([keys[1]], store.DeleteDurably(keys[1]));
        Assert.Equal([keys[1]], store.DeleteDurably(keys[1])); // a second delete of a freed record does nothing

        Assert.False(store.Exists(keys[1]));
        Assert.Throws<IOException>(() => store.OpenRead(keys[1]));
        var raw = File.ReadAllBytes(segment);
        Assert.All(raw.AsSpan((int)OffsetOf(keys[1]), 100_016).ToArray(), b => Assert.Equal(0, b));
        Assert.True(AllocatedBytes(segment) <= allocatedBefore - 98 * 1024, $"{allocatedBefore} -> {AllocatedBytes(segment)} bytes allocated");
        Assert.Equal(blobs[0], ReadAll(store.OpenRead(keys[0])));
        Assert.Equal(blobs[2], ReadAll(store.OpenRead(keys[2])));
        Assert.Equal([keys[0], keys[2]], store.EnumerateKeys().ToList());
    }

    [Fact]
    public async Task Reads_share_a_bounded_set_of_segment_handles_all_closed_with_the_store()
    {
        // One segment per record: 80 segments read at once, more than the 64 handles kept open between reads.
        var store = new FolderBlobStore(root.FullName, InMemoryLimit, maxSegmentLength: 4096);
        var blobs = Enumerable.Range(0, 80).Select(i => RandomNumberGenerator.GetBytes(1000 + i)).ToList();
        var keys = new List<string>();
        foreach (var bytes in blobs)
        {
            keys.Add(await CommitAsync(store, bytes));
        }

        var streams = keys.SelectMany(key => new[] { store.OpenRead(key), store.Reopener(key)() }).ToList();
        Assert.Equal(blobs.SelectMany(bytes => new[] { bytes, bytes }), streams.Select(ReadAll));
        Assert.InRange(OpenSegmentDescriptors(), 80, 80 + 80); // a writer's handle per segment, one reader's handle per segment

        foreach (var stream in streams)
        {
            stream.Dispose();
        }

        Assert.Equal(blobs, keys.Select(key => ReadAll(store.OpenRead(key))));
        Assert.InRange(OpenSegmentDescriptors(), 80, 80 + 64);
        store.Dispose();
        Assert.Equal(0, OpenSegmentDescriptors());
    }

    [Fact]
    public async Task Segments_swept_at_start_up_never_give_their_ids_to_new_ones()
    {
        // Were an id given again, a reader's handle or a stale key of the swept segment would reach the new one.
        using (var firstRun = new FolderBlobStore(root.FullName, InMemoryLimit, maxSegmentLength: 4096))
        {
            await CommitAsync(firstRun, RandomNumberGenerator.GetBytes(3000));
            await CommitAsync(firstRun, RandomNumberGenerator.GetBytes(3000));
        }

        using var restarted = new FolderBlobStore(root.FullName, InMemoryLimit);
        var abandoned = Unreferenced(restarted, new HashSet<string>());
        Assert.Equal(2, abandoned.Count);
        Assert.All(abandoned, key => ReadAll(restarted.OpenRead(key))); // read, as a recovery would, before the sweep
        Assert.Equal(2, RemoveUnreferenced(restarted, new HashSet<string>()));

        var bytes = RandomNumberGenerator.GetBytes(5000);
        var key = await CommitAsync(restarted, bytes);

        Assert.StartsWith("s/00000003/0/", key, StringComparison.Ordinal);
        Assert.Equal(bytes, ReadAll(restarted.OpenRead(key)));
        Assert.All(abandoned, key => Assert.ThrowsAny<IOException>(() => restarted.OpenRead(key)));
        Assert.Equal(["00000002.seg", "00000003.seg"], Directory.GetFiles(SegmentFolder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task The_spare_made_at_start_up_is_written_zeros_and_the_first_segment_takes_it_without_growing()
    {
        using var store = new FolderBlobStore(root.FullName, InMemoryLimit, spareSegmentLength: SpareLength, idleBeforeSpare: TimeSpan.FromHours(1));
        store.PrepareSpace();

        var spare = Path.Combine(SegmentFolder, "next.spare");
        Assert.Equal(new byte[SpareLength], File.ReadAllBytes(spare));
        Assert.Equal(SpareLength, AllocatedBytes(spare)); // written, not a sparse file: a record in it allocates nothing

        var blobs = new[] { 10_000, 50_000, 1 }.Select(RandomNumberGenerator.GetBytes).ToList();
        var keys = new List<string>();
        foreach (var bytes in blobs)
        {
            keys.Add(await CommitAsync(store, bytes));
        }

        Assert.All(keys, key => Assert.StartsWith("s/00000001/", key, StringComparison.Ordinal));
        Assert.False(File.Exists(spare));
        Assert.Equal(SpareLength, new FileInfo(Path.Combine(SegmentFolder, "00000001.seg")).Length);
        for (var i = 0; i < blobs.Count; i++)
        {
            Assert.Equal(blobs[i], ReadAll(store.OpenRead(keys[i])));
        }

        Assert.Equal(keys, store.EnumerateKeys()); // the zeros after the records hold none
    }

    [Fact]
    public async Task A_full_spare_segment_takes_no_more_records_and_the_next_grows_while_appends_go_on()
    {
        using var store = new FolderBlobStore(root.FullName, InMemoryLimit, spareSegmentLength: SpareLength, idleBeforeSpare: TimeSpan.FromHours(1));
        store.PrepareSpace();
        var fitting = SpareLength / RecordLength(20_000);

        var keys = new List<string>();
        for (var i = 0; i <= fitting; i++)
        {
            keys.Add(await CommitAsync(store, RandomNumberGenerator.GetBytes(20_000)));
        }

        Assert.All(keys[..^1], key => Assert.StartsWith("s/00000001/", key, StringComparison.Ordinal));
        Assert.StartsWith("s/00000002/0/", keys[^1], StringComparison.Ordinal);
        Assert.Equal(16 + 20_000, new FileInfo(Path.Combine(SegmentFolder, "00000002.seg")).Length); // no spare: it grows
        Assert.False(File.Exists(Path.Combine(SegmentFolder, "next.spare")));
    }

    [Fact]
    public async Task Once_appends_pause_the_next_spare_is_made_and_the_next_segment_takes_it()
    {
        using var store = new FolderBlobStore(root.FullName, InMemoryLimit, spareSegmentLength: SpareLength, idleBeforeSpare: TimeSpan.FromMilliseconds(200));
        store.PrepareSpace();
        var spare = Path.Combine(SegmentFolder, "next.spare");
        await CommitAsync(store, RandomNumberGenerator.GetBytes(1000));
        Assert.False(File.Exists(spare)); // taken by the first segment

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!File.Exists(spare) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(SpareLength, new FileInfo(spare).Length);
        string key;
        do
        {
            key = await CommitAsync(store, RandomNumberGenerator.GetBytes(20_000));
        }
        while (key.StartsWith("s/00000001/", StringComparison.Ordinal));

        Assert.StartsWith("s/00000002/0/", key, StringComparison.Ordinal);
        Assert.Equal(SpareLength, new FileInfo(Path.Combine(SegmentFolder, "00000002.seg")).Length);
    }

    [Fact]
    public async Task A_stop_during_a_fill_ends_it_and_removes_its_partial_file()
    {
        // The fill starts once appends have paused for 100 ms and waits again, between two chunks, when they resume: appends
        // resumed just after the pause hold it part-way (its partial file open) while the store stops.
        const long longSpare = 256L * 1024 * 1024;
        var store = new FolderBlobStore(root.FullName, InMemoryLimit, spareSegmentLength: longSpare, idleBeforeSpare: TimeSpan.FromMilliseconds(100));
        var partial = Path.Combine(SegmentFolder, "next.spare.part");
        try
        {
            store.PrepareSpace();
            await CommitAsync(store, RandomNumberGenerator.GetBytes(1000)); // takes the spare: the next fill waits for a pause
            await Task.Delay(120);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            do
            {
                await CommitAsync(store, RandomNumberGenerator.GetBytes(1000));
            }
            while (!File.Exists(partial) && DateTime.UtcNow < deadline);

            Assert.True(File.Exists(partial), "no fill in progress: " + string.Join(", ", Directory.GetFiles(SegmentFolder).Select(Path.GetFileName)));
        }
        finally
        {
            store.Dispose();
        }

        Assert.False(File.Exists(partial));
        Assert.False(File.Exists(Path.Combine(SegmentFolder, "next.spare")));
        Assert.Equal(["00000001.seg"], Directory.GetFiles(SegmentFolder).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Start_up_frees_the_zeros_after_the_last_record_and_replaces_a_spare_cut_short_or_of_another_length()
    {
        string key;
        using (var firstRun = new FolderBlobStore(root.FullName, InMemoryLimit, spareSegmentLength: SpareLength, idleBeforeSpare: TimeSpan.FromHours(1)))
        {
            firstRun.PrepareSpace();
            key = await CommitAsync(firstRun, RandomNumberGenerator.GetBytes(1000));
            firstRun.PrepareSpace(); // as a later start-up would: a new spare
        }

        File.WriteAllBytes(Path.Combine(SegmentFolder, "next.spare.part"), [1, 2, 3]); // as a crash while filling leaves it
        using var restarted = new FolderBlobStore(root.FullName, InMemoryLimit, spareSegmentLength: 2 * SpareLength, idleBeforeSpare: TimeSpan.FromHours(1));

        Assert.False(File.Exists(Path.Combine(SegmentFolder, "next.spare.part")));
        Assert.Empty(Unreferenced(restarted, new HashSet<string> { key }));
        Assert.Equal(0, RemoveUnreferenced(restarted, new HashSet<string> { key }));
        Assert.Equal(RecordLength(1000), new FileInfo(Path.Combine(SegmentFolder, "00000001.seg")).Length);

        restarted.PrepareSpace();
        Assert.Equal(2 * SpareLength, new FileInfo(Path.Combine(SegmentFolder, "next.spare")).Length);
        Assert.StartsWith("s/00000002/", await CommitAsync(restarted, RandomNumberGenerator.GetBytes(10)), StringComparison.Ordinal);
        Assert.Equal(2 * SpareLength, new FileInfo(Path.Combine(SegmentFolder, "00000002.seg")).Length);
    }

    /// <summary>The bytes a record of <paramref name="length"/> takes: a 16-byte header and the bytes, up to the next 4 KiB.</summary>
    private static int RecordLength(int length) => (16 + length + 4095) / 4096 * 4096;

    /// <summary>The start-up sweep's unreferenced keys, part by part.</summary>
    private static List<string> Unreferenced(FolderBlobStore store, IReadOnlySet<string> known) =>
        [.. store.KeyPrefixes().SelectMany(prefix => store.EnumerateUnreferenced(prefix, known))];

    /// <summary>The start-up sweep's removal, part by part.</summary>
    private static int RemoveUnreferenced(FolderBlobStore store, IReadOnlySet<string> known) =>
        store.KeyPrefixes().Sum(prefix => store.RemoveUnreferenced(prefix, known));

    /// <summary>This process's open descriptors of files in the segment folder (Linux /proc).</summary>
    private int OpenSegmentDescriptors() =>
        new DirectoryInfo("/proc/self/fd").GetFiles().Count(fd => fd.LinkTarget is { } target && target.StartsWith(SegmentFolder + "/", StringComparison.Ordinal));

    [Fact]
    public async Task A_record_deleted_while_being_read_is_read_whole_and_freed_when_its_last_reader_closes()
    {
        using var store = new FolderBlobStore(root.FullName, InMemoryLimit);
        var bytes = RandomNumberGenerator.GetBytes(200_000);
        var key = await CommitAsync(store, bytes);
        var first = store.OpenRead(key);
        var second = store.Reopener(key)();
        var head = new byte[1000];
        first.ReadExactly(head);

        Assert.Empty(store.DeleteDurably(key)); // not gone on disk yet: a reader holds it

        Assert.Equal(bytes.AsSpan(1000).ToArray(), ReadAll(first));
        Assert.True(store.Exists(key));
        Assert.Equal(bytes, ReadAll(second));
        Assert.False(store.Exists(key));
        Assert.Throws<IOException>(() => store.OpenRead(key));
        var segment = Directory.GetFiles(SegmentFolder).Single();
        Assert.All(File.ReadAllBytes(segment).AsSpan(0, 200_016).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task Start_up_frees_the_records_no_index_row_knows_and_keeps_every_known_one()
    {
        var blobs = Enumerable.Range(0, 5).Select(i => RandomNumberGenerator.GetBytes(50_000 + i)).ToList();
        var keys = new List<string>();
        string abandonedSegmentKey;
        using (var store = new FolderBlobStore(root.FullName, InMemoryLimit))
        {
            foreach (var bytes in blobs)
            {
                keys.Add(await CommitAsync(store, bytes));
            }
        }

        using (var secondRun = new FolderBlobStore(root.FullName, InMemoryLimit))
        {
            abandonedSegmentKey = await CommitAsync(secondRun, RandomNumberGenerator.GetBytes(1000));
        }

        Assert.StartsWith("s/00000002/", abandonedSegmentKey, StringComparison.Ordinal);
        using var restarted = new FolderBlobStore(root.FullName, InMemoryLimit);
        var known = new HashSet<string> { keys[0], keys[2], keys[3] };
        Assert.Equal(["s/00000001/", "s/00000002/"], restarted.KeyPrefixes()); // one part per segment, oldest first

        // keys[1] (a hole between known records), keys[4] (the tail) and the second run's whole segment, in the order written.
        Assert.Equal([keys[1], keys[4], abandonedSegmentKey], Unreferenced(restarted, known));
        Assert.Equal(3, RemoveUnreferenced(restarted, known));
        Assert.Empty(Unreferenced(restarted, known));

        Assert.Equal(known.Order(StringComparer.Ordinal), restarted.EnumerateKeys().Order(StringComparer.Ordinal));
        foreach (var i in new[] { 0, 2, 3 })
        {
            Assert.Equal(blobs[i], ReadAll(restarted.OpenRead(keys[i])));
        }

        var segment = Path.Combine(SegmentFolder, "00000001.seg");
        Assert.Equal(OffsetOf(keys[4]), new FileInfo(segment).Length);
        Assert.Equal(0, new FileInfo(Path.Combine(SegmentFolder, "00000002.seg")).Length); // the newest segment stays, empty
        Assert.Equal(0, RemoveUnreferenced(restarted, known));

        // A restarted store appends to a segment of its own, numbered after every segment file.
        Assert.StartsWith("s/00000003/", await CommitAsync(restarted, RandomNumberGenerator.GetBytes(10)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Blobs_after_a_longer_or_shorter_one_are_received_whole_whatever_the_buffer_it_left()
    {
        // Each blob is received into a buffer as long as the one committed before it, and grows from there as pieces arrive.
        using var store = new FolderBlobStore(root.FullName, InMemoryLimit);
        var blobs = new[] { 132_436, 1, 70_000, 200_000, 65_536, InMemoryLimit, 10, InMemoryLimit + 1, 131_073 }
            .Select(RandomNumberGenerator.GetBytes).ToList();

        var keys = new List<string>();
        foreach (var bytes in blobs)
        {
            await using var temporary = store.CreateTemporary();
            foreach (var piece in bytes.Chunk(10_000))
            {
                await temporary.Content.WriteAsync(piece);
            }

            keys.Add(await temporary.CommitAsync($"00/00/{keys.Count}.dcm", CancellationToken.None));
        }

        Assert.Equal(blobs, keys.Select(key => ReadAll(store.OpenRead(key))));
        Assert.Equal([false, false, false, false, false, false, false, true, false], keys.Select(key => key.StartsWith("00/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_blob_over_the_in_memory_limit_is_a_file_of_its_own_under_the_key_given()
    {
        using var store = new FolderBlobStore(root.FullName, InMemoryLimit);
        var bytes = RandomNumberGenerator.GetBytes(InMemoryLimit + 1);
        const string fileKey = "ab/abcdef/0123.dcm";

        var key = await CommitAsync(store, bytes, fileKey);

        Assert.Equal(fileKey, key);
        Assert.False(store.IsRecoverable(key)); // a file's key is reused when its instance is stored again
        Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(root.FullName, "ab", "abcdef", "0123.dcm")));
        Assert.Equal([fileKey], store.EnumerateKeys().ToList());
        Assert.Equal(["ab/"], store.KeyPrefixes()); // one part per top folder of files
        Assert.Equal(1, RemoveUnreferenced(store, new HashSet<string>()));
        Assert.Empty(store.EnumerateKeys());
    }

    [Fact]
    public async Task Start_up_leaves_alone_files_whose_names_no_key_can_have()
    {
        using var store = new FolderBlobStore(root.FullName, InMemoryLimit);
        var fileKey = await CommitAsync(store, RandomNumberGenerator.GetBytes(InMemoryLimit + 1), "ab/abcdef/0123.dcm");
        string[] strays = [Path.Combine(root.FullName, "Copied Here", "x.dcm"), Path.Combine(root.FullName, "ab", "Upper.dcm")];
        foreach (var stray in strays)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(stray)!);
            File.WriteAllBytes(stray, [1, 2, 3]);
        }

        Assert.Equal(["ab/"], store.KeyPrefixes());
        Assert.Empty(Unreferenced(store, new HashSet<string> { fileKey }));
        Assert.Equal(0, RemoveUnreferenced(store, new HashSet<string> { fileKey }));
        Assert.All(strays, stray => Assert.True(File.Exists(stray)));
        Assert.Equal([fileKey], store.EnumerateKeys().ToList());
    }

    [Theory]
    [InlineData("s/../../etc/passwd")]
    [InlineData("s/00000001/10/10")] // not a record boundary
    [InlineData("s/00000001/0")]
    [InlineData("s/00000001/-1000/10")]
    [InlineData("s/00000001/0/ffffffffffffffff")]
    [InlineData("../x.dcm")]
    [InlineData("ab/ABC.dcm")]
    public void A_key_that_is_not_a_blob_key_is_refused(string key)
    {
        using var store = new FolderBlobStore(root.FullName, InMemoryLimit);
        Assert.Throws<ArgumentException>(() => store.OpenRead(key));
        Assert.Throws<ArgumentException>(() => store.DeleteDurably(key));
    }

    [Fact]
    public async Task A_key_whose_length_does_not_match_the_record_reads_nothing()
    {
        using var store = new FolderBlobStore(root.FullName, InMemoryLimit);
        var key = await CommitAsync(store, RandomNumberGenerator.GetBytes(5000));
        var forged = key[..key.LastIndexOf('/')] + "/" + 6000.ToString("x", CultureInfo.InvariantCulture);

        Assert.Throws<IOException>(() => store.OpenRead(forged));
        Assert.False(store.Exists(forged));
        store.DeleteDurably(forged);
        Assert.True(store.Exists(key));
    }

    private static async Task<string> CommitAsync(FolderBlobStore store, byte[] bytes, string fileKey = "00/00/unused.dcm")
    {
        await using var temporary = store.CreateTemporary();
        await temporary.Content.WriteAsync(bytes);
        return await temporary.CommitAsync(fileKey, CancellationToken.None);
    }

    private static long OffsetOf(string key) => long.Parse(key.Split('/')[2], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    private static byte[] ReadAll(Stream stream)
    {
        using (stream)
        {
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        }
    }

    /// <summary>The bytes the file system allocated to <paramref name="path"/> (GNU stat: blocks of %B bytes).</summary>
    private static long AllocatedBytes(string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%b %B", path]) { RedirectStandardOutput = true })!;
        var fields = stat.StandardOutput.ReadToEnd().Split(' ', StringSplitOptions.TrimEntries);
        stat.WaitForExit();
        return long.Parse(fields[0], CultureInfo.InvariantCulture) * long.Parse(fields[1], CultureInfo.InvariantCulture);
    }
}
