using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Hounsfield.Dicom;
using Hounsfield.Testing;
using Microsoft.Data.Sqlite;
using static Hounsfield.Server.Tests.AccountsTestClient;

namespace Hounsfield.Server.Tests;

/// <summary>DICOM nodes marked `tls`: everything we open towards them is DICOM TLS (PS3.15 B.1), checked against Dimse:Tls:PeerCaPath.</summary>
public sealed class DicomNodesTlsTests
{
    [CorpusFact]
    public async Task Echo_store_and_move_sub_operations_reach_a_tls_storescp_with_our_certificate_and_an_untrusted_peer_fails_clearly()
    {
        using var pki = TestCertificates.Create();
        using var stranger = TestCertificates.Create("Some Other CA");
        var storescpPort = FreePorts.Next();
        var untrustedPort = FreePorts.Next();
        var dicomPort = FreePorts.Next();
        var received = Directory.CreateTempSubdirectory("hounsfield-nodes-tls-");
        var strangerReceived = Directory.CreateTempSubdirectory("hounsfield-nodes-tls-stranger-");
        // storescp requires and verifies our client certificate (DCMTK's default, -rc) against the CA.
        using var storescp = await DimseTests.StartPeerAsync(storescpPort, "storescp", "+tls", pki.ServerKeyPath, pki.ServerCertificatePath, "+cf", pki.CaPath,
            "-aet", "TLSSCP", "-od", received.FullName, Text(storescpPort));
        using var untrusted = await DimseTests.StartPeerAsync(untrustedPort, "storescp", "+tls", stranger.ServerKeyPath, stranger.ServerCertificatePath, "+cf", pki.CaPath,
            "-aet", "STRANGER", "-od", strangerReceived.FullName, Text(untrustedPort));
        await using var server = await ServerProcess.StartAsync(null, "--dicom-port", Text(dicomPort),
            "--Dimse:Tls:CertificatePath", pki.ServerCertificatePath, "--Dimse:Tls:KeyPath", pki.ServerKeyPath, "--Dimse:Tls:Port", Text(FreePorts.Next()),
            "--Dimse:Tls:PeerCaPath", pki.CaPath, "--Dimse:Nodes:0:AETitle", "MOVESCU");
        try
        {
            var ct = DicomFile.Open(Corpus.Get("evrle_ct_small").Path).Dataset;
            var mr = DicomFile.Open(Corpus.Get("ivrle_mr_small").Path).Dataset;
            using (var stow = DicomWebClient.Multipart([File.ReadAllBytes(Corpus.Get("evrle_ct_small").Path), File.ReadAllBytes(Corpus.Get("ivrle_mr_small").Path)]))
            {
                Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsync("/dicomweb/studies", stow)).StatusCode);
            }

            // Validation of the field, and its default.
            using (var invalid = await server.Client.PostAsync("/api/dicom_nodes", Json("""{"name": "x", "peer_aet_title": "X", "peer_host": "h", "peer_port": 104, "tls": "yes"}""")))
            {
                Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
                Assert.Equal(["tls"], (await JsonAsync(invalid)).EnumerateObject().Select(p => p.Name));
            }

            var plain = await CreateNodeAsync(server, "PLAINNODE", storescpPort, tls: null);
            Assert.False(plain.GetProperty("tls").GetBoolean());
            // A plain association to a TLS port fails (storescp expects a TLS handshake).
            using (var plainEcho = await server.Client.PostAsync($"/api/dicom_nodes/{plain.GetProperty("id").GetInt64()}/echo", null))
            {
                Assert.Equal(HttpStatusCode.BadGateway, plainEcho.StatusCode);
            }

            var node = await CreateNodeAsync(server, "TLSSCP", storescpPort, tls: true);
            Assert.True(node.GetProperty("tls").GetBoolean());
            var id = node.GetProperty("id").GetInt64();
            using (var echo = await server.Client.PostAsync($"/api/dicom_nodes/{id}/echo", null))
            {
                Assert.True(echo.StatusCode == HttpStatusCode.OK, await echo.Content.ReadAsStringAsync());
            }

            using (var accepted = await server.Client.PostAsync($"/api/dicom_nodes/{id}/store", Json($$"""{"instances": ["{{ct.GetString(DicomTag.SOPInstanceUID)}}"]}""")))
            {
                var job = await DicomNodesTests.WaitForJobAsync(server, (await JsonAsync(accepted)).GetProperty("job_id").GetString()!);
                Assert.True(job.GetProperty("state").GetString() == "succeeded", job.ToString());
            }

            var stored = DicomFile.Open(Assert.Single(Directory.GetFiles(received.FullName))).Dataset;
            Assert.Equal(ct.GetString(DicomTag.SOPInstanceUID), stored.GetString(DicomTag.SOPInstanceUID));
            Assert.Equal(ct.GetValues<short>(DicomTag.PixelData), stored.GetValues<short>(DicomTag.PixelData));

