using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Hounsfield.Dicom;
using Hounsfield.Server.Accounts;
using Hounsfield.Server.Nodes;
using static Hounsfield.Server.Tests.AccountsTestClient;
using Hounsfield.Testing;

namespace Hounsfield.Server.Tests;

/// <summary>The DICOM nodes API over a real server, against DCMTK's storescp and dcmqrscp as the peers.</summary>
public sealed class DicomNodesTests
{
    [Fact]
    public async Task Admins_manage_nodes_with_validation_and_others_are_refused()
    {
        await using var server = await ServerProcess.StartAsync(new ServerStart { Arguments = ["--Auth:PasswordIterations", "10000"] });
        try
        {
            using var created = await server.Client.PostAsJsonAsync("/api/dicom_nodes",
                new { name = "Viewer", peer_aet_title = "VIEWER", peer_host = "viewer.example", peer_port = 104 });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var node = await JsonAsync(created);
            var id = node.GetProperty("id").GetInt64();
            Assert.Equal("HOUNSFIELD", node.GetProperty("aet_title").GetString()); // the server's AE title by default
            Assert.Equal(("Viewer", "VIEWER", "viewer.example", 104),
                (node.GetProperty("name").GetString(), node.GetProperty("peer_aet_title").GetString(), node.GetProperty("peer_host").GetString(), node.GetProperty("peer_port").GetInt32()));

            var list = await JsonAsync(await server.Client.GetAsync("/api/dicom_nodes"));
            Assert.Equal(id, Assert.Single(list.EnumerateArray()).GetProperty("id").GetInt64());

            using var updated = await server.Client.PutAsJsonAsync($"/api/dicom_nodes/{id}",
                new { name = "Viewer 2", aet_title = "HF_VIEWER", peer_aet_title = "VIEWER2", peer_host = "10.0.0.7", peer_port = "11112" });
            Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
            var fetched = await JsonAsync(await server.Client.GetAsync($"/api/dicom_nodes/{id}"));
            Assert.Equal(("Viewer 2", "HF_VIEWER", "VIEWER2", "10.0.0.7", 11112),
                (fetched.GetProperty("name").GetString(), fetched.GetProperty("aet_title").GetString(), fetched.GetProperty("peer_aet_title").GetString(),
                 fetched.GetProperty("peer_host").GetString(), fetched.GetProperty("peer_port").GetInt32()));

            // Validation: per-field errors.
            using var invalid = await server.Client.PostAsync("/api/dicom_nodes", Json("""
                {"name": "x", "aet_title": "WAY_TOO_LONG_AE_TITLE", "peer_aet_title": "BACK\\SLASH", "peer_host": "two words", "peer_port": 70000}
                """));
            Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
            var errors = await JsonAsync(invalid);
            Assert.Equal(["aet_title", "peer_aet_title", "peer_host", "peer_port"], errors.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
            Assert.Contains("65535", errors.GetProperty("peer_port")[0].GetString(), StringComparison.Ordinal);
            using var blank = await server.Client.PostAsync("/api/dicom_nodes", Json("""{"name": "x", "peer_aet_title": "    ", "peer_host": "h", "peer_port": 0}"""));
            var blankErrors = await JsonAsync(blank);
            Assert.Equal(HttpStatusCode.BadRequest, blank.StatusCode);
            Assert.True(blankErrors.TryGetProperty("peer_aet_title", out _) && blankErrors.TryGetProperty("peer_port", out _), blankErrors.ToString());
            using var missing = await server.Client.PostAsync("/api/dicom_nodes", Json("{}"));
            Assert.Equal(["name", "peer_aet_title", "peer_host", "peer_port"], (await JsonAsync(missing)).EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
            using var duplicate = await server.Client.PostAsJsonAsync("/api/dicom_nodes", new { name = "Again", peer_aet_title = "VIEWER2", peer_host = "h", peer_port = 104 });
            Assert.Equal(HttpStatusCode.BadRequest, duplicate.StatusCode);
            Assert.True((await JsonAsync(duplicate)).TryGetProperty("peer_aet_title", out _));

            // Unknown ids.
            foreach (var path in new[] { "/api/dicom_nodes/999", "/api/dicom_nodes/abc" })
            {
                using var unknown = await server.Client.GetAsync(path);
                Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
                Assert.Contains("No DICOM node", await DetailAsync(unknown), StringComparison.Ordinal);
            }

            Assert.Equal(HttpStatusCode.NotFound, (await server.Client.DeleteAsync("/api/dicom_nodes/999")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await server.Client.PostAsync("/api/dicom_nodes/999/echo", null)).StatusCode);
            using var unknownJob = await server.Client.GetAsync("/api/dicom_nodes/jobs/nosuchjob");
            Assert.Equal(HttpStatusCode.NotFound, unknownJob.StatusCode);
            Assert.False(string.IsNullOrEmpty(await DetailAsync(unknownJob)));

            // Who may do what: anonymous 401, readonly reads but cannot create (403) nor store.
            Assert.Equal(HttpStatusCode.Unauthorized, (await server.Anonymous.GetAsync("/api/dicom_nodes")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await server.Anonymous.PostAsJsonAsync("/api/dicom_nodes", new { name = "x" })).StatusCode);
            using var readOnly = server.ClientWith("Bearer", await AccountAsync(server, "readonly@example.com", Roles.ReadOnly, developer: false));
            Assert.Equal(HttpStatusCode.OK, (await readOnly.GetAsync("/api/dicom_nodes")).StatusCode);
            using var refused = await readOnly.PostAsJsonAsync("/api/dicom_nodes", new { name = "Mine", peer_aet_title = "MINE", peer_host = "h", peer_port = 104 });
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.False(string.IsNullOrEmpty(await DetailAsync(refused)));
            Assert.Equal(HttpStatusCode.Forbidden, (await readOnly.PostAsync($"/api/dicom_nodes/{id}/store", Json("""{"studies": ["1.2.3"]}"""))).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await readOnly.DeleteAsync($"/api/dicom_nodes/{id}")).StatusCode);

            // A store of UIDs the archive does not hold is refused before any job starts.
            using var notStored = await server.Client.PostAsync($"/api/dicom_nodes/{id}/store", Json("""{"studies": ["1.2.3"], "instances": ["not a uid"]}"""));
            Assert.Equal(HttpStatusCode.BadRequest, notStored.StatusCode);
            Assert.True((await JsonAsync(notStored)).TryGetProperty("instances", out _));

            // A job whose process (on another machine) stopped marking it alive reads as failed, with the reason.
            var store = new SqliteDicomNodeStore(server.DatabasePath);
            var orphan = await store.CreateJobAsync(id, "store", 3, DicomNodeJobRunner.RunnerOf("elsewhere", 1, 0), 1, DateTimeOffset.UtcNow.AddHours(-1), CancellationToken.None);
            var orphanState = await JsonAsync(await server.Client.GetAsync($"/api/dicom_nodes/jobs/{orphan.Id}"));
            Assert.Equal("failed", orphanState.GetProperty("state").GetString());
            Assert.Equal(DicomNodeJobRunner.InterruptedMessage, orphanState.GetProperty("error").GetString());
            Assert.Equal(3, orphanState.GetProperty("remaining").GetInt32());

            // At a restart, the jobs of processes of this machine that have ended are failed at once; a live process's are not.
            var ended = await store.CreateJobAsync(id, "move", 0, DicomNodeJobRunner.RunnerOf(Environment.MachineName, Environment.ProcessId, 0), 1, DateTimeOffset.UtcNow, CancellationToken.None);
            var live = await store.CreateJobAsync(id, "get", 0, DicomNodeJobRunner.CurrentRunner, 1, DateTimeOffset.UtcNow, CancellationToken.None);
            await server.KillAsync();
            await using var restarted = await ServerProcess.StartAsync(new ServerStart { Data = server.Data });
            Assert.Equal(("failed", DicomNodeJobRunner.InterruptedMessage), await StateAsync(restarted, ended.Id));
            Assert.Equal(("pending", (string?)null), await StateAsync(restarted, live.Id));

            Assert.Equal(HttpStatusCode.NoContent, (await restarted.Client.DeleteAsync($"/api/dicom_nodes/{id}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await restarted.Client.GetAsync($"/api/dicom_nodes/{id}")).StatusCode);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            await server.DeleteDataAsync();
        }

        static async Task<(string?, string?)> StateAsync(ServerProcess server, string jobId)
        {
            var job = await JsonAsync(await server.Client.GetAsync($"/api/dicom_nodes/jobs/{jobId}"));
            return (job.GetProperty("state").GetString(), job.GetProperty("error").GetString());
        }
    }

    [CorpusFact]
    public async Task Echo_succeeds_against_storescp_and_a_closed_port_fails_fast_with_502()
    {
        var storescpPort = FreePorts.Next();
        var received = Directory.CreateTempSubdirectory("hounsfield-nodes-echo-");
        using var storescp = await DimseTests.StartPeerAsync(storescpPort, "storescp", "-aet", "STORESCP", "-od", received.FullName, Text(storescpPort));
        await using var server = await ServerProcess.StartAsync();
        try
        {
            var id = await CreateNodeAsync(server, "STORESCP", storescpPort);
            using var echo = await server.Client.PostAsync($"/api/dicom_nodes/{id}/echo", null);
            var body = await JsonAsync(echo);
            Assert.True(echo.StatusCode == HttpStatusCode.OK, body.ToString());
            Assert.True(body.GetProperty("success").GetBoolean());
            Assert.Equal("0x0000", body.GetProperty("status").GetString());
            Assert.True(body.GetProperty("elapsed_ms").GetInt64() >= 0);

            var closed = await CreateNodeAsync(server, "NOBODY", FreePorts.Next());
            var watch = Stopwatch.StartNew();
            using var failed = await server.Client.PostAsync($"/api/dicom_nodes/{closed}/echo", null);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
            Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
            var failure = await JsonAsync(failed);
            Assert.False(failure.GetProperty("success").GetBoolean());
            Assert.Contains("Cannot connect", failure.GetProperty("detail").GetString(), StringComparison.Ordinal);
            using var find = await server.Client.PostAsync($"/api/dicom_nodes/{closed}/find", Json("""{"level": "STUDY", "query": {"PatientID": "x"}}"""));
            Assert.Equal(HttpStatusCode.BadGateway, find.StatusCode);
            Assert.Contains("NOBODY", await DetailAsync(find), StringComparison.Ordinal);
        }
        finally
        {
            storescp.Kill(entireProcessTree: true);
            received.Delete(recursive: true);
            await server.DeleteDataAsync();
        }
    }

    [CorpusFact]
    public async Task Store_sends_a_study_of_the_archive_to_storescp_as_a_job_and_api_nodes_are_move_destinations_of_our_scp()
    {
        var storescpPort = FreePorts.Next();
        var dicomPort = FreePorts.Next();
        var received = Directory.CreateTempSubdirectory("hounsfield-nodes-store-");
        using var storescp = await DimseTests.StartPeerAsync(storescpPort, "storescp", "-aet", "STORESCP", "-od", received.FullName, Text(storescpPort));
        await using var server = await ServerProcess.StartAsync(null, "--dicom-port", Text(dicomPort),
            "--Dimse:Nodes:0:AETitle", "CONFIGURED", "--Dimse:Nodes:0:Host", "192.0.2.1", "--Dimse:Nodes:0:Port", "4242");
        try
        {
            // A node of the configuration is listed (and usable) like one created through the API.
            var configured = Assert.Single((await JsonAsync(await server.Client.GetAsync("/api/dicom_nodes"))).EnumerateArray());
            Assert.Equal(("CONFIGURED", "192.0.2.1", 4242, "HOUNSFIELD"),
                (configured.GetProperty("peer_aet_title").GetString(), configured.GetProperty("peer_host").GetString(), configured.GetProperty("peer_port").GetInt32(),
                 configured.GetProperty("aet_title").GetString()));

            var original = DicomFile.Open(Corpus.Get("evrle_ct_small").Path).Dataset;
            using (var stow = DicomWebClient.Multipart([File.ReadAllBytes(Corpus.Get("evrle_ct_small").Path), File.ReadAllBytes(Corpus.Get("ivrle_mr_small").Path)]))
            {
                Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsync("/dicomweb/studies", stow)).StatusCode);
            }

            var id = await CreateNodeAsync(server, "STORESCP", storescpPort);
            using var accepted = await server.Client.PostAsync($"/api/dicom_nodes/{id}/store",
                Json($$"""{"studies": ["{{original.GetString(DicomTag.StudyInstanceUID)}}"]}"""));
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            var job = await WaitForJobAsync(server, (await JsonAsync(accepted)).GetProperty("job_id").GetString()!);
            Assert.True(job.GetProperty("state").GetString() == "succeeded", job.ToString());
            Assert.Equal((1, 0, 0), (job.GetProperty("completed").GetInt32(), job.GetProperty("failed").GetInt32(), job.GetProperty("remaining").GetInt32()));

            var stored = DicomFile.Open(Assert.Single(Directory.GetFiles(received.FullName))).Dataset;
            Assert.Equal(original.GetString(DicomTag.SOPInstanceUID), stored.GetString(DicomTag.SOPInstanceUID));
            Assert.Equal(original.GetValues<short>(DicomTag.PixelData), stored.GetValues<short>(DicomTag.PixelData));
            DatasetAssert.Equal(original, stored, DatasetComparison.AsReencoded);

            // The node exists only in the database, yet DCMTK may call us as it and C-MOVE to it through our SCP.
            var mr = DicomFile.Open(Corpus.Get("ivrle_mr_small").Path).Dataset;
            var move = DimseTests.Run("movescu", "-S", "-aet", "STORESCP", "-aec", "HOUNSFIELD", "-aem", "STORESCP",
                "-k", "QueryRetrieveLevel=STUDY", "-k", $"StudyInstanceUID={mr.GetString(DicomTag.StudyInstanceUID)}", "127.0.0.1", Text(dicomPort));
            Assert.True(move.ExitCode == 0, move.Output);
            var sops = Directory.GetFiles(received.FullName).Select(f => DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID)).ToHashSet();
            Assert.True(sops.SetEquals([original.GetString(DicomTag.SOPInstanceUID), mr.GetString(DicomTag.SOPInstanceUID)]), string.Join(", ", sops));
        }
        finally
        {
            storescp.Kill(entireProcessTree: true);
            received.Delete(recursive: true);
            await server.DeleteDataAsync();
        }
    }

    [CorpusFact]
    public async Task Find_move_and_get_against_dcmqrscp_bring_studies_into_the_archive()
    {
        var dicomPort = FreePorts.Next();
        var qrPort = FreePorts.Next();
        var folder = Directory.CreateTempSubdirectory("hounsfield-nodes-qr-");
        // dcmqrscp delivers C-MOVEs only to the AE titles of its host table: ours, at our DICOM port.
        var config = await DcmqrscpConfiguration.WriteAsync(folder.FullName, qrPort, "QRSCP", ("hounsfield", "HOUNSFIELD", dicomPort));
        using var qrscp = await DimseTests.StartPeerAsync(qrPort, "dcmqrscp", "-c", config, Text(qrPort));
        await using var server = await ServerProcess.StartAsync(null, "--dicom-port", Text(dicomPort));
        try
        {
            string[] names = ["evrle_ct_small", "ivrle_mr_small", "overlay_mr"];
            var load = DimseTests.Run(["storescu", "-aec", "QRSCP", "127.0.0.1", Text(qrPort), .. names.Select(n => Corpus.Get(n).Path)]);
            Assert.True(load.ExitCode == 0, load.Output);
            var id = await CreateNodeAsync(server, "QRSCP", qrPort);

            var mr = DicomFile.Open(Corpus.Get("ivrle_mr_small").Path).Dataset;
            using var find = await server.Client.PostAsync($"/api/dicom_nodes/{id}/find",
                Json($$$"""{"level": "STUDY", "query": {"PatientID": "{{{mr.GetString(DicomTag.PatientID)}}}", "StudyInstanceUID": null, "PatientName": ""}}"""));
            Assert.True(find.StatusCode == HttpStatusCode.OK, await find.Content.ReadAsStringAsync());
            Assert.Equal("application/dicom+json", find.Content.Headers.ContentType?.MediaType);
            var match = Assert.Single((await JsonAsync(find)).EnumerateArray());
            Assert.Equal(mr.GetString(DicomTag.StudyInstanceUID), match.GetProperty("0020000D").GetProperty("Value")[0].GetString());
            Assert.Equal("STUDY", match.GetProperty("00080052").GetProperty("Value")[0].GetString());

            // dcmqrscp does not agree to fuzzy matching of names: our CLI says the names were matched as given.
            var fuzzy = CliRunner.Run("find", "127.0.0.1", Text(qrPort), "--aec", "QRSCP", "--level", "study", "--fuzzy", "-k", $"PatientID={mr.GetString(DicomTag.PatientID)}");
            Assert.True(fuzzy.ExitCode == 0, fuzzy.Stderr);
            Assert.Contains("QRSCP did not agree to fuzzy matching of person names", fuzzy.Stderr, StringComparison.Ordinal);
            Assert.Single(JsonDocument.Parse(fuzzy.Stdout).RootElement.EnumerateArray());
            Assert.DoesNotContain("combined date-time", fuzzy.Stderr, StringComparison.Ordinal);

            // Nor to combined date-time matching: the CLI and the nodes API say that dates and times were matched apart.
            var combined = CliRunner.Run("find", "127.0.0.1", Text(qrPort), "--aec", "QRSCP", "--level", "study", "--combined-datetime", "-k", $"PatientID={mr.GetString(DicomTag.PatientID)}");
            Assert.True(combined.ExitCode == 0, combined.Stderr);
            Assert.Contains("QRSCP did not agree to combined date-time matching; dates and times were matched each on its own", combined.Stderr, StringComparison.Ordinal);
            using var combinedFind = await server.Client.PostAsync($"/api/dicom_nodes/{id}/find",
                Json($$$"""{"level": "STUDY", "combined_datetime": true, "query": {"PatientID": "{{{mr.GetString(DicomTag.PatientID)}}}"}}"""));
            Assert.True(combinedFind.StatusCode == HttpStatusCode.OK, await combinedFind.Content.ReadAsStringAsync());
            Assert.Contains("QRSCP did not agree to combined date-time matching", string.Join(" | ", combinedFind.Headers.NonValidated["Warning"]), StringComparison.Ordinal);
            using var badCombined = await server.Client.PostAsync($"/api/dicom_nodes/{id}/find", Json("""{"level": "STUDY", "combined_datetime": 1}"""));
            Assert.Equal(HttpStatusCode.BadRequest, badCombined.StatusCode);
            Assert.Equal(["combined_datetime"], (await JsonAsync(badCombined)).EnumerateObject().Select(p => p.Name));

            using var badQuery = await server.Client.PostAsync($"/api/dicom_nodes/{id}/find", Json("""{"level": "ROOM", "query": {"NoSuchKeyword": "x"}}"""));
            Assert.Equal(HttpStatusCode.BadRequest, badQuery.StatusCode);
            Assert.Equal(["level", "query"], (await JsonAsync(badQuery)).EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));

            foreach (var (operation, name) in new[] { ("move", "ivrle_mr_small"), ("get", "overlay_mr") })
            {
                var dataset = DicomFile.Open(Corpus.Get(name).Path).Dataset;
                var study = dataset.GetString(DicomTag.StudyInstanceUID)!;
                using var accepted = await server.Client.PostAsync($"/api/dicom_nodes/{id}/{operation}",
                    Json($$$"""{"level": "STUDY", "query": {"StudyInstanceUID": "{{{study}}}"}}"""));
                Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync());
                var job = await WaitForJobAsync(server, (await JsonAsync(accepted)).GetProperty("job_id").GetString()!);
                Assert.True(job.GetProperty("state").GetString() == "succeeded", $"{operation}: {job}");
                Assert.Equal((operation, 1, 0), (job.GetProperty("kind").GetString(), job.GetProperty("completed").GetInt32(), job.GetProperty("failed").GetInt32()));

                var instances = await JsonAsync(await server.Client.GetAsync($"/dicomweb/studies/{study}/instances"));
                var instance = Assert.Single(instances.EnumerateArray());
                Assert.Equal(dataset.GetString(DicomTag.SOPInstanceUID), instance.GetProperty("00080018").GetProperty("Value")[0].GetString());
            }

            // The CT study was neither moved nor got.
            var ct = DicomFile.Open(Corpus.Get("evrle_ct_small").Path).Dataset.GetString(DicomTag.StudyInstanceUID);
            Assert.Equal(0, (await JsonAsync(await server.Client.GetAsync($"/dicomweb/studies?StudyInstanceUID={ct}"))).GetArrayLength());
        }
        finally
        {
            qrscp.Kill(entireProcessTree: true);
            folder.Delete(recursive: true);
            await server.DeleteDataAsync();
        }
    }

    private static async Task<long> CreateNodeAsync(ServerProcess server, string peerAETitle, int port)
    {
        using var response = await server.Client.PostAsJsonAsync("/api/dicom_nodes",
            new { name = peerAETitle.ToLowerInvariant(), peer_aet_title = peerAETitle, peer_host = "127.0.0.1", peer_port = port });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await JsonAsync(response)).GetProperty("id").GetInt64();
    }

    /// <summary>Polls a DICOM node job until it has succeeded or failed (at most 60 s).</summary>
    internal static async Task<JsonElement> WaitForJobAsync(ServerProcess server, string jobId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var response = await server.Client.GetAsync($"/api/dicom_nodes/jobs/{jobId}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var job = await JsonAsync(response);
            if (job.GetProperty("state").GetString() is "succeeded" or "failed" || DateTime.UtcNow > deadline)
            {
                return job;
            }

            await Task.Delay(100);
        }
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
