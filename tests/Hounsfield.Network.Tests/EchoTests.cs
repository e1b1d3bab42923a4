using Hounsfield.Testing;

namespace Hounsfield.Network.Tests;

public sealed class EchoTests
{
    [DcmtkFact]
    public async Task Echoscu_is_answered_by_our_scp()
    {
        await using var server = await TestServer.StartAsync();
        var (exit, output) = await Dcmtk.RunAsync("echoscu", ["-aet", "ECHOSCU", "-aec", server.AETitle, "127.0.0.1", server.Port.ToString()]);
        Assert.True(exit == 0, output + server.Dump());
    }

    [Fact]
    public async Task Our_scu_echoes_our_scp()
    {
        await using var server = await TestServer.StartAsync();
        var status = await server.Client().EchoAsync();
        Assert.Equal(DicomStatus.Success, status);
    }

    [DcmtkFact]
    public async Task Our_scu_echoes_dcmtk_storescp()
    {
        var port = FreePorts.Next();
        var folder = TestEnvironment.CreateTempDirectory("echo");
        try
        {
            await using var storescp = await Dcmtk.StartAsync("storescp", ["-aet", "STORESCP", "-od", folder, port.ToString()], port);
            var client = new DicomClient("127.0.0.1", port, "HOUNSFIELD", "STORESCP");
            Assert.Equal(DicomStatus.Success, await client.EchoAsync());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task An_unknown_calling_ae_is_rejected_when_the_server_is_closed()
    {
        await using var server = await TestServer.StartAsync(o => new DicomServerOptions
        {
            Port = o.Port, BindAddress = o.BindAddress, AETitle = o.AETitle, Log = o.Log, Association = o.Association,
            AcceptedCallingAETitles = ["KNOWN"],
        });
        var rejected = await Assert.ThrowsAsync<DicomAssociationRejectedException>(() => server.Client("STRANGER").EchoAsync());
        Assert.Equal(Pdu.DicomRejectSource.ServiceUser, rejected.Reject.Source);
        Assert.Equal(Pdu.DicomRejectReason.CallingAENotRecognized, rejected.Reject.Reason);
        Assert.Equal(DicomStatus.Success, await server.Client("KNOWN").EchoAsync());
    }
}