            // Our SCP's C-MOVE sub-operations to a TLS node go over TLS too.
            var move = Move("TLSSCP");
            Assert.True(move.ExitCode == 0 && move.Stdout.Contains("1 completed, 0 failed", StringComparison.Ordinal), move.Stdout + move.Stderr);
            var moved = Directory.GetFiles(received.FullName).Select(f => DicomFile.Open(f).Dataset).Single(d => d.GetString(DicomTag.SOPInstanceUID) == mr.GetString(DicomTag.SOPInstanceUID));
            Assert.Equal(mr.GetValues<short>(DicomTag.PixelData), moved.GetValues<short>(DicomTag.PixelData));

            // A peer whose certificate does not chain to Dimse:Tls:PeerCaPath: 502 with the reason, a failed job, a failed C-MOVE.
            var strangerNode = (await CreateNodeAsync(server, "STRANGER", untrustedPort, tls: true)).GetProperty("id").GetInt64();
            using (var refused = await server.Client.PostAsync($"/api/dicom_nodes/{strangerNode}/echo", null))
            {
                Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
                var detail = (await JsonAsync(refused)).GetProperty("detail").GetString()!;
                Assert.Contains("over TLS failed", detail, StringComparison.Ordinal);
                Assert.Contains("the server certificate is not trusted", detail, StringComparison.Ordinal);
            }

            using (var accepted = await server.Client.PostAsync($"/api/dicom_nodes/{strangerNode}/store", Json($$"""{"instances": ["{{ct.GetString(DicomTag.SOPInstanceUID)}}"]}""")))
            {
                var job = await DicomNodesTests.WaitForJobAsync(server, (await JsonAsync(accepted)).GetProperty("job_id").GetString()!);
                Assert.Equal("failed", job.GetProperty("state").GetString());
                Assert.Contains("the server certificate is not trusted", job.GetProperty("error").GetString(), StringComparison.Ordinal);
            }

