using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Hounsfield.Dicom;
using static Hounsfield.Server.Tests.AccountsTestClient;
using Hounsfield.Testing;

namespace Hounsfield.Server.Tests;

/// <summary>
/// Transfer syntaxes between us and peers: instances stored compressed, sent to peers that accept only uncompressed
/// syntaxes (DCMTK's storescp and getscu by default), go decompressed to explicit VR little endian with the oracle's
/// pixels instead of failing, while a peer that accepts the stored syntax gets it as stored; a C-GET of ours accepts
/// compressed syntaxes too.
/// </summary>
public sealed class DicomNodesTransferSyntaxTests
{
    private static readonly string[] Names = ["rle_mr_small_s16", "jpeg_lossless_sv1_s16_nm"];

    [CorpusFact]
    public async Task Store_move_and_get_decompress_for_a_peer_that_accepts_only_uncompressed_syntaxes()
    {
        var uncompressedPort = FreePorts.Next();
        var acceptAllPort = FreePorts.Next();
        var dicomPort = FreePorts.Next();
        var uncompressed = Directory.CreateTempSubdirectory("hounsfield-uncompressed-peer-");
        var acceptAll = Directory.CreateTempSubdirectory("hounsfield-accept-all-peer-");
        var got = Directory.CreateTempSubdirectory("hounsfield-getscu-");
        using var storescp = await DimseTests.StartPeerAsync(uncompressedPort, "storescp", "-aet", "PLAINONLY", "-od", uncompressed.FullName, Text(uncompressedPort));
        using var storescpAll = await DimseTests.StartPeerAsync(acceptAllPort, "storescp", "+xa", "-aet", "ANYSYNTAX", "-od", acceptAll.FullName, Text(acceptAllPort));
        await using var server = await ServerProcess.StartAsync(null, "--dicom-port", Text(dicomPort), "--dicom-open", "true");
        try
        {
            using (var stow = DicomWebClient.Multipart([.. Names.Select(n => File.ReadAllBytes(Corpus.Get(n).Path))]))
            {
                Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsync("/dicomweb/studies", stow)).StatusCode);
            }

            var sops = Names.Select(n => DicomFile.Open(Corpus.Get(n).Path).Dataset.GetString(DicomTag.SOPInstanceUID)!).ToArray();
            var body = Json($$"""{"instances": ["{{sops[0]}}", "{{sops[1]}}"]}""");

            // Store through the nodes API.
            var plainOnly = await CreateNodeAsync(server, "PLAINONLY", uncompressedPort);
            var job = await StoreAsync(server, plainOnly, body);
            Assert.True(job.GetProperty("state").GetString() == "succeeded" && job.GetProperty("completed").GetInt32() == 2, job.ToString());
            AssertDecompressed(uncompressed.FullName);

            var anySyntax = await CreateNodeAsync(server, "ANYSYNTAX", acceptAllPort);
            job = await StoreAsync(server, anySyntax, Json($$"""{"instances": ["{{sops[0]}}", "{{sops[1]}}"]}"""));
            Assert.True(job.GetProperty("state").GetString() == "succeeded", job.ToString());
            foreach (var name in Names)
            {
                var sop = DicomFile.Open(Corpus.Get(name).Path).Dataset.GetString(DicomTag.SOPInstanceUID);
                var received = Directory.GetFiles(acceptAll.FullName).Select(path => DicomFile.Open(path)).Single(f => f.Dataset.GetString(DicomTag.SOPInstanceUID) == sop);
                Assert.Equal(DicomFile.Open(Corpus.Get(name).Path).TransferSyntax, received.TransferSyntax); // as stored
            }

            // C-MOVE sub-operations of our SCP.
            foreach (var file in Directory.GetFiles(uncompressed.FullName))
            {
                File.Delete(file);
            }

            foreach (var name in Names)
            {
                var study = DicomFile.Open(Corpus.Get(name).Path).Dataset.GetString(DicomTag.StudyInstanceUID);
                var (exitCode, stdout, stderr) = CliRunner.Run("move", "127.0.0.1", Text(dicomPort), "--aet", "MOVESCU", "--aec", "HOUNSFIELD", "--dest", "PLAINONLY",
                    "--level", "STUDY", "-k", $"StudyInstanceUID={study}");
                Assert.True(exitCode == 0 && stdout.Contains("1 completed, 0 failed", StringComparison.Ordinal), stdout + stderr);
            }

            AssertDecompressed(uncompressed.FullName);

            // C-GET sub-operations of our SCP: getscu proposes uncompressed storage syntaxes only, by default.
            foreach (var name in Names)
            {
                var study = DicomFile.Open(Corpus.Get(name).Path).Dataset.GetString(DicomTag.StudyInstanceUID);
                var get = DimseTests.Run("getscu", "-S", "-aet", "GETSCU", "-aec", "HOUNSFIELD", "-od", got.FullName,
                    "-k", "QueryRetrieveLevel=STUDY", "-k", $"StudyInstanceUID={study}", "127.0.0.1", Text(dicomPort));
                Assert.True(get.ExitCode == 0, get.Output);
            }

