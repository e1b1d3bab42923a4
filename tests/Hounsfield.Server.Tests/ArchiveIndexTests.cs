using Hounsfield.Archive;
using Hounsfield.Archive.Blobs;
using Hounsfield.Archive.Index;
using Hounsfield.Archive.Ingest;
using Hounsfield.Archive.Query;
using Hounsfield.Dicom;

namespace Hounsfield.Server.Tests;

/// <summary>The SQLite index's commits (lazy for instances their blobs can rebuild, durable when a blob is freed), and its rebuild from the blobs at start-up.</summary>
public sealed class ArchiveIndexTests : IDisposable
{
    private readonly DirectoryInfo data = Directory.CreateTempSubdirectory("hounsfield-index-");

    public void Dispose() => data.Delete(recursive: true);

    [Fact]
    public async Task A_replaced_or_deleted_row_leaves_its_blob_key_freed_until_forgotten()
    {
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        await index.InitializeAsync(CancellationToken.None);
        await index.AddInstanceAsync(Record("s/00000001/0/10"), durable: false, CancellationToken.None);
        await index.AddInstanceAsync(Record("s/00000001/1000/10"), durable: false, CancellationToken.None);

        var stored = await index.FindInstanceAsync("1.2.3.4.1", CancellationToken.None);
        Assert.Equal("s/00000001/1000/10", stored?.BlobKey);
        Assert.Equal(["s/00000001/1000/10"], await index.BlobKeysAsync("", CancellationToken.None));
        Assert.Equal(["s/00000001/0/10"], await index.FreedBlobKeysAsync(CancellationToken.None));

        var deleted = await index.DeleteInstancesAsync(["1.2.3.4.1", "1.2.3.4.404"], CancellationToken.None);
        Assert.Equal(["s/00000001/1000/10"], deleted); // none for the instance not indexed
        Assert.Equal(["s/00000001/0/10", "s/00000001/1000/10"], (await index.FreedBlobKeysAsync(CancellationToken.None)).Order());
        await index.ForgetFreedBlobsAsync(["s/00000001/1000/10"], CancellationToken.None);
        Assert.Equal(["s/00000001/0/10"], await index.FreedBlobKeysAsync(CancellationToken.None));
        await index.ForgetFreedBlobsAsync(["s/00000001/0/10", "s/00000001/2000/10"], CancellationToken.None);
        Assert.Empty(await index.FreedBlobKeysAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_blob_keys_of_one_part_are_exactly_those_under_its_prefix()
    {
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        await index.InitializeAsync(CancellationToken.None);
        // Neighbours in byte order: a segment's successor id ("s/00000001/" < "s/000000010" < "s/0000001a/"), and folders.
        string[] keys = ["s/00000001/0/10", "s/00000001/a000/ff", "s/0000001a/0/10", "s/00000010/0/10", "ab/00/1.dcm", "ab0/1.dcm", "aa/ff/2.dcm"];
        for (var i = 0; i < keys.Length; i++)
        {
            await index.AddInstanceAsync(Record(keys[i]) with { SopInstanceUid = $"1.2.3.4.{i + 1}" }, durable: false, CancellationToken.None);
        }

        Assert.Equal(["s/00000001/0/10", "s/00000001/a000/ff"], (await index.BlobKeysAsync("s/00000001/", CancellationToken.None)).Order());
        Assert.Equal(["s/00000010/0/10"], await index.BlobKeysAsync("s/00000010/", CancellationToken.None));
        Assert.Equal(["ab/00/1.dcm"], await index.BlobKeysAsync("ab/", CancellationToken.None));
        Assert.Empty(await index.BlobKeysAsync("s/00000002/", CancellationToken.None));
        Assert.Equal(keys.Order(), (await index.BlobKeysAsync("", CancellationToken.None)).Order());

        // Read from the index on the key, not by a scan of the instance rows (which hold each instance's metadata).
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(data.FullName, "index.db")}");
        connection.Open();
        using var explain = connection.CreateCommand();
        explain.CommandText = "EXPLAIN QUERY PLAN SELECT blob_key FROM instances WHERE blob_key >= 'ab/' AND blob_key < 'ab0'";
        using var plan = explain.ExecuteReader();
        Assert.True(plan.Read());
        Assert.Contains("USING COVERING INDEX instances_blob_key", plan.GetString(3), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_later_instance_updates_its_patient_and_moves_its_study_and_an_unchanged_one_changes_nothing()
    {
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        await index.InitializeAsync(CancellationToken.None);
        await index.AddInstanceAsync(Record("s/00000001/0/10") with { PatientName = "DOE^JANE" }, durable: false, CancellationToken.None);
        await index.AddInstanceAsync(Record("s/00000001/1000/10") with { SopInstanceUid = "1.2.3.4.2", PatientName = "DOE^JANE" }, durable: false, CancellationToken.None);
        await index.AddInstanceAsync(Record("s/00000001/2000/10") with { SopInstanceUid = "1.2.3.4.3", PatientName = "ROE^JANE" }, durable: false, CancellationToken.None);
        var study = Assert.Single((await index.QueryAsync(new() { Level = QueryLevel.Study, IncludeAll = true }, CancellationToken.None)).Matches);
        Assert.Equal("ROE^JANE", study.GetString(DicomTag.PatientName));
        Assert.Equal("3", study.GetString(DicomTag.NumberOfStudyRelatedInstances));
        Assert.Equal(["ROE^JANE"], await PatientNamesAsync(index, "ROE")); // fuzzy and name columns follow; the old name is gone
        Assert.Empty(await PatientNamesAsync(index, "DOE"));

        // The study's next instance names another patient: the study moves to it, and its series stays one.
        await index.AddInstanceAsync(Record("s/00000001/3000/10") with { SopInstanceUid = "1.2.3.4.4", PatientId = "Q", PatientName = "POE^JOHN" }, durable: false, CancellationToken.None);
        study = Assert.Single((await index.QueryAsync(new() { Level = QueryLevel.Study, IncludeAll = true }, CancellationToken.None)).Matches);
        Assert.Equal("Q", study.GetString(DicomTag.PatientID));
        Assert.Equal("1", study.GetString(DicomTag.NumberOfStudyRelatedSeries));
        Assert.Equal("4", study.GetString(DicomTag.NumberOfStudyRelatedInstances));
    }

    [Fact]
    public async Task Instances_after_a_delete_or_a_replacement_that_removed_their_series_get_its_rows_anew()
    {
        // The next instance of a series reuses the patient, study and series rows the last insert found, unless they may be gone.
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        await index.InitializeAsync(CancellationToken.None);
        await index.AddInstanceAsync(Record("s/00000001/0/10"), durable: false, CancellationToken.None);
        Assert.Equal(["s/00000001/0/10"], await index.DeleteInstancesAsync(["1.2.3.4.1"], CancellationToken.None));
        Assert.Empty((await index.QueryAsync(new() { Level = QueryLevel.Study }, CancellationToken.None)).Matches);

        await index.AddInstanceAsync(Record("s/00000001/1000/10") with { SopInstanceUid = "1.2.3.4.2" }, durable: false, CancellationToken.None);
        // Stored again, the series' only instance takes its series, study and patient rows with it, and makes them again.
        await index.AddInstanceAsync(Record("s/00000001/2000/10") with { SopInstanceUid = "1.2.3.4.2" }, durable: true, CancellationToken.None);
        await index.AddInstanceAsync(Record("s/00000001/3000/10") with { SopInstanceUid = "1.2.3.4.3" }, durable: false, CancellationToken.None);

        var study = Assert.Single((await index.QueryAsync(new() { Level = QueryLevel.Study, IncludeAll = true }, CancellationToken.None)).Matches);
        Assert.Equal("1", study.GetString(DicomTag.NumberOfStudyRelatedSeries));
        Assert.Equal("2", study.GetString(DicomTag.NumberOfStudyRelatedInstances));
        var series = Assert.Single((await index.QueryAsync(new() { Level = QueryLevel.Series, IncludeAll = true }, CancellationToken.None)).Matches);
        Assert.Equal("2", series.GetString(DicomTag.NumberOfSeriesRelatedInstances));
        Assert.Equal("s/00000001/2000/10", (await index.FindInstanceAsync("1.2.3.4.2", CancellationToken.None))?.BlobKey);
        Assert.Equal(["s/00000001/2000/10", "s/00000001/3000/10"], (await index.BlobKeysAsync("", CancellationToken.None)).Order());
    }

    [Fact]
    public async Task A_series_or_study_named_under_another_study_or_patient_moves_there_and_what_it_left_empty_goes()
    {
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        await index.InitializeAsync(CancellationToken.None);
        await index.AddInstanceAsync(Record("s/00000001/0/10"), durable: false, CancellationToken.None);
        await index.AddInstanceAsync(Record("s/00000001/1000/10") with { SopInstanceUid = "1.2.3.4.2", StudyInstanceUid = "1.2.5" }, durable: false, CancellationToken.None);

        // The series moved to study 1.2.5 with its first instance; study 1.2.3, left without series, is gone.
        var study = Assert.Single((await index.QueryAsync(new() { Level = QueryLevel.Study, IncludeAll = true }, CancellationToken.None)).Matches);
        Assert.Equal("1.2.5", study.GetString(DicomTag.StudyInstanceUID));
        Assert.Equal("1", study.GetString(DicomTag.NumberOfStudyRelatedSeries));
        Assert.Equal("2", study.GetString(DicomTag.NumberOfStudyRelatedInstances));

        // The study moves to patient Q; patient P, left without studies, is gone.
        await index.AddInstanceAsync(Record("s/00000001/2000/10") with { SopInstanceUid = "1.2.3.4.3", StudyInstanceUid = "1.2.5", PatientId = "Q" }, durable: false, CancellationToken.None);
        study = Assert.Single((await index.QueryAsync(new() { Level = QueryLevel.Study, IncludeAll = true }, CancellationToken.None)).Matches);
        Assert.Equal("Q", study.GetString(DicomTag.PatientID));
        Assert.Equal("3", study.GetString(DicomTag.NumberOfStudyRelatedInstances));
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(data.FullName, "index.db")}");
        connection.Open();
        using var patients = connection.CreateCommand();
        patients.CommandText = "SELECT group_concat(patient_id) FROM patients";
        Assert.Equal("Q", patients.ExecuteScalar());
    }

    private static async Task<List<string?>> PatientNamesAsync(SqliteArchiveIndex index, string fuzzyName) =>
        (await index.QueryAsync(new() { Level = QueryLevel.Study, FuzzyMatching = true, Matches = [(DicomTag.PatientName, fuzzyName)] }, CancellationToken.None))
            .Matches.Select(match => match.GetString(DicomTag.PatientName)).ToList();

    [Theory]
    [InlineData(100_000)] // a segment record
    [InlineData(20)] // a file of its own (larger than the in-memory limit of 20 bytes)
    public async Task Deleting_or_replacing_an_instance_removes_its_blob_for_good_and_leaves_no_freed_key_behind(int inMemoryLimit)
    {
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        using var store = new FolderBlobStore(Path.Combine(data.FullName, "blobs"), inMemoryLimit);
        var archive = new ArchiveService(index, store, new ArchiveOptions { DuplicatePolicy = DuplicatePolicy.Overwrite });
        await archive.InitializeAsync(CancellationToken.None);
        var first = await archive.IngestAsync(new MemoryStream(Instance("FIRST")), null, CancellationToken.None);
        var firstKey = Assert.Single(store.EnumerateKeys());
        var second = await archive.IngestAsync(new MemoryStream(Instance("SECOND")), null, CancellationToken.None);

        Assert.True(first.Stored && second.Stored, second.Message);
        var stored = Assert.Single(await archive.ListInstancesAsync("1.2.826.0.1.3680043.10.9", null, null, CancellationToken.None));
        Assert.Equal([stored.BlobKey], store.EnumerateKeys().ToList());
        if (store.IsRecoverable(firstKey))
        {
            Assert.NotEqual(firstKey, stored.BlobKey); // a new record; the old one freed
        }
        else
        {
            Assert.Equal(firstKey, stored.BlobKey); // a file of its own is replaced in place, its key in use again
        }

        Assert.Empty(await index.FreedBlobKeysAsync(CancellationToken.None));

        Assert.Equal(1, await archive.DeleteAsync("1.2.826.0.1.3680043.10.9", null, null, CancellationToken.None));
        Assert.Empty(store.EnumerateKeys());
        Assert.Empty(await index.BlobKeysAsync("", CancellationToken.None));
        Assert.Empty(await index.FreedBlobKeysAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Start_up_indexes_a_readable_blob_the_index_lacks_and_removes_unreadable_ones()
    {
        var index = Path.Combine(data.FullName, "index.db");
        var blobs = Path.Combine(data.FullName, "blobs");
        var instance = Instance("REBUILT");
        var withoutUids = new DicomFile(new DicomDataset().AddOrUpdate(DicomTag.PatientID, DicomVR.LO, "NO UIDS")).ToBytes();
        byte[] notDicom = [.. "not a DICOM file, and a hostile length: "u8, 0xFF, 0xFF, 0xFF, 0xFF];
        using (var store = new FolderBlobStore(blobs))
        {
            // Blobs committed with no index row, as a power loss after their flush leaves them.
            foreach (var bytes in new[] { instance, withoutUids, notDicom })
            {
                await using var temporary = store.CreateTemporary();
                await temporary.Content.WriteAsync(bytes);
                await temporary.CommitAsync("00/00/unused.dcm", CancellationToken.None);
            }
        }

        using var restartedIndex = new SqliteArchiveIndex(index);
        using var restartedStore = new FolderBlobStore(blobs);
        var archive = new ArchiveService(restartedIndex, restartedStore, new ArchiveOptions());

        var progress = new List<ArchiveRecovery>();
        Assert.Equal(new ArchiveStartup(Recovered: 1, Removed: 2), await archive.InitializeAsync(new Recorded<ArchiveRecovery>(progress), CancellationToken.None));
        Assert.Equal([new ArchiveRecovery(0, 0, 1), new ArchiveRecovery(3, 1, 1)], progress);
        var stored = Assert.Single(await archive.ListInstancesAsync("1.2.826.0.1.3680043.10.9", null, null, CancellationToken.None));
        Assert.Equal("1.2.826.0.1.3680043.10.9.1", stored.SopInstanceUid);
        Assert.Equal(instance, await StoredBytesAsync(archive, stored));

        Assert.Equal([stored.BlobKey], restartedStore.EnumerateKeys().ToList());
        Assert.Equal(new ArchiveStartup(Recovered: 0, Removed: 0), await archive.InitializeAsync(new Recorded<ArchiveRecovery>(progress), CancellationToken.None));
        Assert.Equal(2, progress.Count); // nothing to read, nothing reported
    }

    [Fact]
    public async Task An_instance_stored_again_while_its_delete_removes_the_blob_keeps_its_new_blob()
    {
        // A large instance is a file whose key every copy of it shares; the delete must not remove the new copy's file.
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        using var folder = new FolderBlobStore(Path.Combine(data.FullName, "blobs"), inMemoryLimit: 20);
        var store = new HeldDeletes(folder);
        var archive = new ArchiveService(index, store, new ArchiveOptions());
        await archive.InitializeAsync(CancellationToken.None);
        Assert.True((await archive.IngestAsync(new MemoryStream(Instance("FIRST")), null, CancellationToken.None)).Stored);

        var deleting = Task.Run(() => archive.DeleteAsync("1.2.826.0.1.3680043.10.9", null, null, CancellationToken.None));
        await store.DeleteStarted.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var storingAgain = Task.Run(() => archive.IngestAsync(new MemoryStream(Instance("AGAIN")), null, CancellationToken.None));
        await Task.WhenAny(storingAgain, Task.Delay(300)); // time to overtake the delete, were it allowed to
        store.ReleaseDeletes.SetResult();

        Assert.Equal(1, await deleting);
        Assert.True((await storingAgain).Stored);
        var stored = Assert.Single(await archive.ListInstancesAsync("1.2.826.0.1.3680043.10.9", null, null, CancellationToken.None));
        Assert.Equal(Instance("AGAIN"), await StoredBytesAsync(archive, stored));
    }

    [Fact]
    public async Task A_delete_whose_blob_removal_fails_is_still_done_and_start_up_removes_the_blob()
    {
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        var blobs = Path.Combine(data.FullName, "blobs");
        string key;
        using (var folder = new FolderBlobStore(blobs))
        {
            var archive = new ArchiveService(index, new FailingDeletes(folder), new ArchiveOptions());
            await archive.InitializeAsync(CancellationToken.None);
            Assert.True((await archive.IngestAsync(new MemoryStream(Instance("FAILING")), null, CancellationToken.None)).Stored);
            key = Assert.Single(folder.EnumerateKeys());

            Assert.Equal(1, await archive.DeleteAsync("1.2.826.0.1.3680043.10.9", null, null, CancellationToken.None));
            Assert.Empty(await archive.ListInstancesAsync("1.2.826.0.1.3680043.10.9", null, null, CancellationToken.None));
            Assert.Equal([key], folder.EnumerateKeys().ToList());
            Assert.Equal([key], await index.FreedBlobKeysAsync(CancellationToken.None));
        }

        using var restartedStore = new FolderBlobStore(blobs);
        var restarted = new ArchiveService(index, restartedStore, new ArchiveOptions());
        Assert.Equal(new ArchiveStartup(Recovered: 0, Removed: 1), await restarted.InitializeAsync(CancellationToken.None));
        Assert.Empty(restartedStore.EnumerateKeys());
        Assert.Empty(await index.FreedBlobKeysAsync(CancellationToken.None));
    }

    private sealed class FailingDeletes(IBlobStore inner) : ForwardingBlobStore(inner)
    {
        public override IReadOnlyList<string> DeleteDurably(params IReadOnlyCollection<string> keys) => throw new IOException("disk error (test)");
    }

    /// <summary>A blob store whose deletes wait until released.</summary>
    private sealed class HeldDeletes(IBlobStore inner) : ForwardingBlobStore(inner)
    {
        public TaskCompletionSource DeleteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource ReleaseDeletes { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override IReadOnlyList<string> DeleteDurably(params IReadOnlyCollection<string> keys)
        {
            DeleteStarted.TrySetResult();
            ReleaseDeletes.Task.Wait(TimeSpan.FromSeconds(20));
            return base.DeleteDurably(keys);
        }
    }

    [Fact]
    public async Task Of_two_copies_of_an_instance_in_the_blobs_the_rebuilt_index_keeps_the_first_written()
    {
        var blobs = Path.Combine(data.FullName, "blobs");
        var first = Instance("FIRST");
        var second = Instance("SECOND"); // the same SOP Instance UID
        var other = SecondaryCapture.Bytes("1.2.826.0.1.3680043.10.9", "1.2.826.0.1.3680043.10.9.2", "1.2.826.0.1.3680043.10.9.7");
        using (var store = new FolderBlobStore(blobs))
        {
            foreach (var bytes in new[] { first, other, second })
            {
                await using var temporary = store.CreateTemporary();
                await temporary.Content.WriteAsync(bytes);
                await temporary.CommitAsync("00/00/unused.dcm", CancellationToken.None);
            }
        }

        using var restartedIndex = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        using var restartedStore = new FolderBlobStore(blobs);
        var archive = new ArchiveService(restartedIndex, restartedStore, new ArchiveOptions());

        // Recovered together in one commit; the later copy is removed as unreferenced.
        Assert.Equal(new ArchiveStartup(Recovered: 2, Removed: 1), await archive.InitializeAsync(CancellationToken.None));
        var stored = await archive.ListInstancesAsync("1.2.826.0.1.3680043.10.9", null, null, CancellationToken.None);
        Assert.Equal(["1.2.826.0.1.3680043.10.9.1", "1.2.826.0.1.3680043.10.9.7"], stored.Select(i => i.SopInstanceUid).Order());
        Assert.Equal(first, await StoredBytesAsync(archive, stored.Single(i => i.SopInstanceUid == "1.2.826.0.1.3680043.10.9.1")));
        Assert.Equal(2, restartedStore.EnumerateKeys().Count());
    }

    [Fact]
    public async Task Start_up_rebuilds_a_record_s_row_with_a_lazy_commit_and_a_file_s_row_with_a_durable_one()
    {
        var index = Path.Combine(data.FullName, "index.db");
        var blobs = Path.Combine(data.FullName, "blobs");
        var small = SecondaryCapture.Bytes("1.2.826.0.1.3680043.10.9", "1.2.826.0.1.3680043.10.9.2", "1.2.826.0.1.3680043.10.9.1");
        var large = SecondaryCapture.Bytes("1.2.826.0.1.3680043.10.9", "1.2.826.0.1.3680043.10.9.2", "1.2.826.0.1.3680043.10.9.3",
            dataset => dataset.AddOrUpdate(DicomTag.ImageComments, DicomVR.LT, new string('x', 4000)));
        using (var store = new FolderBlobStore(blobs, inMemoryLimit: 4000))
        {
            foreach (var (bytes, fileKey) in new[] { (small, "00/00/small.dcm"), (large, "00/00/large.dcm") })
            {
                await using var temporary = store.CreateTemporary();
                await temporary.Content.WriteAsync(bytes);
                await temporary.CommitAsync(fileKey, CancellationToken.None);
            }
        }

        using var restartedIndex = new SqliteArchiveIndex(index);
        var recording = new AddRecordingIndex(restartedIndex);
        using var restartedStore = new FolderBlobStore(blobs, inMemoryLimit: 4000);
        var archive = new ArchiveService(recording, restartedStore, new ArchiveOptions());

        Assert.Equal(new ArchiveStartup(Recovered: 2, Removed: 0), await archive.InitializeAsync(CancellationToken.None));

        // A record rebuilds its row again if a power loss undoes the commit; a file's key is given again when its instance is
        // stored again, so its row must not come and go.
        Assert.Equal([("1.2.826.0.1.3680043.10.9.1", false), ("1.2.826.0.1.3680043.10.9.3", true)], recording.Adds.Order());
        Assert.Equal(2, (await archive.ListInstancesAsync("1.2.826.0.1.3680043.10.9", null, null, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task An_instance_acknowledged_before_its_row_is_written_is_seen_by_every_read_that_follows()
    {
        using var started = await RecordedArchive.StartAsync(data, RowsWrittenWhenAsked);
        var (archive, recording, index) = (started.Archive, started.Recording, started.Index);
        const string study = "1.2.826.0.1.3680043.10.9";
        var instances = Enumerable.Range(1, 4).Select(i => SecondaryCapture.Bytes(study, $"{study}.2", $"{study}.{i}")).ToList();

        async Task<string> StoreDurably(byte[] bytes)
        {
            var result = await archive.IngestAsync(Writing(bytes), null, IngestCompletion.Durable, CancellationToken.None);
            Assert.True(result.Stored, result.Message);
            Assert.Null(await index.FindInstanceAsync(result.SopInstanceUid!, CancellationToken.None)); // answered before the row
            return result.SopInstanceUid!;
        }

        var first = await StoreDurably(instances[0]);
        Assert.Equal(first, Assert.Single(await archive.ListInstancesAsync(study, null, null, CancellationToken.None)).SopInstanceUid);

        var second = await StoreDurably(instances[1]);
        var matches = await archive.QueryAsync(new QidoQuery { Level = QueryLevel.Instance, StudyInstanceUid = study }, CancellationToken.None);
        Assert.Equal([first, second], matches.Matches.Select(match => match.GetString(DicomTag.SOPInstanceUID)).Order());

        var third = await StoreDurably(instances[2]);
        var metadata = new List<byte[]>();
        await foreach (var item in archive.ReadMetadataAsync(study, null, third, CancellationToken.None))
        {
            metadata.Add(item);
        }

        Assert.Single(metadata);

        // A copy of an instance whose row is pending is a duplicate, as it would be of an indexed one.
        var fourth = await StoreDurably(instances[3]);
        var copy = await archive.IngestAsync(new MemoryStream(instances[3]), null, CancellationToken.None);
        Assert.Equal(IngestResult.DuplicateSopInstance, copy.FailureReason);
        Assert.NotNull(await index.FindInstanceAsync(fourth, CancellationToken.None));

        await archive.IndexPendingAsync(); // nothing left: no second row
        Assert.Equal([first, second, third, fourth], recording.Adds.Select(add => add.SopInstanceUid));
        Assert.All(recording.Adds, add => Assert.False(add.Durable));
    }

    [Fact]
    public async Task A_pending_row_that_cannot_be_written_is_logged_and_indexed_at_the_next_start()
    {
        var blobs = Path.Combine(data.FullName, "blobs");
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        var bytes = Instance("UNINDEXED");
        var logger = new RecordingLogger<ArchiveService>();
        using (var store = new FolderBlobStore(blobs))
        {
            var failing = new AddRecordingIndex(index) { FailAdds = true };
            var archive = new ArchiveService(failing, store, RowsWrittenWhenAsked, logger);
            await archive.InitializeAsync(CancellationToken.None);
            Assert.True((await archive.IngestAsync(Writing(bytes), null, IngestCompletion.Durable, CancellationToken.None)).Stored);

            await archive.IndexPendingAsync(); // the failure is the log's, not the caller's
            var error = Assert.Single(logger.Entries);
            Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, error.Level);
            Assert.Contains("1.2.826.0.1.3680043.10.9.1", error.Message);
            Assert.Empty(await archive.ListInstancesAsync("1.2.826.0.1.3680043.10.9", null, null, CancellationToken.None));

            // Its commit turn was given back: another ingest of it does not wait for a row that will never come.
            failing.FailAdds = false;
            var again = archive.IngestAsync(new MemoryStream(Instance("AGAIN")), null, CancellationToken.None);
            Assert.True((await again.WaitAsync(TimeSpan.FromSeconds(20))).Stored);
            await archive.DeleteAsync("1.2.826.0.1.3680043.10.9", null, null, CancellationToken.None);
        }

        await AssertRestartHoldsAsync(index, blobs, recovered: 1, bytes);
    }

    [Fact]
    public async Task Disposing_the_archive_writes_the_pending_rows_so_the_next_start_recovers_nothing()
    {
        var blobs = Path.Combine(data.FullName, "blobs");
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        var bytes = Instance("PENDING AT STOP");
        using (var store = new FolderBlobStore(blobs))
        {
            await using var archive = new ArchiveService(index, store, RowsWrittenWhenAsked);
            await archive.InitializeAsync(CancellationToken.None);
            var result = await archive.IngestAsync(Writing(bytes), null, IngestCompletion.Durable, CancellationToken.None);
            Assert.True(result.Stored, result.Message);
            Assert.Null(await index.FindInstanceAsync(result.SopInstanceUid!, CancellationToken.None)); // still pending
        }

        await AssertRestartHoldsAsync(index, blobs, recovered: 0, bytes);
    }

    [Fact]
    public async Task Acknowledged_rows_are_written_together_a_moment_later_without_anyone_asking()
    {
        using var started = await RecordedArchive.StartAsync(data, new ArchiveOptions { IndexWriteDelay = TimeSpan.FromSeconds(2) });
        var (archive, recording, index) = (started.Archive, started.Recording, started.Index);
        const string study = "1.2.826.0.1.3680043.10.9";
        var sopInstanceUids = new List<string>();
        foreach (var i in Enumerable.Range(1, 3))
        {
            var result = await archive.IngestAsync(Writing(SecondaryCapture.Bytes(study, $"{study}.2", $"{study}.{i}")), null, IngestCompletion.Durable, CancellationToken.None);
            Assert.True(result.Stored, result.Message);
            await archive.AfterAcknowledgedAsync(); // what C-STORE and STOW-RS do once answered: nothing yet, with few pending
            sopInstanceUids.Add(result.SopInstanceUid!);
        }

        Assert.Empty(recording.Adds);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (recording.Commits == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        // No read and no call wrote them: the write the first one scheduled did, all three in one commit.
        Assert.Equal(sopInstanceUids, recording.Adds.Select(add => add.SopInstanceUid));
        Assert.Equal(1, recording.Commits);
        foreach (var sopInstanceUid in sopInstanceUids)
        {
            Assert.NotNull(await index.FindInstanceAsync(sopInstanceUid, CancellationToken.None));
        }
    }

    [Fact]
    public async Task Too_many_pending_rows_are_written_by_the_ingest_that_answers_the_last_of_them()
    {
        // A sender faster than the scheduled writes (here an hour away) meets a bound: the rows pending, and the memory
        // they hold, stop growing at 256, written by whoever acknowledges the 256th.
        using var started = await RecordedArchive.StartAsync(data, RowsWrittenWhenAsked);
        var (archive, recording) = (started.Archive, started.Recording);
        const string study = "1.2.826.0.1.3680043.10.9";
        for (var i = 1; i <= 256; i++)
        {
            Assert.Empty(recording.Adds); // fewer than 256 pending: left to the scheduled write
            var result = await archive.IngestAsync(Writing(SecondaryCapture.Bytes(study, $"{study}.2", $"{study}.{i}")), null, IngestCompletion.Durable, CancellationToken.None);
            Assert.True(result.Stored, result.Message);
            await archive.AfterAcknowledgedAsync();
        }

        Assert.Equal(256, recording.Adds.Count);
        Assert.Equal(1, recording.Commits);
    }

    [Fact]
    public async Task A_copy_of_an_instance_whose_row_is_pending_writes_that_row_rather_than_wait_for_it()
    {
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        using var store = new FolderBlobStore(Path.Combine(data.FullName, "blobs"));
        var archive = new ArchiveService(index, store, RowsWrittenWhenAsked);
        await archive.InitializeAsync(CancellationToken.None);
        var bytes = Instance("SENT TWICE");
        // The first sender is answered and never comes back (as an association that stalls after its response).
        Assert.True((await archive.IngestAnnouncedAsync("1.2.826.0.1.3680043.10.9.1", Writing(bytes), CancellationToken.None)).Stored);

        var copy = await archive.IngestAnnouncedAsync("1.2.826.0.1.3680043.10.9.1", Writing(bytes), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(IngestResult.DuplicateSopInstance, copy.FailureReason);
        Assert.NotNull(await index.FindInstanceAsync("1.2.826.0.1.3680043.10.9.1", CancellationToken.None));
    }

    [Fact]
    public async Task An_index_of_an_earlier_version_says_once_that_it_gains_the_blob_key_index()
    {
        var path = Path.Combine(data.FullName, "index.db");
        var logger = new RecordingLogger<SqliteArchiveIndex>();
        using (var fresh = new SqliteArchiveIndex(path, logger))
        {
            await fresh.InitializeAsync(CancellationToken.None);
            await fresh.AddInstanceAsync(Record("s/00000001/0/10"), durable: true, CancellationToken.None);
        }

        Assert.Empty(logger.Entries); // a new index is built with it

        // As an index.db written before the blob-key index existed.
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var drop = connection.CreateCommand();
            drop.CommandText = "DROP INDEX instances_blob_key";
            drop.ExecuteNonQuery();
        }

        using var upgraded = new SqliteArchiveIndex(path, logger);
        await upgraded.InitializeAsync(CancellationToken.None);
        await upgraded.InitializeAsync(CancellationToken.None);
        var entry = Assert.Single(logger.Entries);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Information, entry.Level);
        Assert.Contains("by blob key", entry.Message);
        Assert.Equal(["s/00000001/0/10"], await upgraded.BlobKeysAsync("s/00000001/", CancellationToken.None));
    }

    /// <summary>An archive over a new index, whose adds it records, and a blob folder in <paramref name="data"/>; started.</summary>
    private sealed class RecordedArchive : IDisposable
    {
        private readonly FolderBlobStore store;

        private RecordedArchive(DirectoryInfo data, ArchiveOptions options)
        {
            Index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
            store = new FolderBlobStore(Path.Combine(data.FullName, "blobs"));
            Recording = new AddRecordingIndex(Index);
            Archive = new ArchiveService(Recording, store, options);
        }

        public SqliteArchiveIndex Index { get; }

        public AddRecordingIndex Recording { get; }

        public ArchiveService Archive { get; }

        public static async Task<RecordedArchive> StartAsync(DirectoryInfo data, ArchiveOptions options)
        {
            var started = new RecordedArchive(data, options);
            await started.Archive.InitializeAsync(CancellationToken.None);
            return started;
        }

        public void Dispose()
        {
            store.Dispose();
            Index.Dispose();
        }
    }

    /// <summary>Rows of acknowledged instances stay pending until a read or a call writes them (their scheduled write is hours away).</summary>
    private static ArchiveOptions RowsWrittenWhenAsked => new() { IndexWriteDelay = TimeSpan.FromHours(1) };

    /// <summary>
    /// Starts an archive again over <paramref name="index"/> and the blob folder <paramref name="blobs"/>: its start-up
    /// re-indexes <paramref name="recovered"/> instances, and it then holds one instance, of exactly <paramref name="bytes"/>.
    /// </summary>
    private static async Task AssertRestartHoldsAsync(SqliteArchiveIndex index, string blobs, int recovered, byte[] bytes)
    {
        using var restartedStore = new FolderBlobStore(blobs);
        var restarted = new ArchiveService(index, restartedStore, new ArchiveOptions());
        Assert.Equal(new ArchiveStartup(Recovered: recovered, Removed: 0), await restarted.InitializeAsync(CancellationToken.None));
        var stored = Assert.Single(await restarted.ListInstancesAsync("1.2.826.0.1.3680043.10.9", null, null, CancellationToken.None));
        Assert.Equal(bytes, await StoredBytesAsync(restarted, stored));
    }

    /// <summary>The bytes the archive holds for <paramref name="stored"/>.</summary>
    private static async Task<byte[]> StoredBytesAsync(ArchiveService archive, StoredInstance stored)
    {
        using var read = archive.OpenInstance(stored);
        using var copy = new MemoryStream();
        await read.CopyToAsync(copy);
        return copy.ToArray();
    }

    private static Func<Stream, CancellationToken, Task> Writing(byte[] bytes) =>
        (destination, cancellationToken) => destination.WriteAsync(bytes, cancellationToken).AsTask();

    private sealed class RecordingLogger<T> : Microsoft.Extensions.Logging.ILogger<T>
    {
        public List<(Microsoft.Extensions.Logging.LogLevel Level, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Entries)
            {
                Entries.Add((logLevel, formatter(state, exception)));
            }
        }
    }

    /// <summary>The SQLite index, noting each instance added and whether its commit was asked to be durable; its adds fail while <see cref="FailAdds"/>.</summary>
    private sealed class AddRecordingIndex(SqliteArchiveIndex inner) : IArchiveIndex
    {
        public List<(string SopInstanceUid, bool Durable)> Adds { get; } = [];

        public bool FailAdds { get; set; }

        public Task AddInstanceAsync(InstanceRecord record, bool durable, CancellationToken cancellationToken) =>
            AddInstancesAsync([record], durable, cancellationToken);

        /// <summary>Calls of <see cref="AddInstancesAsync"/> that have returned: index commits done.</summary>
        public int Commits => Volatile.Read(ref commits);

        private int commits;

        public async Task AddInstancesAsync(IReadOnlyCollection<InstanceRecord> records, bool durable, CancellationToken cancellationToken)
        {
            if (FailAdds)
            {
                throw new IOException("disk error (test)");
            }

            lock (Adds)
            {
                Adds.AddRange(records.Select(record => (record.SopInstanceUid, durable)));
            }

            await inner.AddInstancesAsync(records, durable, cancellationToken);
            Interlocked.Increment(ref commits);
        }

        public Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

        public Task<StoredInstance?> FindInstanceAsync(string sopInstanceUid, CancellationToken cancellationToken) => inner.FindInstanceAsync(sopInstanceUid, cancellationToken);

        public Task<QueryResult> QueryAsync(QidoQuery query, CancellationToken cancellationToken) => inner.QueryAsync(query, cancellationToken);

        public Task<IReadOnlyList<StoredInstance>> ListInstancesAsync(string studyInstanceUid, string? seriesInstanceUid, string? sopInstanceUid, CancellationToken cancellationToken) =>
            inner.ListInstancesAsync(studyInstanceUid, seriesInstanceUid, sopInstanceUid, cancellationToken);

        public IAsyncEnumerable<byte[]> ReadMetadataAsync(string studyInstanceUid, string? seriesInstanceUid, string? sopInstanceUid, CancellationToken cancellationToken) =>
            inner.ReadMetadataAsync(studyInstanceUid, seriesInstanceUid, sopInstanceUid, cancellationToken);

        public Task<IReadOnlyList<string>> DeleteInstancesAsync(IReadOnlyCollection<string> sopInstanceUids, CancellationToken cancellationToken) =>
            inner.DeleteInstancesAsync(sopInstanceUids, cancellationToken);

        public Task<IReadOnlySet<string>> BlobKeysAsync(string prefix, CancellationToken cancellationToken) => inner.BlobKeysAsync(prefix, cancellationToken);

        public Task<IReadOnlySet<string>> FreedBlobKeysAsync(CancellationToken cancellationToken) => inner.FreedBlobKeysAsync(cancellationToken);

        public Task ForgetFreedBlobsAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken) => inner.ForgetFreedBlobsAsync(keys, cancellationToken);
    }

    private sealed class Recorded<T>(List<T> reports) : IProgress<T>
    {
        public void Report(T value) => reports.Add(value);
    }

    /// <summary>One secondary capture instance of study 1.2.826.0.1.3680043.10.9, told apart by its patient ID.</summary>
    private static byte[] Instance(string patientId) =>
        SecondaryCapture.Bytes("1.2.826.0.1.3680043.10.9", "1.2.826.0.1.3680043.10.9.2", "1.2.826.0.1.3680043.10.9.1", dataset =>
            dataset.AddOrUpdate(DicomTag.PatientID, DicomVR.LO, patientId));

    [Fact]
    public async Task An_index_from_before_a_column_was_added_gains_it_and_keeps_its_rows()
    {
        var path = Path.Combine(data.FullName, "index.db");
        using (var index = new SqliteArchiveIndex(path))
        {
            await index.InitializeAsync(CancellationToken.None);
            await index.AddInstanceAsync(Record("a/1.dcm"), durable: true, CancellationToken.None);
        }

        // The index as an earlier release left it: without the columns added since.
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var drop = connection.CreateCommand();
            drop.CommandText = """
                ALTER TABLE instances DROP COLUMN bits_allocated; ALTER TABLE studies DROP COLUMN timezone_offset;
                ALTER TABLE series DROP COLUMN pps_start_date; ALTER TABLE series DROP COLUMN pps_start_time;
                ALTER TABLE series DROP COLUMN request_attributes;
                """;
            drop.ExecuteNonQuery();
        }

        using var upgraded = new SqliteArchiveIndex(path);
        await upgraded.InitializeAsync(CancellationToken.None);
        await upgraded.AddInstanceAsync(Record("a/2.dcm") with
        {
            SopInstanceUid = "1.2.3.5.1", SeriesInstanceUid = "1.2.3.5", TimezoneOffsetFromUtc = "+0100",
            PerformedProcedureStepStartDate = "20250102", PerformedProcedureStepStartTime = "1030", BitsAllocated = 16,
            RequestAttributes = """{"00400275":{"vr":"SQ","Value":[{"00400009":{"vr":"SH","Value":["SPS1"]}}]}}""",
        }, durable: true, CancellationToken.None);

        var series = (await upgraded.QueryAsync(new() { Level = QueryLevel.Series }, CancellationToken.None)).Matches;
        Assert.Equal(2, series.Count);
        Assert.Equal([null, "20250102"], series.Select(s => s.GetString(DicomTag.PerformedProcedureStepStartDate) is { Length: > 0 } date ? date : null).Order());
        Assert.Equal([null, "1030"], series.Select(s => s.GetString(DicomTag.PerformedProcedureStepStartTime) is { Length: > 0 } time ? time : null).Order());
        Assert.Equal([0, 1], series.Select(s => Assert.IsType<DicomSequence>(s.Find(DicomTag.RequestAttributesSequence)).Items.Count).Order());
        Assert.Contains(series, s => ((DicomSequence)s.Find(DicomTag.RequestAttributesSequence)!).Items.FirstOrDefault()?.GetString(DicomTag.ScheduledProcedureStepID) == "SPS1");
        var instance = Assert.Single((await upgraded.QueryAsync(new() { Level = QueryLevel.Instance, Matches = [(DicomTag.SOPInstanceUID, "1.2.3.5.1")] }, CancellationToken.None)).Matches);
        Assert.Equal(16, instance.GetValues<ushort>(DicomTag.BitsAllocated)[0]);
        Assert.Equal("1.2.3.4.1", (await upgraded.FindInstanceAsync("1.2.3.4.1", CancellationToken.None))?.SopInstanceUid);
    }

    [Fact]
    public async Task A_sequence_match_matches_the_series_with_one_item_that_matches_every_key()
    {
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        await index.InitializeAsync(CancellationToken.None);
        // Series "1": two items; "2": one item whose Scheduled Procedure Step ID has two values; "3": no sequence.
        string?[][][] seriesItems = [[["SPS1", "RP1"], ["SPS2", "RP2"]], [["SPS3\\SPS1", "RPX"]], []];
        for (var i = 0; i < seriesItems.Length; i++)
        {
            var dataset = new DicomDataset();
            dataset.AddOrUpdate(DicomTag.PatientID, DicomVR.LO, "P");
            dataset.AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, "1.2.3");
            dataset.AddOrUpdate(DicomTag.SeriesInstanceUID, DicomVR.UI, $"1.2.3.{i + 1}");
            dataset.AddOrUpdate(DicomTag.SOPInstanceUID, DicomVR.UI, $"1.2.3.{i + 1}.1");
            dataset.AddOrUpdate(DicomTag.SOPClassUID, DicomVR.UI, SecondaryCapture.SopClassUid);
            if (seriesItems[i].Length > 0)
            {
                dataset.Add(new DicomSequence(DicomTag.RequestAttributesSequence, seriesItems[i].Select(ids =>
                {
                    var item = new DicomDataset();
                    item.AddOrUpdate(DicomTag.ScheduledProcedureStepID, DicomVR.SH, ids[0]!);
                    item.AddOrUpdate(DicomTag.RequestedProcedureID, DicomVR.SH, ids[1]!);
                    item.AddOrUpdate(DicomTag.ScheduledProcedureStepDescription, DicomVR.LO, "not returned, not matched");
                    return item;
                })));
            }

            await index.AddInstanceAsync(InstanceRecord.FromDataset(dataset, "1.2.840.10008.1.2.1", $"s/00000001/{i}/10", 10, "{}"u8.ToArray()), durable: false, CancellationToken.None);
        }

        async Task<string[]> SeriesMatching(params (DicomTag Tag, string Value)[] itemKeys)
        {
            var result = await index.QueryAsync(new() { Level = QueryLevel.Series, SequenceMatches = [(DicomTag.RequestAttributesSequence, itemKeys)] }, CancellationToken.None);
            return [.. result.Matches.Select(m => m.GetString(DicomTag.SeriesInstanceUID)!).Order()];
        }

        Assert.Equal(["1.2.3.1", "1.2.3.2"], await SeriesMatching((DicomTag.ScheduledProcedureStepID, "SPS1"))); // any value of an item
        Assert.Equal(["1.2.3.1"], await SeriesMatching((DicomTag.ScheduledProcedureStepID, "SPS2")));
        Assert.Equal(["1.2.3.1"], await SeriesMatching((DicomTag.ScheduledProcedureStepID, "SPS1"), (DicomTag.RequestedProcedureID, "RP1")));
        Assert.Empty(await SeriesMatching((DicomTag.ScheduledProcedureStepID, "SPS1"), (DicomTag.RequestedProcedureID, "RP2"))); // keys of two items
        Assert.Equal(["1.2.3.1", "1.2.3.2"], await SeriesMatching((DicomTag.RequestedProcedureID, "RP*")));
        Assert.Equal(["1.2.3.2"], await SeriesMatching((DicomTag.RequestedProcedureID, "RPX")));
        Assert.Empty(await SeriesMatching((DicomTag.RequestedProcedureID, "rpx"))); // SH matches case-sensitively
        Assert.Equal(["1.2.3.1", "1.2.3.2", "1.2.3.3"], await SeriesMatching((DicomTag.ScheduledProcedureStepID, ""))); // universal: returned only

        var returned = Assert.Single((await index.QueryAsync(new() { Level = QueryLevel.Instance, SequenceMatches = [(DicomTag.RequestAttributesSequence, [(DicomTag.RequestedProcedureID, "RPX")])] }, CancellationToken.None)).Matches);
        var item = Assert.Single(Assert.IsType<DicomSequence>(returned.Find(DicomTag.RequestAttributesSequence)).Items);
        Assert.Equal(["SPS3", "SPS1"], item.GetStrings(DicomTag.ScheduledProcedureStepID));

        var notMatched = await Assert.ThrowsAsync<QueryException>(() => SeriesMatching((DicomTag.ScheduledProcedureStepDescription, "x")));
        Assert.Contains("(0040,0007) inside (0040,0275) is not a matching key", notMatched.Message, StringComparison.Ordinal);
        // At study level: the studies with such a series (relational matching).
        Assert.Single((await index.QueryAsync(new() { Level = QueryLevel.Study, SequenceMatches = [(DicomTag.RequestAttributesSequence, [(DicomTag.RequestedProcedureID, "RPX")])] }, CancellationToken.None)).Matches);
        Assert.Empty((await index.QueryAsync(new() { Level = QueryLevel.Study, SequenceMatches = [(DicomTag.RequestAttributesSequence, [(DicomTag.RequestedProcedureID, "RPY")])] }, CancellationToken.None)).Matches);
        var notASequence = await Assert.ThrowsAsync<QueryException>(() => index.QueryAsync(new() { Level = QueryLevel.Series, SequenceMatches = [(DicomTag.ReferencedStudySequence, [(DicomTag.ReferencedSOPInstanceUID, "1.2")])] }, CancellationToken.None));
        Assert.Contains("is not a sequence this server matches in", notASequence.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Combined_date_time_matching_takes_a_date_range_and_its_time_as_one_range()
    {
        using var index = new SqliteArchiveIndex(Path.Combine(data.FullName, "index.db"));
        await index.InitializeAsync(CancellationToken.None);
        (string Date, string Time)[] studies = [("20240105", "0900"), ("20240105", "1900"), ("20240106", "0800"), ("20240107", "1200"), ("20240107", "2000")];
        for (var i = 0; i < studies.Length; i++)
        {
            await index.AddInstanceAsync(Record($"s/00000001/{i}/10") with
            {
                StudyInstanceUid = $"1.2.9.{i + 1}", SeriesInstanceUid = $"1.2.9.{i + 1}.1", SopInstanceUid = $"1.2.9.{i + 1}.1.1",
                StudyDate = studies[i].Date, StudyTime = studies[i].Time,
            }, durable: false, CancellationToken.None);
        }

        async Task<int[]> Studies(string date, string time, bool combined)
        {
            var result = await index.QueryAsync(new() { Level = QueryLevel.Study, Matches = [(DicomTag.StudyDate, date), (DicomTag.StudyTime, time)], CombinedDateTimeMatching = combined }, CancellationToken.None);
            return [.. result.Matches.Select(m => int.Parse(m.GetString(DicomTag.StudyInstanceUID)!.Split('.')[^1], System.Globalization.CultureInfo.InvariantCulture)).Order()];
        }

        // From 5 January at 08:00 to 7 January at 13:00, against each day between 08:00 and 13:00.
        Assert.Equal(new[] { 1, 2, 3, 4 }, await Studies("20240105-20240107", "0800-1300", combined: true));
        Assert.Equal(new[] { 1, 3, 4 }, await Studies("20240105-20240107", "0800-1300", combined: false));
        // Open ends, and a single time: from 6 January at 10:00; until 6 January at 08:00 (the whole minute).
        Assert.Equal(new[] { 4, 5 }, await Studies("20240106-", "1000", combined: true));
        Assert.Empty(await Studies("20240106-", "1000", combined: false));
        Assert.Equal(new[] { 1, 2, 3 }, await Studies("-20240106", "-0800", combined: true));
        // A single date is matched as without combined matching.
        Assert.Equal(new[] { 2 }, await Studies("20240105", "1800-", combined: true));
        var invalid = await Assert.ThrowsAsync<QueryException>(() => Studies("20240105-20240107", "25-", combined: true));
        Assert.Contains("(0008,0030)", invalid.Message, StringComparison.Ordinal);
    }

    private static InstanceRecord Record(string blobKey) => new()
    {
        PatientId = "P",
        StudyInstanceUid = "1.2.3",
        SeriesInstanceUid = "1.2.3.4",
        SopInstanceUid = "1.2.3.4.1",
        SopClassUid = SecondaryCapture.SopClassUid,
        TransferSyntaxUid = "1.2.840.10008.1.2.1",
        BlobKey = blobKey,
        Length = 10,
        Metadata = "{}"u8.ToArray(),
    };
}
