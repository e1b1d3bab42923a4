using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Hounsfield.Server.Tests;

public sealed class ArchiveDurabilityTests : IDisposable
{
    /// <summary>The data folder of this test's server (a new one per test).</summary>
    private readonly DirectoryInfo data = Directory.CreateTempSubdirectory("hounsfield-archive-");

    public void Dispose() => data.Delete(recursive: true);

    [CorpusFact]
    public async Task Killing_the_server_mid_ingest_loses_no_acknowledged_instance_and_leaves_no_orphan()
    {
        var acknowledged = Corpus.Get("evrle_ct_small");
        var interrupted = File.ReadAllBytes(Corpus.Get("mono1_cr_chest").Path);
        // Instances stream to a temporary file (none is held in memory), so the test can see the interrupted one arrive.
        await using (var server = await ServerProcess.StartAsync(data, "--Archive:MaxInMemoryInstanceLength", "0"))
        {
            using var content = DicomWebClient.Multipart([File.ReadAllBytes(acknowledged.Path)]);
            Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsync("/dicomweb/studies", content)).StatusCode);

            // A second STOW that sends half of its instance, then stalls: the server is killed while it waits.
            using var socket = new TcpClient();
            await socket.ConnectAsync(IPAddress.Loopback, server.Port);
            var stream = socket.GetStream();
            var head = $"--b\r\nContent-Type: application/dicom\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"POST /dicomweb/studies HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.AccessToken}\r\nContent-Type: multipart/related; type=\"application/dicom\"; boundary=b\r\n" +
                $"Content-Length: {head.Length + interrupted.Length + 8}\r\n\r\n{head}"));
            await stream.WriteAsync(interrupted.AsMemory(0, interrupted.Length / 2));
            await stream.FlushAsync();
            await WaitUntilAsync(() => Directory.EnumerateFiles(Path.Combine(data.FullName, "blobs", "tmp")).Any());
            await server.KillAsync();
        }

        await using (var restarted = await ServerProcess.StartAsync(data))
        {
            var instances = JsonDocument.Parse(await restarted.Client.GetStringAsync("/dicomweb/instances")).RootElement;
            Assert.Single(instances.EnumerateArray());
            var response = await restarted.Client.GetAsync(InstancePath(instances[0]));
            var part = Assert.Single(await DicomWebClient.ReadMultipartAsync(response));
            Assert.Equal(File.ReadAllBytes(acknowledged.Path), part);
            AssertStoredBlobs(data, 1);
        }
    }

    [CorpusFact]
    public async Task Instances_whose_index_commits_a_power_loss_undid_are_reindexed_from_their_blobs_at_start()
    {
        // Index commits of instances kept in segments reach the disk with a later flush. A power loss just after such an
        // acknowledgement leaves the index as it was some commits before: here, the index of the first server run
        // restored after the second run stored two more instances.
        var before = new[] { "evrle_ct_small", "mono1_cr_chest" }.Select(n => File.ReadAllBytes(Corpus.Get(n).Path)).ToList();
        var lost = new[] { "ivrle_mr_small", "us_rgb_planar0" }.Select(n => File.ReadAllBytes(Corpus.Get(n).Path)).ToList();
        await using (var server = await ServerProcess.StartAsync(data))
        {
            await StoreEachAsync(server, before);
            // A read writes the rows still pending (written a moment after the acknowledgement otherwise), before the kill.
            Assert.Equal(2, JsonDocument.Parse(await server.Client.GetStringAsync("/dicomweb/instances")).RootElement.GetArrayLength());
        }

        var snapshot = SnapshotIndex();
        Dictionary<string, string> metadataBefore;
        await using (var server = await ServerProcess.StartAsync(data))
        {
            await StoreEachAsync(server, lost);
            metadataBefore = await MetadataByInstanceAsync(server);
        }

        RestoreIndex(snapshot);
        await using var restarted = await ServerProcess.StartAsync(data);
        var instances = JsonDocument.Parse(await restarted.Client.GetStringAsync("/dicomweb/instances")).RootElement.EnumerateArray().ToList();
        Assert.Equal(4, instances.Count);
        Assert.Equal(before.Concat(lost).Select(Convert.ToHexString).Order(), (await RetrieveAllAsStoredAsync(restarted)).Select(Convert.ToHexString).Order());
        Assert.Equal(metadataBefore, await MetadataByInstanceAsync(restarted));
        foreach (var study in JsonDocument.Parse(await restarted.Client.GetStringAsync("/dicomweb/studies")).RootElement.EnumerateArray())
        {
            var expected = instances.Count(i => StudyOf(i) == Text(study, "0020000D"));
            Assert.Equal(expected.ToString(System.Globalization.CultureInfo.InvariantCulture), Text(study, "00201208"));
        }

        Assert.Contains(restarted.Output, line => line.Contains("Re-indexed 2 stored instances", StringComparison.Ordinal));
        AssertStoredBlobs(data, 4);
    }

    [CorpusFact]
    public async Task A_lost_index_is_rebuilt_from_the_stored_blobs_files_and_records_alike()
    {
        // The CR (388 KB) goes over the in-memory limit and becomes a file of its own; the others are segment records.
        string[] options = ["--Archive:MaxInMemoryInstanceLength", "100000"];
        var files = new[] { "evrle_ct_small", "mono1_cr_chest", "ivrle_mr_small" }.Select(n => File.ReadAllBytes(Corpus.Get(n).Path)).ToList();
        Dictionary<string, string> metadataBefore;
        await using (var server = await ServerProcess.StartAsync(data, options))
        {
            await StoreEachAsync(server, files);
            metadataBefore = await MetadataByInstanceAsync(server);
        }

        RestoreIndex([]);
        await using var restarted = await ServerProcess.StartAsync(data, options);
        Assert.Equal(files.Select(Convert.ToHexString).Order(), (await RetrieveAllAsStoredAsync(restarted)).Select(Convert.ToHexString).Order());
        Assert.Equal(metadataBefore, await MetadataByInstanceAsync(restarted));
        Assert.Contains(restarted.Output, line => line.Contains("Re-indexed 3 stored instances", StringComparison.Ordinal));
        // One top folder of files, then one segment.
        Assert.Contains(restarted.Output, line => line.Contains("Reading stored blobs the index lacks: 0 read, 0 of 2 parts", StringComparison.Ordinal));
        Assert.Contains(restarted.Output, line => line.Contains("Reading stored blobs the index lacks: 3 read, 2 of 2 parts", StringComparison.Ordinal));
        AssertStoredBlobs(data, 3);
    }

    [CorpusFact]
    public async Task An_instance_deleted_while_being_read_stays_deleted_when_the_server_dies_before_the_read_ends()
    {
        // A record being read is freed only when its reader closes; the server is killed first, so the bytes stay in the
        // segment with no row. Start-up must remove them, not recover them (the row's key was noted as freed).
        var kept = File.ReadAllBytes(Corpus.Get("evrle_ct_small").Path);
        var deleted = LargeSecondaryCapture(40_000_000);
        string[] options = ["--Archive:MaxInMemoryInstanceLength", "64000000"]; // still a segment record
        await using (var server = await ServerProcess.StartAsync(data, options))
        {
            await StoreEachAsync(server, [kept, deleted]);
            var instance = JsonDocument.Parse(await server.Client.GetStringAsync("/dicomweb/instances")).RootElement.EnumerateArray()
                .Single(i => Text(i, "00080018") == LargeSecondaryCaptureUid);
            using var request = new HttpRequestMessage(HttpMethod.Get, InstancePath(instance));
            request.Headers.TryAddWithoutValidation("Accept", "multipart/related; type=\"application/dicom\"; transfer-syntax=*");
            using var reading = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await using var body = await reading.Content.ReadAsStreamAsync();
            await body.ReadExactlyAsync(new byte[1000]); // then stops reading: the server waits with the record open

            Assert.Equal(HttpStatusCode.NoContent, (await server.Client.DeleteAsync(InstancePath(instance))).StatusCode);
            await server.KillAsync();
        }

        await using var restarted = await ServerProcess.StartAsync(data, options);
        var remaining = Assert.Single(JsonDocument.Parse(await restarted.Client.GetStringAsync("/dicomweb/instances")).RootElement.EnumerateArray().ToList());
        using var retrieved = await restarted.Client.GetAsync(InstancePath(remaining));
        Assert.Equal(kept, Assert.Single(await DicomWebClient.ReadMultipartAsync(retrieved)));
        AssertStoredBlobs(data, 1);
    }

    private const string LargeSecondaryCaptureUid = "1.2.826.0.1.3680043.10.11.1";

    /// <summary>A secondary capture of about <paramref name="length"/> bytes, so large that a retrieve not read holds the server.</summary>
    private static byte[] LargeSecondaryCapture(int length) =>
        SecondaryCapture.Bytes("1.2.826.0.1.3680043.10.11", "1.2.826.0.1.3680043.10.11.2", LargeSecondaryCaptureUid, dataset =>
            dataset.Add(new Hounsfield.Dicom.DicomValueElement(Hounsfield.Dicom.DicomTag.PixelData, Hounsfield.Dicom.DicomVR.OB, RandomNumberGenerator.GetBytes(length))));

    [CorpusFact]
    public async Task A_batch_whose_commits_overlap_stores_each_instance_once_and_reports_a_repeated_one_as_duplicate()
    {
        await using var server = await ServerProcess.StartAsync(data);
        var names = new[] { "evrle_ct_small", "mono1_cr_chest", "evrle_ct_small", "ivrle_mr_small" };
        using var content = DicomWebClient.Multipart(names.Select(n => File.ReadAllBytes(Corpus.Get(n).Path)));

        var response = await server.Client.PostAsync("/dicomweb/studies", content);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var storedUids = body.GetProperty("00081199").GetProperty("Value").EnumerateArray().Select(i => i.GetProperty("00081155").GetProperty("Value")[0].GetString()).ToList();
        var expected = names.Distinct().Select(n => Hounsfield.Dicom.DicomFile.Open(Corpus.Get(n).Path).Dataset.GetString(Hounsfield.Dicom.DicomTag.SOPInstanceUID)).ToList();
        Assert.Equal(expected, storedUids);
        var failure = Assert.Single(body.GetProperty("00081198").GetProperty("Value").EnumerateArray());
        Assert.Equal(expected[0], failure.GetProperty("00081155").GetProperty("Value")[0].GetString());
        Assert.Equal(0x0111, failure.GetProperty("00081197").GetProperty("Value")[0].GetInt32());
        AssertStoredBlobs(data, 3);
    }

    [CorpusFact]
    public async Task Bulk_data_is_served_whole_or_by_range_and_metadata_is_compressed_on_request()
    {
        await using var server = await ServerProcess.StartAsync(data);
        var file = Corpus.Get("evrle_ct_small");
        using var content = DicomWebClient.Multipart([File.ReadAllBytes(file.Path)]);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsync("/dicomweb/studies", content)).StatusCode);
        var oracle = JsonDocument.Parse(File.ReadAllBytes(file.OraclePath("dcm2json.json"))).RootElement;
        var elided = oracle.GetProperty("7FE00010").GetProperty("BulkDataURI").GetString()!; // urn:oracle:elided?bytes=N&sha256=HEX
        var expectedHash = elided[(elided.IndexOf("sha256=", StringComparison.Ordinal) + 7)..];

        using var metadataRequest = new HttpRequestMessage(HttpMethod.Get, $"/dicomweb/studies/{Text(oracle, "0020000D")}/metadata");
        metadataRequest.Headers.AcceptEncoding.ParseAdd("gzip");
        var metadataResponse = await server.Client.SendAsync(metadataRequest);
        Assert.Equal("gzip", Assert.Single(metadataResponse.Content.Headers.ContentEncoding));
        await using var unzipped = new System.IO.Compression.GZipStream(await metadataResponse.Content.ReadAsStreamAsync(), System.IO.Compression.CompressionMode.Decompress);
        var metadata = (await JsonDocument.ParseAsync(unzipped)).RootElement[0];
        var uri = new Uri(metadata.GetProperty("7FE00010").GetProperty("BulkDataURI").GetString()!);

        var whole = await server.Client.GetByteArrayAsync(uri);
        Assert.Equal(expectedHash, Convert.ToHexStringLower(SHA256.HashData(whole)));

        using var rangeRequest = new HttpRequestMessage(HttpMethod.Get, uri);
        rangeRequest.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(100, 199);
        var range = await server.Client.SendAsync(rangeRequest);
        Assert.Equal(HttpStatusCode.PartialContent, range.StatusCode);
        Assert.Equal(whole.AsSpan(100, 100).ToArray(), await range.Content.ReadAsByteArrayAsync());

        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync(uri.AbsolutePath.Replace("7FE00010", "7FE00011", StringComparison.Ordinal))).StatusCode);
    }

    [CorpusFact]
    public async Task Concurrent_stores_share_index_commits_and_every_study_counts_exactly_its_instances()
    {
        await using var server = await ServerProcess.StartAsync(data);
        var files = Corpus.Files.Where(f => !f.IsMalformed)
            .Select(f => (f.Path, Dataset: Hounsfield.Dicom.DicomFile.Open(f.Path).Dataset))
            .Select(f => (f.Path, Study: f.Dataset.GetString(Hounsfield.Dicom.DicomTag.StudyInstanceUID), Instance: f.Dataset.GetString(Hounsfield.Dicom.DicomTag.SOPInstanceUID)))
            .DistinctBy(f => f.Instance)
            .ToList();

        // Eight requests in flight at a time, one instance each: their index commits overlap and are batched. A few
        // corpus files are refused on purpose (no usable UIDs: 409), which must not disturb the others' commits.
        var stored = new System.Collections.Concurrent.ConcurrentBag<string>();
        await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (file, cancellationToken) =>
        {
            using var content = DicomWebClient.Multipart([await File.ReadAllBytesAsync(file.Path, cancellationToken)]);
            using var response = await server.Client.PostAsync("/dicomweb/studies", content, cancellationToken);
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Conflict, $"{file.Path}: {response.StatusCode}");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                stored.Add(file.Instance!);
            }
        });
        Assert.True(stored.Count > 20, $"only {stored.Count} corpus instances were stored");
        files = [.. files.Where(f => stored.Contains(f.Instance!))];

        var studies = JsonDocument.Parse(await server.Client.GetStringAsync("/dicomweb/studies?limit=1000")).RootElement.EnumerateArray().ToList();
        var expected = files.GroupBy(f => f.Study).ToDictionary(g => g.Key!, g => g.Count());
        Assert.Equal(expected.Count, studies.Count);
        foreach (var study in studies)
        {
            Assert.Equal(expected[Text(study, "0020000D")!].ToString(System.Globalization.CultureInfo.InvariantCulture), Text(study, "00201208"));
        }

        var instances = JsonDocument.Parse(await server.Client.GetStringAsync("/dicomweb/instances?limit=1000")).RootElement.GetArrayLength();
        Assert.Equal(files.Count, instances);
    }

    [CorpusTheory]
    [InlineData("Overwrite", false)]
    [InlineData("Overwrite", true)]
    [InlineData("KeepFirst", false)]
    [InlineData("KeepFirst", true)]
    public async Task A_resent_instance_replaces_or_keeps_the_stored_copy_whole_as_the_duplicate_policy_says(string policy, bool intoAnotherSeries)
    {
        await using var server = await ServerProcess.StartAsync(data, "--Archive:DuplicatePolicy", policy);
        var first = File.ReadAllBytes(Corpus.Get("evrle_ct_small").Path);
        var resent = Hounsfield.Dicom.DicomFile.Read(first);
        resent.Dataset.AddOrUpdate(Hounsfield.Dicom.DicomTag.PatientName, Hounsfield.Dicom.DicomVR.PN, "Resent^Copy");
        var firstSeries = resent.Dataset.GetString(Hounsfield.Dicom.DicomTag.SeriesInstanceUID);
        if (intoAnotherSeries)
        {
            resent.Dataset.AddOrUpdate(Hounsfield.Dicom.DicomTag.SeriesInstanceUID, Hounsfield.Dicom.DicomVR.UI, firstSeries + ".9");
        }

        var second = resent.ToBytes();
        Assert.NotEqual(first, second);

        foreach (var bytes in new[] { first, second })
        {
            using var content = DicomWebClient.Multipart([bytes]);
            using var response = await server.Client.PostAsync("/dicomweb/studies", content);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var instance = Assert.Single(JsonDocument.Parse(await server.Client.GetStringAsync("/dicomweb/instances")).RootElement.EnumerateArray().ToList());
        Assert.Equal(policy == "Overwrite" && intoAnotherSeries ? firstSeries + ".9" : firstSeries, SeriesOf(instance));
        using var retrieved = await server.Client.GetAsync(InstancePath(instance));
        var stored = Assert.Single(await DicomWebClient.ReadMultipartAsync(retrieved));
        Assert.Equal(policy == "Overwrite" ? second : first, stored);
        var metadata = JsonDocument.Parse(await server.Client.GetStringAsync($"{InstancePath(instance)}/metadata")).RootElement[0];
        var expectedName = Hounsfield.Dicom.DicomFile.Read(policy == "Overwrite" ? second : first).Dataset.GetString(Hounsfield.Dicom.DicomTag.PatientName);
        Assert.Equal(expectedName, metadata.GetProperty("00100010").GetProperty("Value")[0].GetProperty("Alphabetic").GetString());
        AssertStoredBlobs(data, 1);
    }

    [CorpusFact]
    public async Task Copies_of_one_instance_sent_at_once_store_one_and_refuse_the_others_as_duplicates()
    {
        await using var server = await ServerProcess.StartAsync(data);
        var bytes = File.ReadAllBytes(Corpus.Get("evrle_ct_small").Path);
        using var start = new SemaphoreSlim(0);
        var sends = Enumerable.Range(0, 8).Select(async _ =>
        {
            await start.WaitAsync();
            using var content = DicomWebClient.Multipart([bytes]);
            using var response = await server.Client.PostAsync("/dicomweb/studies", content);
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }).ToList();
        start.Release(sends.Count);
        var responses = await Task.WhenAll(sends);

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.OK);
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.OK), r =>
        {
            Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
            // FailedSOPSequence > FailureReason 0x0111 (273): duplicate SOP instance.
            var failure = JsonDocument.Parse(r.Body).RootElement.GetProperty("00081198").GetProperty("Value")[0];
            Assert.Equal(273, failure.GetProperty("00081197").GetProperty("Value")[0].GetInt32());
        });
        Assert.Single(JsonDocument.Parse(await server.Client.GetStringAsync("/dicomweb/instances")).RootElement.EnumerateArray());
        AssertStoredBlobs(data, 1);
    }

    [CorpusFact]
    public async Task An_instance_over_the_length_limit_is_413_while_still_in_memory_and_leaves_nothing()
    {
        // The limit is far below the in-memory receive limit, so the refusal happens while the part is buffered.
        await using var server = await ServerProcess.StartAsync(data, "--Archive:MaxInstanceLength", "4096");
        var instance = File.ReadAllBytes(Corpus.Get("mono1_cr_chest").Path);
        Assert.True(instance.Length > 4096);
        using var content = DicomWebClient.Multipart([instance]);

        using var response = await server.Client.PostAsync("/dicomweb/studies", content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("4096", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("[]", (await server.Client.GetStringAsync("/dicomweb/instances")).Trim());
        var blobs = Path.Combine(data.FullName, "blobs");
        var spare = Assert.Single(Directory.EnumerateFiles(blobs, "*", SearchOption.AllDirectories)); // made at start-up
        Assert.Equal("next.spare", Path.GetFileName(spare));
        Assert.DoesNotContain(File.ReadAllBytes(spare), b => b != 0);
    }

    private static async Task StoreEachAsync(ServerProcess server, IEnumerable<byte[]> instances)
    {
        foreach (var bytes in instances)
        {
            using var content = DicomWebClient.Multipart([bytes]);
            using var response = await server.Client.PostAsync("/dicomweb/studies", content);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    /// <summary>Every stored instance as stored (the default would convert an implicit VR one).</summary>
    private static async Task<List<byte[]>> RetrieveAllAsStoredAsync(ServerProcess server)
    {
        var stored = new List<byte[]>();
        foreach (var instance in JsonDocument.Parse(await server.Client.GetStringAsync("/dicomweb/instances")).RootElement.EnumerateArray())
        {
            stored.Add(Assert.Single(await DicomWebClient.RetrieveAsStoredAsync(server.Client, InstancePath(instance))));
        }

        return stored;
    }

    /// <summary>Each stored instance's WADO-RS metadata, by SOP Instance UID, its BulkDataURIs without the server's address.</summary>
    private static async Task<Dictionary<string, string>> MetadataByInstanceAsync(ServerProcess server)
    {
        var metadata = new Dictionary<string, string>();
        var address = server.Client.BaseAddress!.GetLeftPart(UriPartial.Authority);
        foreach (var instance in JsonDocument.Parse(await server.Client.GetStringAsync("/dicomweb/instances")).RootElement.EnumerateArray())
        {
            var json = await server.Client.GetStringAsync($"{InstancePath(instance)}/metadata");
            Assert.Contains(address, json, StringComparison.Ordinal);
            metadata[Text(instance, "00080018")!] = json.Replace(address, "", StringComparison.Ordinal);
        }

        return metadata;
    }

    /// <summary>The index files of a stopped server (the database and its write-ahead log, when there is one).</summary>
    private Dictionary<string, byte[]> SnapshotIndex() =>
        new[] { "index.db", "index.db-wal" }.Select(name => Path.Combine(data.FullName, name)).Where(File.Exists).ToDictionary(path => path, File.ReadAllBytes);

    private void RestoreIndex(Dictionary<string, byte[]> snapshot)
    {
        foreach (var name in new[] { "index.db", "index.db-wal", "index.db-shm" })
        {
            File.Delete(Path.Combine(data.FullName, name));
        }

        foreach (var (path, bytes) in snapshot)
        {
            File.WriteAllBytes(path, bytes);
        }
    }

    private static string? Text(JsonElement dataset, string tag) => CorpusServerFixture.Text(dataset, tag);

    /// <summary>Exactly <paramref name="count"/> blobs stored, and no temporary one left behind.</summary>
    private static void AssertStoredBlobs(DirectoryInfo data, int count)
    {
        var blobs = Path.Combine(data.FullName, "blobs");
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(blobs, "tmp")));
        using var store = new Hounsfield.Archive.Blobs.FolderBlobStore(blobs);
        Assert.Equal(count, store.EnumerateKeys().Count());
    }

    /// <summary>The WADO-RS path of the instance a QIDO-RS result names.</summary>
    private static string InstancePath(JsonElement result) =>
        $"/dicomweb/studies/{StudyOf(result)}/series/{SeriesOf(result)}/instances/{Text(result, "00080018")}";

    private static string? StudyOf(JsonElement result) => Text(result, "0020000D");

    private static string? SeriesOf(JsonElement result) => Text(result, "0020000E");

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the ingest to start");
            await Task.Delay(20);
        }
    }
}