            var refusedMove = Move("STRANGER");
            Assert.True(refusedMove.ExitCode != 0 && refusedMove.Stdout.Contains("0 completed, 1 failed", StringComparison.Ordinal), refusedMove.Stdout + refusedMove.Stderr);
            Assert.Empty(Directory.GetFiles(strangerReceived.FullName));
        }
        finally
        {
            storescp.Kill(entireProcessTree: true);
            untrusted.Kill(entireProcessTree: true);
            received.Delete(recursive: true);
            strangerReceived.Delete(recursive: true);
            await server.DeleteDataAsync();
        }

        (int ExitCode, string Stdout, string Stderr) Move(string destination) =>
            CliRunner.Run("move", "127.0.0.1", Text(dicomPort), "--aet", "MOVESCU", "--aec", "HOUNSFIELD", "--dest", destination, "--level", "STUDY",
                "-k", $"StudyInstanceUID={DicomFile.Open(Corpus.Get("ivrle_mr_small").Path).Dataset.GetString(DicomTag.StudyInstanceUID)}");
    }

    [CorpusFact]
    public async Task Find_get_and_move_through_the_api_reach_a_tls_only_peer_and_the_peer_moves_back_over_tls()
    {
        using var pki = TestCertificates.Create();
        var ourDicomPort = FreePorts.Next();
        var ourTlsPort = FreePorts.Next();
        var peerTlsPort = FreePorts.Next();
        string[] tls = ["--Dimse:Tls:CertificatePath", pki.ServerCertificatePath, "--Dimse:Tls:KeyPath", pki.ServerKeyPath, "--Dimse:Tls:PeerCaPath", pki.CaPath];
        // The peer: another Hounsfield that speaks only DICOM TLS and sends C-MOVEs to us over TLS (a configured TLS node).
        await using var peer = await ServerProcess.StartAsync(null, [
            "--dicom-port", "0", "--Dimse:AETitle", "PEER", "--Dimse:Tls:Port", Text(peerTlsPort), .. tls, "--Dimse:Tls:RequireClientCertificate", "true",
            "--Dimse:Tls:ClientCaPath", pki.CaPath, "--Dimse:Nodes:0:AETitle", "HOUNSFIELD", "--Dimse:Nodes:0:Host", "127.0.0.1",
            "--Dimse:Nodes:0:Port", Text(ourTlsPort), "--Dimse:Nodes:0:Tls", "true"]);
        await using var server = await ServerProcess.StartAsync(null, ["--dicom-port", Text(ourDicomPort), "--Dimse:Tls:Port", Text(ourTlsPort), .. tls]);
        try
        {
            string[] names = ["evrle_ct_small", "ivrle_mr_small"];
            using (var stow = DicomWebClient.Multipart([.. names.Select(n => File.ReadAllBytes(Corpus.Get(n).Path))]))
            {
                Assert.Equal(HttpStatusCode.OK, (await peer.Client.PostAsync("/dicomweb/studies", stow)).StatusCode);
            }

            var id = (await CreateNodeAsync(server, "PEERTLS", peerTlsPort, tls: true, peerAETitle: "PEER")).GetProperty("id").GetInt64();
            var mr = DicomFile.Open(Corpus.Get("ivrle_mr_small").Path).Dataset;
            using (var find = await server.Client.PostAsync($"/api/dicom_nodes/{id}/find",
                Json($$$"""{"level": "STUDY", "query": {"PatientID": "{{{mr.GetString(DicomTag.PatientID)}}}", "StudyInstanceUID": null}}""")))
            {
                Assert.True(find.StatusCode == HttpStatusCode.OK, await find.Content.ReadAsStringAsync());
                var match = Assert.Single((await JsonAsync(find)).EnumerateArray());
                Assert.Equal(mr.GetString(DicomTag.StudyInstanceUID), match.GetProperty("0020000D").GetProperty("Value")[0].GetString());
            }

            foreach (var (operation, name) in new[] { ("get", "evrle_ct_small"), ("move", "ivrle_mr_small") })
            {
                var dataset = DicomFile.Open(Corpus.Get(name).Path).Dataset;
                var study = dataset.GetString(DicomTag.StudyInstanceUID)!;
                using var accepted = await server.Client.PostAsync($"/api/dicom_nodes/{id}/{operation}", Json($$$"""{"level": "STUDY", "query": {"StudyInstanceUID": "{{{study}}}"}}"""));
                Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync());
                var job = await DicomNodesTests.WaitForJobAsync(server, (await JsonAsync(accepted)).GetProperty("job_id").GetString()!);
                Assert.True(job.GetProperty("state").GetString() == "succeeded" && job.GetProperty("completed").GetInt32() == 1, $"{operation}: {job}");
                var instances = await JsonAsync(await server.Client.GetAsync($"/dicomweb/studies/{study}/instances"));
                Assert.Equal(dataset.GetString(DicomTag.SOPInstanceUID), Assert.Single(instances.EnumerateArray()).GetProperty("00080018").GetProperty("Value")[0].GetString());
            }
        }
        finally
        {
            await peer.DeleteDataAsync();
            await server.DeleteDataAsync();
        }
    }

    [Fact]
    public async Task An_index_made_before_node_tls_and_job_owners_gains_the_columns_with_its_nodes_plain_and_its_jobs_admin_only()
    {
        var data = Directory.CreateTempSubdirectory("hounsfield-nodes-migrate-");
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(data.FullName, "index.db")};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                CREATE TABLE dicom_nodes (id INTEGER PRIMARY KEY, name TEXT NOT NULL, aet_title TEXT NOT NULL, peer_aet_title TEXT NOT NULL UNIQUE,
                    peer_host TEXT NOT NULL, peer_port INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
                INSERT INTO dicom_nodes VALUES (1, 'old', 'HOUNSFIELD', 'OLDPEER', 'old.example', 104, 0, 0);
                CREATE TABLE dicom_node_jobs (id TEXT PRIMARY KEY, node_id INTEGER NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, completed INTEGER NOT NULL,
                    failed INTEGER NOT NULL, remaining INTEGER NOT NULL, error TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
                    heartbeat_at INTEGER NOT NULL, runner TEXT NOT NULL);
                INSERT INTO dicom_node_jobs VALUES ('oldjob', 1, 'store', 'succeeded', 4, 0, 0, NULL, 0, 0, 0, 'gone/1/0');
                """;
            await command.ExecuteNonQueryAsync();
        }

        await using var server = await ServerProcess.StartAsync(new ServerStart { Data = data });
        try
        {
            var old = await JsonAsync(await server.Client.GetAsync("/api/dicom_nodes/1"));
            Assert.Equal(("OLDPEER", false), (old.GetProperty("peer_aet_title").GetString(), old.GetProperty("tls").GetBoolean()));
            using var updated = await server.Client.PutAsJsonAsync("/api/dicom_nodes/1", new { name = "old", peer_aet_title = "OLDPEER", peer_host = "old.example", peer_port = 2762, tls = true });
            Assert.True(updated.StatusCode == HttpStatusCode.OK, await updated.Content.ReadAsStringAsync());
            Assert.True((await JsonAsync(await server.Client.GetAsync("/api/dicom_nodes/1"))).GetProperty("tls").GetBoolean());

            var job = await JsonAsync(await server.Client.GetAsync("/api/dicom_nodes/jobs/oldjob"));
            Assert.Equal((4, JsonValueKind.Null), (job.GetProperty("completed").GetInt32(), job.GetProperty("created_by").ValueKind));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            await server.DeleteDataAsync();
        }
    }

    private static async Task<JsonElement> CreateNodeAsync(ServerProcess server, string name, int port, bool? tls, string? peerAETitle = null)
    {
        using var response = await server.Client.PostAsJsonAsync("/api/dicom_nodes",
            new Dictionary<string, object?> { ["name"] = name.ToLowerInvariant(), ["peer_aet_title"] = peerAETitle ?? name, ["peer_host"] = "127.0.0.1", ["peer_port"] = port, ["tls"] = tls });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return await JsonAsync(response);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