            AssertDecompressed(got.FullName);
        }
        finally
        {
            storescp.Kill(entireProcessTree: true);
            storescpAll.Kill(entireProcessTree: true);
            uncompressed.Delete(recursive: true);
            acceptAll.Delete(recursive: true);
            got.Delete(recursive: true);
            await server.DeleteDataAsync();
        }
    }

    [CorpusFact]
    public async Task Decompression_beyond_the_memory_bound_fails_that_instance_only_and_says_why()
    {
        var storescpPort = FreePorts.Next();
        var dicomPort = FreePorts.Next();
        var received = Directory.CreateTempSubdirectory("hounsfield-decompress-bound-");
        using var storescp = await DimseTests.StartPeerAsync(storescpPort, "storescp", "-aet", "PLAINONLY", "-od", received.FullName, Text(storescpPort));
        // rle_mr_small_s16 decodes to 64 × 64 × 2 = 8192 bytes: over the bound. evrle_ct_small is native, sent as ever.
        await using var server = await ServerProcess.StartAsync(null, "--dicom-port", Text(dicomPort), "--dicom-open", "true", "--Dimse:MaxDecompressedLength", "8000");
        try
        {
            string[] names = ["rle_mr_small_s16", "evrle_ct_small"];
            using (var stow = DicomWebClient.Multipart([.. names.Select(n => File.ReadAllBytes(Corpus.Get(n).Path))]))
            {
                Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsync("/dicomweb/studies", stow)).StatusCode);
            }

            var sops = names.Select(n => DicomFile.Open(Corpus.Get(n).Path).Dataset.GetString(DicomTag.SOPInstanceUID)!).ToArray();
            var node = await CreateNodeAsync(server, "PLAINONLY", storescpPort);
            var job = await StoreAsync(server, node, Json($$"""{"instances": ["{{sops[0]}}", "{{sops[1]}}"]}"""));
            Assert.Equal(("failed", 1, 1), (job.GetProperty("state").GetString(), job.GetProperty("completed").GetInt32(), job.GetProperty("failed").GetInt32()));
            var error = job.GetProperty("error").GetString()!;
            Assert.Contains(sops[0], error, StringComparison.Ordinal);
            Assert.Contains("over Dimse:MaxDecompressedLength (8000)", error, StringComparison.Ordinal);
            Assert.Equal(sops[1], DicomFile.Open(Assert.Single(Directory.GetFiles(received.FullName))).Dataset.GetString(DicomTag.SOPInstanceUID));

            // The same through our SCP's C-MOVE: one sub-operation failed, the association and the server fine.
            var study = DicomFile.Open(Corpus.Get("rle_mr_small_s16").Path).Dataset.GetString(DicomTag.StudyInstanceUID);
            var (exitCode, stdout, stderr) = CliRunner.Run("move", "127.0.0.1", Text(dicomPort), "--aet", "MOVESCU", "--aec", "HOUNSFIELD", "--dest", "PLAINONLY",
                "--level", "STUDY", "-k", $"StudyInstanceUID={study}");
            Assert.True(exitCode != 0 && stdout.Contains("0 completed, 1 failed", StringComparison.Ordinal), stdout + stderr);
            Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsync($"/api/dicom_nodes/{node}/echo", null)).StatusCode);
        }
        finally
        {
            storescp.Kill(entireProcessTree: true);
            received.Delete(recursive: true);
            await server.DeleteDataAsync();
        }
    }

    [CorpusFact]
    public async Task Get_from_a_node_keeps_the_compressed_syntax_the_peer_accepted_and_gets_the_others_decompressed()
    {
        var peerPort = FreePorts.Next();
        await using var peer = await ServerProcess.StartAsync(null, "--dicom-port", Text(peerPort), "--Dimse:AETitle", "PEER", "--dicom-open", "true");
        await using var server = await ServerProcess.StartAsync();
        try
        {
            using (var stow = DicomWebClient.Multipart([.. Names.Select(n => File.ReadAllBytes(Corpus.Get(n).Path))]))
            {
                Assert.Equal(HttpStatusCode.OK, (await peer.Client.PostAsync("/dicomweb/studies", stow)).StatusCode);
            }

            var node = await CreateNodeAsync(server, "PEER", peerPort);
            foreach (var name in Names)
            {
                var study = DicomFile.Open(Corpus.Get(name).Path).Dataset.GetString(DicomTag.StudyInstanceUID);
                using var accepted = await server.Client.PostAsync($"/api/dicom_nodes/{node}/get", Json($$$"""{"level": "STUDY", "query": {"StudyInstanceUID": "{{{study}}}"}}"""));
                Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync());
                var job = await DicomNodesTests.WaitForJobAsync(server, (await JsonAsync(accepted)).GetProperty("job_id").GetString()!);
                Assert.True(job.GetProperty("state").GetString() == "succeeded" && job.GetProperty("completed").GetInt32() == 1, job.ToString());
            }

            // With every common storage SOP class proposed, each has one context for the native syntaxes and one for the
            // compressed ones, lossless JPEG first: the peer (this server's SCP) accepts that, so the JPEG lossless instance
            // arrives as stored; the RLE one goes on the native context, decompressed by the peer.
            var jpeg = DicomFile.Open(Corpus.Get("jpeg_lossless_sv1_s16_nm").Path);
            Assert.Equal(DicomTransferSyntax.JpegLosslessSV1, jpeg.TransferSyntax);
            Assert.Equal(jpeg.TransferSyntax.Uid, await StoredSyntaxAsync(server, jpeg.Dataset.GetString(DicomTag.SOPInstanceUID)!));
            var asStored = DicomFile.Read(new MemoryStream(Assert.Single(
                await DicomWebClient.RetrieveAsStoredAsync(server.Client, $"/dicomweb/studies/{jpeg.Dataset.GetString(DicomTag.StudyInstanceUID)}"))));
            Assert.Equal(
                Assert.IsType<DicomFragmentSequence>(jpeg.Dataset[DicomTag.PixelData]).Fragments.Select(f => Convert.ToHexString(f.GetMemory().Span)),
                Assert.IsType<DicomFragmentSequence>(asStored.Dataset[DicomTag.PixelData]).Fragments.Select(f => Convert.ToHexString(f.GetMemory().Span)));

            var rle = DicomFile.Open(Corpus.Get("rle_mr_small_s16").Path).Dataset.GetString(DicomTag.SOPInstanceUID)!;
            Assert.Equal(DicomTransferSyntax.ExplicitVRLittleEndian.Uid, await StoredSyntaxAsync(server, rle));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            await peer.DeleteDataAsync();
            await server.DeleteDataAsync();
        }

        static async Task<string> StoredSyntaxAsync(ServerProcess server, string sopInstanceUid)
        {
            // A row acknowledged by C-STORE is written a moment later (Archive:IndexWriteDelay); a query writes the pending
            // rows first, so the row is in the database once it answers.
            using (var query = await server.Client.GetAsync($"/dicomweb/instances?SOPInstanceUID={sopInstanceUid}"))
            {
                Assert.Equal(HttpStatusCode.OK, query.StatusCode);
            }

            using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={server.DatabasePath};Mode=ReadOnly");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT transfer_syntax_uid FROM instances WHERE sop_uid = $sop";
            command.Parameters.AddWithValue("$sop", sopInstanceUid);
            return (string)command.ExecuteScalar()!;
        }
    }

    /// <summary>The folder holds each corpus instance once, in explicit VR little endian, its Pixel Data the oracle's decode.</summary>
    private static void AssertDecompressed(string folder)
    {
        var files = Directory.GetFiles(folder).Select(path => DicomFile.Open(path)).ToList();
        Assert.Equal(Names.Length, files.Count);
        foreach (var name in Names)
        {
            var original = DicomFile.Open(Corpus.Get(name).Path).Dataset;
            var received = files.Single(f => f.Dataset.GetString(DicomTag.SOPInstanceUID) == original.GetString(DicomTag.SOPInstanceUID));
            Assert.Equal(DicomTransferSyntax.ExplicitVRLittleEndian, received.TransferSyntax);
            var pixels = Assert.IsType<DicomValueElement>(received.Dataset[DicomTag.PixelData]);
            Assert.Equal(OracleValueSha256(name), Convert.ToHexStringLower(SHA256.HashData(pixels.Span)));
            Assert.Equal(original.GetString(DicomTag.PatientID), received.Dataset.GetString(DicomTag.PatientID));
        }
    }

    private static async Task<JsonElement> StoreAsync(ServerProcess server, long node, StringContent body)
    {
        using var accepted = await server.Client.PostAsync($"/api/dicom_nodes/{node}/store", body);
        Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync());
        return await DicomNodesTests.WaitForJobAsync(server, (await JsonAsync(accepted)).GetProperty("job_id").GetString()!);
    }

    private static string OracleValueSha256(string name)
    {
        using var pixels = JsonDocument.Parse(File.ReadAllBytes(Corpus.Get(name).OraclePath("pixels.json")));
        return pixels.RootElement.GetProperty("default").GetProperty("value_sha256").GetString()!;
    }

    private static async Task<long> CreateNodeAsync(ServerProcess server, string peerAETitle, int port)
    {
        using var response = await server.Client.PostAsJsonAsync("/api/dicom_nodes",
            new { name = peerAETitle.ToLowerInvariant(), peer_aet_title = peerAETitle, peer_host = "127.0.0.1", peer_port = port });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await JsonAsync(response)).GetProperty("id").GetInt64();
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
