using System.Net.Sockets;
using Hounsfield.Dicom;
using Hounsfield.Testing;

namespace Hounsfield.Network.Tests;

/// <summary>DICOM TLS (PS3.15 Annex B.1): our SCU and SCP, and DCMTK on either side, with a CA made by the test.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly TestCertificates pki = TestCertificates.Create();

    public void Dispose() => pki.Dispose();

    [Fact]
    public async Task Our_scu_echoes_our_scp_over_tls()
    {
        await using var server = await StartTlsServerAsync();
        var status = await TlsClient(server).EchoAsync();
        Assert.Equal(DicomStatus.Success, status);
    }

    [Fact]
    public async Task Our_scu_stores_to_our_scp_over_tls_and_the_instance_arrives_intact()
    {
        var folder = TestEnvironment.CreateTempDirectory("tls-store");
        try
        {
            var provider = new FolderStoreProvider(folder);
            await using var server = await StartTlsServerAsync(store: provider);
            var dataset = SampleInstances.Create("1.2.826.0.1.3680043.10.1000.61", "TLS^PATIENT", "1.2.826.0.1.3680043.10.1000.60", 1, size: 256);
            var results = await TlsClient(server).StoreAsync([new DicomFile(dataset, DicomTransferSyntax.ExplicitVRLittleEndian)]);
            Assert.True(results.Single().Succeeded, results.Single() + server.Dump());
            var received = DicomFile.Open(Path.Combine(folder, "1.2.826.0.1.3680043.10.1000.61.dcm"));
            DatasetAssert.Equal(dataset, received.Dataset, DatasetComparison.AsReencoded);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_c_get_over_tls_receives_every_instance_on_the_same_association_while_several_stores_run_at_once()
    {
        var folder = TestEnvironment.CreateTempDirectory("tls-get");
        try
        {
            var sources = new List<string>();
            for (var i = 0; i < 6; i++)
            {
                var path = Path.Combine(folder, $"source{i}.dcm");
                new DicomFile(SampleInstances.Create($"1.2.826.0.1.3680043.10.1000.70.{i + 1}", "GET^TLS", "1.2.826.0.1.3680043.10.1000.70", 1, size: 200 + i), DicomTransferSyntax.ExplicitVRLittleEndian).Save(path);
                sources.Add(path);
            }

            var stored = Directory.CreateDirectory(Path.Combine(folder, "stored")).FullName;
            var retrieve = new FileRetrieveProvider(sources, new Dictionary<string, DicomRemoteNode>());
            await using var server = await StartTlsServerAsync(store: new FolderStoreProvider(stored), get: retrieve);

            // C-GET: the SCP sends C-STORE sub-operations while it still reads this association (concurrent TLS reads and writes).
            var received = Directory.CreateDirectory(Path.Combine(folder, "received")).FullName;
            var query = new DicomDataset();
            query.AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, "1.2.826.0.1.3680043.10.1000.70");
            var get = TlsClient(server).GetAsync(DicomQueryRetrieveLevel.Study, query, new FolderStoreProvider(received));
            var stores = Enumerable.Range(0, 4).Select(n => TlsClient(server).StoreAsync([new DicomFile(
                SampleInstances.Create($"1.2.826.0.1.3680043.10.1000.71.{n + 1}", "STORE^TLS", "1.2.826.0.1.3680043.10.1000.71", 1, size: 300), DicomTransferSyntax.ExplicitVRLittleEndian)])).ToList();

            var result = await get;
            Assert.Equal(DicomStatus.Success, result.Status);
            Assert.Equal(6, result.Completed);
            foreach (var source in sources)
            {
                var original = DicomFile.Open(source).Dataset;
                var copy = DicomFile.Open(Path.Combine(received, original.GetString(DicomTag.SOPInstanceUID) + ".dcm")).Dataset;
                DatasetAssert.Equal(original, copy, DatasetComparison.AsReencoded);
            }

            foreach (var store in stores)
            {
                Assert.True((await store).Single().Succeeded, server.Dump());
            }

            Assert.Equal(4, Directory.GetFiles(stored, "*.dcm").Length);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_client_that_does_not_trust_the_ca_fails_with_a_tls_exception_naming_the_trust_failure()
    {
        await using var server = await StartTlsServerAsync();
        using var otherPki = TestCertificates.Create("Some Other CA");
        var client = new DicomClient("127.0.0.1", server.Port, "TESTSCU", server.AETitle)
        {
            Tls = new DicomTlsClientOptions { TargetHost = "localhost", TrustedCertificateAuthorities = otherPki.CaCollection },
        };
        var failure = await Assert.ThrowsAsync<DicomTlsException>(() => client.EchoAsync());
        Assert.Contains("not trusted", failure.Message);

        // The system trust store does not know the test CA either.
        var systemTrust = new DicomClient("127.0.0.1", server.Port, "TESTSCU", server.AETitle) { Tls = new DicomTlsClientOptions { TargetHost = "localhost" } };
        failure = await Assert.ThrowsAsync<DicomTlsException>(() => systemTrust.EchoAsync());
        Assert.Contains("not trusted", failure.Message);
        Assert.Equal(DicomStatus.Success, await TlsClient(server).EchoAsync());
    }

    [Fact]
    public async Task A_server_certificate_for_another_name_is_refused()
    {
        await using var server = await StartTlsServerAsync();
        var client = new DicomClient("127.0.0.1", server.Port, "TESTSCU", server.AETitle)
        {
            Tls = new DicomTlsClientOptions { TargetHost = "pacs.example.org", TrustedCertificateAuthorities = pki.CaCollection },
        };
        var failure = await Assert.ThrowsAsync<DicomTlsException>(() => client.EchoAsync());
        Assert.Contains("does not name the host", failure.Message);
    }

    [Fact]
    public async Task A_plain_tcp_client_on_the_tls_port_fails_cleanly_and_the_server_keeps_serving()
    {
        await using var server = await StartTlsServerAsync();
        var plain = new DicomClient("127.0.0.1", server.Port, "TESTSCU", server.AETitle, new Association.DicomAssociationOptions { ArtimTimeout = TimeSpan.FromSeconds(5) });
        var started = DateTime.UtcNow;
        var failure = await Assert.ThrowsAnyAsync<DicomNetworkException>(() => plain.EchoAsync());
        Assert.IsNotType<DicomNetworkTimeoutException>(failure);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(4), $"took {DateTime.UtcNow - started}");
        Assert.Equal(DicomStatus.Success, await TlsClient(server).EchoAsync());
        Assert.Contains(server.Log, line => line.Contains("TLS handshake failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_tls_client_on_a_plain_port_fails_with_a_tls_exception()
    {
        await using var server = await TestServer.StartAsync();
        var client = new DicomClient("127.0.0.1", server.Port, "TESTSCU", server.AETitle)
        {
            Tls = new DicomTlsClientOptions { TargetHost = "localhost", TrustedCertificateAuthorities = pki.CaCollection, HandshakeTimeout = TimeSpan.FromSeconds(5) },
        };
        await Assert.ThrowsAsync<DicomTlsException>(() => client.EchoAsync());
        Assert.Equal(DicomStatus.Success, await server.Client().EchoAsync());
    }

    [Fact]
    public async Task A_connection_that_never_starts_the_handshake_is_dropped_after_the_handshake_timeout()
    {
        await using var server = await StartTlsServerAsync(handshakeTimeout: TimeSpan.FromSeconds(1));
        var started = DateTime.UtcNow; // before the connect, as in HostilePeerTests' ARTIM test
        await using var silent = await RawPeer.ConnectAsync(server.Port);
        Assert.True(await silent.ClosedWithinAsync(TimeSpan.FromSeconds(10)), "the silent connection was not closed");
        var elapsed = DateTime.UtcNow - started;
        Assert.True(elapsed >= TimeSpan.FromSeconds(0.8) && elapsed < TimeSpan.FromSeconds(5), $"closed after {elapsed}");
        Assert.Contains(server.Log, line => line.Contains("HandshakeTimeout", StringComparison.Ordinal));
        Assert.Equal(DicomStatus.Success, await TlsClient(server).EchoAsync());
    }

    [Fact]
    public async Task A_required_client_certificate_admits_the_client_that_presents_one_from_the_trusted_ca()
    {
        await using var server = await StartTlsServerAsync(requireClientCertificate: true);
        var withCertificate = new DicomClient("127.0.0.1", server.Port, "TESTSCU", server.AETitle)
        {
            Tls = new DicomTlsClientOptions { TargetHost = "localhost", TrustedCertificateAuthorities = pki.CaCollection, ClientCertificate = pki.Client },
        };
        Assert.Equal(DicomStatus.Success, await withCertificate.EchoAsync());

        // Without a certificate (TLS 1.3: the server refuses after the client's side of the handshake is done).
        await Assert.ThrowsAnyAsync<DicomNetworkException>(() => TlsClient(server).EchoAsync());
        Assert.True(server.Log.Any(line => line.Contains("the client presented no certificate", StringComparison.Ordinal)), server.Dump());

        // With a certificate from a CA the server does not trust.
        using var otherPki = TestCertificates.Create("Some Other CA");
        var stranger = new DicomClient("127.0.0.1", server.Port, "TESTSCU", server.AETitle)
        {
            Tls = new DicomTlsClientOptions { TargetHost = "localhost", TrustedCertificateAuthorities = pki.CaCollection, ClientCertificate = otherPki.Client },
        };
        await Assert.ThrowsAnyAsync<DicomNetworkException>(() => stranger.EchoAsync());
        Assert.True(server.Log.Any(line => line.Contains("the client certificate is not trusted", StringComparison.Ordinal)), server.Dump());
        Assert.Equal(DicomStatus.Success, await withCertificate.EchoAsync());
    }

    [Fact]
    public void A_server_certificate_without_its_private_key_is_refused_at_construction()
    {
        using var publicOnly = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(pki.Server.RawData);
        var failure = Assert.Throws<ArgumentException>(() => new DicomServer(new DicomServerOptions { Tls = new DicomTlsServerOptions { Certificate = publicOnly } }));
        Assert.Contains("no private key", failure.Message);
    }

    [DcmtkFact]
    public async Task Dcmtk_echoscu_and_storescu_talk_to_our_scp_over_tls()
    {
        var folder = TestEnvironment.CreateTempDirectory("tls-dcmtk");
        try
        {
            var provider = new FolderStoreProvider(folder);
            await using var server = await StartTlsServerAsync(store: provider);
            var (exit, output) = await Dcmtk.RunAsync("echoscu", ["+tls", pki.ClientKeyPath, pki.ClientCertificatePath, "+cf", pki.CaPath, "-aet", "ECHOSCU", "-aec", server.AETitle, "localhost", server.Port.ToString()]);
            Assert.True(exit == 0, output + server.Dump());

            var dataset = SampleInstances.Create("1.2.826.0.1.3680043.10.1000.62", "TLS^DCMTK", "1.2.826.0.1.3680043.10.1000.60", 1, size: 64);
            var path = Path.Combine(folder, "sent.dcm");
            new DicomFile(dataset, DicomTransferSyntax.ExplicitVRLittleEndian).Save(path);
            (exit, output) = await Dcmtk.RunAsync("storescu", ["+tla", "+cf", pki.CaPath, "-aet", "STORESCU", "-aec", server.AETitle, "localhost", server.Port.ToString(), path]);
            Assert.True(exit == 0, output + server.Dump());
            DatasetAssert.Equal(dataset, DicomFile.Open(Path.Combine(folder, "1.2.826.0.1.3680043.10.1000.62.dcm")).Dataset, DatasetComparison.AsReencoded);

            // echoscu without the CA refuses our certificate.
            (exit, output) = await Dcmtk.RunAsync("echoscu", ["+tla", "-aet", "ECHOSCU", "-aec", server.AETitle, "localhost", server.Port.ToString()]);
            Assert.NotEqual(0, exit);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [DcmtkFact]
    public async Task Our_scu_stores_to_dcmtk_storescp_over_tls_with_a_client_certificate()
    {
        var port = FreePorts.Next();
        var folder = TestEnvironment.CreateTempDirectory("tls-storescp");
        try
        {
            await using var storescp = await Dcmtk.StartAsync(
                "storescp", ["+tls", pki.ServerKeyPath, pki.ServerCertificatePath, "+cf", pki.CaPath, "-rc", "-aet", "STORESCP", "-od", folder, port.ToString()], port);
            var dataset = SampleInstances.Create("1.2.826.0.1.3680043.10.1000.63", "TLS^STORESCP", "1.2.826.0.1.3680043.10.1000.60", 1);
            var client = new DicomClient("127.0.0.1", port, "HOUNSFIELD", "STORESCP")
            {
                Tls = new DicomTlsClientOptions { TargetHost = "localhost", TrustedCertificateAuthorities = pki.CaCollection, ClientCertificate = pki.Client },
            };
            Assert.Equal(DicomStatus.Success, await client.EchoAsync());
            var results = await client.StoreAsync([new DicomFile(dataset, DicomTransferSyntax.ExplicitVRLittleEndian)]);
            Assert.True(results.Single().Succeeded, results.Single() + storescp.Output);
            var received = DicomFile.Open(Directory.GetFiles(folder).Single());
            DatasetAssert.Equal(dataset, received.Dataset, DatasetComparison.AsReencoded);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private Task<TestServer> StartTlsServerAsync(ICStoreProvider? store = null, TimeSpan? handshakeTimeout = null, bool requireClientCertificate = false, ICGetProvider? get = null) =>
        TestServer.StartAsync(o => new DicomServerOptions
        {
            Port = o.Port, BindAddress = o.BindAddress, AETitle = o.AETitle, Log = o.Log, Association = o.Association, Store = store, Get = get,
            Tls = new DicomTlsServerOptions
            {
                Certificate = pki.Server,
                HandshakeTimeout = handshakeTimeout ?? TimeSpan.FromSeconds(10),
                RequireClientCertificate = requireClientCertificate,
                TrustedClientCertificateAuthorities = pki.CaCollection,
            },
        });

    private DicomClient TlsClient(TestServer server) =>
        new("127.0.0.1", server.Port, "TESTSCU", server.AETitle)
        {
            Tls = new DicomTlsClientOptions { TargetHost = "localhost", TrustedCertificateAuthorities = pki.CaCollection },
        };
}
