using System.Globalization;
using System.Text.Json;
using Hounsfield.Dicom;
using Hounsfield.Testing;

namespace Hounsfield.Server.Tests;

/// <summary>`hounsfield serve` with a DICOM TLS listener (PS3.15 Annex B.1), driven by DCMTK's TLS tools and our CLI.</summary>
public sealed class DimseTlsTests
{
    [CorpusFact]
    public async Task Dcmtk_and_our_cli_store_over_tls_into_the_archive_and_the_plain_port_keeps_serving()
    {
        using var pki = TestCertificates.Create();
        var dicomPort = Port(FreePorts.Next());
        var tlsPort = Port(FreePorts.Next());
        var server = await ServerProcess.StartAsync(null, "--dicom-port", dicomPort, "--Dimse:Nodes:0:AETitle", "TESTSCU",
            "--Dimse:Tls:Port", tlsPort, "--Dimse:Tls:CertificatePath", pki.ServerCertificatePath, "--Dimse:Tls:KeyPath", pki.ServerKeyPath);
        try
        {
            var echo = DimseTests.Run("echoscu", "+tls", pki.ClientKeyPath, pki.ClientCertificatePath, "+cf", pki.CaPath, "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "localhost", tlsPort);
            Assert.True(echo.ExitCode == 0, echo.Output + string.Join('\n', server.Output));
            var anonymous = DimseTests.Run("echoscu", "+tla", "+cf", pki.CaPath, "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "localhost", tlsPort);
            Assert.True(anonymous.ExitCode == 0, anonymous.Output);

            // echoscu that does not know our CA refuses the server; a plain echoscu on the TLS port fails; neither hurts the server.
            Assert.NotEqual(0, DimseTests.Run("echoscu", "+tla", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "localhost", tlsPort).ExitCode);
            Assert.NotEqual(0, DimseTests.Run("echoscu", "-to", "5", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "localhost", tlsPort).ExitCode);
            Assert.Equal(0, DimseTests.Run("echoscu", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "127.0.0.1", dicomPort).ExitCode);

            var ct = Corpus.Get("evrle_ct_small");
            var store = DimseTests.Run("storescu", "+tla", "+cf", pki.CaPath, "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "localhost", tlsPort, ct.Path);
            Assert.True(store.ExitCode == 0, store.Output);
            await AssertArchivedAsync(server, ct.Path);

            // Our CLI: trusts the CA given by --ca, and not otherwise.
            var cliEcho = CliRunner.Run("echo", "localhost", tlsPort, "--tls", "--ca", pki.CaPath, "--aet", "TESTSCU", "--aec", "HOUNSFIELD");
            Assert.True(cliEcho.ExitCode == 0, cliEcho.Stdout + cliEcho.Stderr);
            var untrusted = CliRunner.Run("echo", "localhost", tlsPort, "--tls", "--aet", "TESTSCU", "--aec", "HOUNSFIELD", "--timeout", "10");
            Assert.Equal(1, untrusted.ExitCode);
            Assert.Contains("not trusted", untrusted.Stderr, StringComparison.Ordinal);

            var mr = Corpus.Get("ivrle_mr_small");
            var cliStore = CliRunner.Run("store", "localhost", tlsPort, mr.Path, "--tls", "--ca", pki.CaPath, "--aet", "TESTSCU", "--aec", "HOUNSFIELD");
            Assert.True(cliStore.ExitCode == 0, cliStore.Stdout + cliStore.Stderr);
            await AssertArchivedAsync(server, mr.Path);
        }
        finally
        {
            await server.DisposeAsync();
            server.Data.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_required_client_certificate_admits_only_clients_with_a_certificate_from_the_configured_ca()
    {
        using var pki = TestCertificates.Create();
        var tlsPort = Port(FreePorts.Next());
        var server = await ServerProcess.StartAsync(null, "--dicom-port", "0", "--dicom-open", "true",
            "--Dimse:Tls:Port", tlsPort, "--Dimse:Tls:CertificatePath", pki.ServerCertificatePath, "--Dimse:Tls:KeyPath", pki.ServerKeyPath,
            "--Dimse:Tls:RequireClientCertificate", "true", "--Dimse:Tls:ClientCaPath", pki.CaPath);
        try
        {
            Assert.NotEqual(0, DimseTests.Run("echoscu", "+tla", "+cf", pki.CaPath, "localhost", tlsPort).ExitCode);
            var echo = DimseTests.Run("echoscu", "+tls", pki.ClientKeyPath, pki.ClientCertificatePath, "+cf", pki.CaPath, "localhost", tlsPort);
            Assert.True(echo.ExitCode == 0, echo.Output);

            var cli = CliRunner.Run("echo", "localhost", tlsPort, "--tls", "--ca", pki.CaPath, "--cert", pki.ClientCertificatePath, "--key", pki.ClientKeyPath);
            Assert.True(cli.ExitCode == 0, cli.Stdout + cli.Stderr);
            Assert.NotEqual(0, CliRunner.Run("echo", "localhost", tlsPort, "--tls", "--ca", pki.CaPath).ExitCode);
        }
        finally
        {
            await server.DisposeAsync();
            server.Data.Delete(recursive: true);
        }
    }

    [Fact]
    public void Tls_settings_that_cannot_work_stop_serve_with_one_line()
    {
        using var pki = TestCertificates.Create();
        var data = Directory.CreateTempSubdirectory("hounsfield-bad-tls-");
        try
        {
            var missing = Path.Combine(pki.Directory, "missing.pem");
            AssertFails(["--Dimse:Tls:CertificatePath", missing], $"Dimse:Tls:CertificatePath: no such file '{missing}'");

            // A certificate without its private key (no KeyPath, none in the file).
            AssertFails(["--Dimse:Tls:CertificatePath", pki.ServerCertificatePath], "Dimse:Tls:CertificatePath: cannot load a certificate with its private key");

            // The key of another certificate.
            AssertFails(["--Dimse:Tls:CertificatePath", pki.ServerCertificatePath, "--Dimse:Tls:KeyPath", pki.ClientKeyPath], "Dimse:Tls:CertificatePath: cannot load a certificate with its private key");
            AssertFails(["--Dimse:Tls:CertificatePath", pki.ServerCertificatePath, "--Dimse:Tls:KeyPath", pki.ServerKeyPath, "--Dimse:Tls:ClientCaPath", missing], "Dimse:Tls:ClientCaPath: no such file");

            // The trust for TLS nodes is checked even without a listener, and a file without a PEM certificate is refused.
            AssertFails(["--Dimse:Tls:PeerCaPath", missing], $"Dimse:Tls:PeerCaPath: no such file '{missing}'");
            AssertFails(["--Dimse:Tls:PeerCaPath", pki.ServerKeyPath], $"Dimse:Tls:PeerCaPath: '{pki.ServerKeyPath}' holds no PEM certificate");
        }
        finally
        {
            data.Delete(recursive: true);
        }

        void AssertFails(string[] settings, string message)
        {
            var (exitCode, _, stderr) = CliRunner.Run(["serve", "--urls", "http://127.0.0.1:0", "--data", data.FullName, "--dicom-port", "0", .. settings]);
            Assert.Equal(1, exitCode);
            Assert.Contains(message, stderr, StringComparison.Ordinal);
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The instance of <paramref name="path"/> is found by QIDO, with its SOP Instance UID.</summary>
    private static async Task AssertArchivedAsync(ServerProcess server, string path)
    {
        var uid = DicomFile.Open(path).Dataset.GetString(DicomTag.SOPInstanceUID)!;
        var json = await server.Client.GetStringAsync($"/dicomweb/instances?SOPInstanceUID={uid}");
        var match = Assert.Single(JsonDocument.Parse(json).RootElement.EnumerateArray());
        Assert.Equal(uid, match.GetProperty("00080018").GetProperty("Value")[0].GetString());
    }
}
