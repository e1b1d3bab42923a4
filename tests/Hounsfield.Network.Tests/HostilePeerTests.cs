using System.Text;
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Hounsfield.Network.Association;
using Hounsfield.Network.Dimse;
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network.Tests;

/// <summary>Peers that break the protocol: each association ends cleanly, nothing half-stored is kept, the server serves on.</summary>
public sealed class HostilePeerTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly string folder = TestEnvironment.CreateTempDirectory("hostile");

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private Task<TestServer> StartAsync(FolderStoreProvider store, TimeSpan? artim = null, TimeSpan? dimse = null) =>
        TestServer.StartAsync(o => new DicomServerOptions
        {
            Port = o.Port,
            BindAddress = o.BindAddress,
            AETitle = o.AETitle,
            Log = o.Log,
            Store = store,
            Association = new DicomAssociationOptions
            {
                ArtimTimeout = artim ?? TimeSpan.FromSeconds(10),
                DimseTimeout = dimse ?? TimeSpan.FromSeconds(10),
                IdleTimeout = TimeSpan.FromSeconds(10),
            },
        });

    [Fact]
    public void These_tests_complete_sockets_inline_as_the_server_does() =>
        Assert.Equal("1", Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"));

    [Fact]
    public async Task Garbage_bytes_get_an_abort_and_the_server_serves_on()
    {
        await using var server = await StartAsync(new FolderStoreProvider(folder));
        await using (var peer = await RawPeer.ConnectAsync(server.Port))
        {
            await peer.SendAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
            var answer = await peer.ReadPduAsync(Bound);
            Assert.Equal(DicomPduType.Abort, answer?.Type);
            Assert.Equal((byte)DicomAbortReason.UnrecognizedPdu, answer!.Value.Body[3]);
            Assert.True(await peer.ClosedWithinAsync(Bound));
        }

        await AssertServesAsync(server);
    }

    [Fact]
    public async Task An_associate_request_claiming_4_GiB_is_refused_before_any_buffer_is_sized_from_it()
    {
        await using var server = await StartAsync(new FolderStoreProvider(folder));
        await using (var peer = await RawPeer.ConnectAsync(server.Port))
        {
            await peer.SendAsync(new byte[] { 0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x01, 0x00, 0x00 });
            var answer = await peer.ReadPduAsync(Bound);
            Assert.Equal(DicomPduType.Abort, answer?.Type);
            Assert.Equal((byte)DicomAbortReason.InvalidPduParameterValue, answer!.Value.Body[3]);
            Assert.True(await peer.ClosedWithinAsync(Bound));
        }

        Assert.Contains(server.Log, line => line.Contains("MaxAssociatePduLength", StringComparison.Ordinal));
        await AssertServesAsync(server);
    }

    [Fact]
    public async Task An_oversized_p_data_length_aborts_the_association()
    {
        await using var server = await StartAsync(new FolderStoreProvider(folder));
        await using (var peer = await RawPeer.ConnectAsync(server.Port))
        {
            await peer.AssociateAsync(server.AETitle, DicomUids.Verification, DicomUids.ImplicitVRLittleEndian);
            await peer.SendAsync(new byte[] { 0x04, 0x00, 0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0 });
            var answer = await peer.ReadPduAsync(Bound);
            Assert.Equal(DicomPduType.Abort, answer?.Type);
            Assert.True(await peer.ClosedWithinAsync(Bound));
        }

        Assert.Contains(server.Log, line => line.Contains("MaxPduLength", StringComparison.Ordinal));
        await AssertServesAsync(server);
    }

    [Fact]
    public async Task A_connection_that_sends_nothing_is_closed_by_the_artim_timer()
    {
        await using var server = await StartAsync(new FolderStoreProvider(folder), artim: TimeSpan.FromSeconds(1));
        // Timed from before the connect: the timer starts at the accept, and with completions inline the connect's
        // continuation can run late, behind another test's association on the same socket thread.
        var started = DateTime.UtcNow;
        await using (var peer = await RawPeer.ConnectAsync(server.Port))
        {
            Assert.True(await peer.ClosedWithinAsync(Bound));
            Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(8));
        }

        Assert.Contains(server.Log, line => line.Contains("ArtimTimeout", StringComparison.Ordinal));
        await AssertServesAsync(server);
    }

    [Fact]
    public async Task An_abort_in_the_middle_of_a_store_leaves_no_instance()
    {
        var store = new FolderStoreProvider(folder);
        await using var server = await StartAsync(store);
        await using (var peer = await RawPeer.ConnectAsync(server.Port))
        {
            await peer.AssociateAsync(server.AETitle, DicomUids.SecondaryCaptureImageStorage, DicomUids.ExplicitVRLittleEndian);
            var dataSet = EncodedInstance("1.2.826.0.1.3680043.10.3000.1");
            await peer.SendAsync(RawPeer.PData(1, command: true, last: true, StoreCommand("1.2.826.0.1.3680043.10.3000.1")));
            await peer.SendAsync(RawPeer.PData(1, command: false, last: false, dataSet.AsSpan(0, dataSet.Length / 2)));
            await WaitUntilAsync(() => store.Started == 1);
            await peer.SendAsync(RawPeer.Abort());
            Assert.True(await peer.ClosedWithinAsync(Bound));
        }

        await AssertServesAsync(server);
        Assert.Empty(Directory.GetFiles(folder));
        Assert.Empty(store.Requests);
    }

    [Fact]
    public async Task A_peer_that_stalls_in_the_middle_of_a_data_set_is_aborted_by_the_dimse_timeout()
    {
        var store = new FolderStoreProvider(folder);
        await using var server = await StartAsync(store, dimse: TimeSpan.FromSeconds(1));
        await using (var peer = await RawPeer.ConnectAsync(server.Port))
        {
            await peer.AssociateAsync(server.AETitle, DicomUids.SecondaryCaptureImageStorage, DicomUids.ExplicitVRLittleEndian);
            var dataSet = EncodedInstance("1.2.826.0.1.3680043.10.3000.2");
            await peer.SendAsync(RawPeer.PData(1, command: true, last: true, StoreCommand("1.2.826.0.1.3680043.10.3000.2")));
            await peer.SendAsync(RawPeer.PData(1, command: false, last: false, dataSet.AsSpan(0, 100)));
            var answer = await peer.ReadPduAsync(Bound);
            Assert.Equal(DicomPduType.Abort, answer?.Type);
            Assert.True(await peer.ClosedWithinAsync(Bound));
        }

        Assert.Contains(server.Log, line => line.Contains("DimseTimeout", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFiles(folder));
        await AssertServesAsync(server);
    }

    [Fact]
    public async Task A_connection_dropped_in_the_middle_of_a_store_leaves_no_instance()
    {
        var store = new FolderStoreProvider(folder);
        await using var server = await StartAsync(store);
        await using (var peer = await RawPeer.ConnectAsync(server.Port))
        {
            await peer.AssociateAsync(server.AETitle, DicomUids.SecondaryCaptureImageStorage, DicomUids.ExplicitVRLittleEndian);
            var dataSet = EncodedInstance("1.2.826.0.1.3680043.10.3000.3");
            await peer.SendAsync(RawPeer.PData(1, command: true, last: true, StoreCommand("1.2.826.0.1.3680043.10.3000.3")));
            await peer.SendAsync(RawPeer.PData(1, command: false, last: false, dataSet.AsSpan(0, 200)));
            await WaitUntilAsync(() => store.Started == 1);
        }

        await WaitUntilAsync(() => server.Server.ActiveAssociations == 0);
        Assert.Empty(Directory.GetFiles(folder));
        await AssertServesAsync(server);
    }

    [Fact]
    public async Task A_data_set_on_a_context_that_was_not_accepted_aborts_the_association()
    {
        await using var server = await StartAsync(new FolderStoreProvider(folder));
        await using (var peer = await RawPeer.ConnectAsync(server.Port))
        {
            await peer.AssociateAsync(server.AETitle, DicomUids.Verification, DicomUids.ImplicitVRLittleEndian);
            await peer.SendAsync(RawPeer.PData(3, command: true, last: true, [1, 2, 3, 4]));
            var answer = await peer.ReadPduAsync(Bound);
            Assert.Equal(DicomPduType.Abort, answer?.Type);
        }

        await AssertServesAsync(server);
    }

    [Fact]
    public async Task Beyond_max_associations_a_request_is_rejected_as_transient()
    {
        await using var server = await TestServer.StartAsync(o => new DicomServerOptions
        {
            Port = o.Port, BindAddress = o.BindAddress, AETitle = o.AETitle, Log = o.Log, Association = o.Association, MaxAssociations = 1,
        });
        await using var holder = await RawPeer.ConnectAsync(server.Port);
        await holder.AssociateAsync(server.AETitle, DicomUids.Verification, DicomUids.ImplicitVRLittleEndian);
        var rejected = await Assert.ThrowsAsync<DicomAssociationRejectedException>(() => server.Client().EchoAsync());
        Assert.Equal(DicomRejectResult.Transient, rejected.Reject.Result);
        Assert.Equal(DicomRejectReason.LocalLimitExceeded, rejected.Reject.Reason);
    }

    [Fact]
    public async Task Twenty_concurrent_associations_store_every_instance_once()
    {
        var store = new FolderStoreProvider(folder);
        await using var server = await StartAsync(store);
        var clients = Enumerable.Range(0, 20).Select(async c =>
        {
            var files = Enumerable.Range(0, 5)
                .Select(i => new DicomFile(SampleInstances.Create($"1.2.826.0.1.3680043.10.4000.{c}.{i}", $"C{c}^P", $"1.2.826.0.1.3680043.10.4000.{c}", 1, 64)))
                .ToList();
            return await server.Client($"SCU{c}").StoreAsync(files);
        });
        var results = (await Task.WhenAll(clients)).SelectMany(r => r).ToList();
        Assert.Equal(100, results.Count);
        Assert.All(results, r => Assert.True(r.Succeeded, r.ToString()));
        Assert.Equal(100, Directory.GetFiles(folder, "*.dcm").Length);
        Assert.Equal(100, store.Requests.Select(r => r.SopInstanceUid).Distinct().Count());
    }

    private static byte[] StoreCommand(string sopInstanceUid)
    {
        var command = DimseCommand.CreateRequest(DicomCommandField.CStoreRequest, DicomUids.SecondaryCaptureImageStorage, 1, hasDataSet: true, DicomPriority.Medium);
        command.AddOrUpdate(DicomTag.AffectedSOPInstanceUID, DicomVR.UI, sopInstanceUid);
        return RawPeer.Command(command);
    }

    private static byte[] EncodedInstance(string sopInstanceUid)
    {
        using var memory = new MemoryStream();
        DicomWriter.WriteDataSet(memory, SampleInstances.Create(sopInstanceUid, "HOSTILE^PEER", "1.2.3", 1, 64), DicomTransferSyntax.ExplicitVRLittleEndian);
        return memory.ToArray();
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within the bound");
            await Task.Delay(20);
        }
    }

    /// <summary>A following echoscu (or our SCU without DCMTK) is answered.</summary>
    private static async Task AssertServesAsync(TestServer server)
    {
        if (TestEnvironment.HasDcmtk)
        {
            var (exit, output) = await Dcmtk.RunAsync("echoscu", ["-aec", server.AETitle, "127.0.0.1", server.Port.ToString()], TimeSpan.FromSeconds(30));
            Assert.True(exit == 0, output + server.Dump());
        }
        else
        {
            Assert.Equal(DicomStatus.Success, await server.Client().EchoAsync());
        }
    }
}
