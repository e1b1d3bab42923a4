using System.Collections.Concurrent;
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Hounsfield.Network.Dimse;
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network.Tests;

/// <summary>The asynchronous operations window (PS3.7 D.3.3.3) between our SCU and our SCP: C-STOREs overlap up to the negotiated window, never beyond it.</summary>
public sealed class AsyncOperationsTests
{
    private const int Instances = 24;

    [Theory]
    [InlineData(8, 4, 4)]
    [InlineData(1, 4, 1)]
    [InlineData(8, 1, 1)]
    public async Task Stores_overlap_up_to_the_negotiated_window_and_the_results_keep_the_order_sent(int scuWindow, int scpWindow, int negotiated)
    {
        var provider = new OverlapProbeProvider(failing: Uid(5));
        await using var server = await TestServer.StartAsync(o => o.With(store: provider, association: o.Association with { MaxAsyncOperations = scpWindow }));
        var client = server.Client(options: new Network.Association.DicomAssociationOptions
        {
            ArtimTimeout = TimeSpan.FromSeconds(10),
            DimseTimeout = TimeSpan.FromSeconds(30),
            MaxAsyncOperations = scuWindow,
        });
        var files = Enumerable.Range(0, Instances)
            .Select(i => new DicomFile(SampleInstances.Create(Uid(i), "Window^Test", "1.2.826.0.1.3680043.10.1000.77", 1), DicomTransferSyntax.ExplicitVRLittleEndian))
            .ToList();

        var results = await client.StoreAsync(files);

        Assert.Equal(Enumerable.Range(0, Instances).Select(Uid), results.Select(r => r.SopInstanceUid));
        for (var i = 0; i < Instances; i++)
        {
            Assert.Equal(i == 5 ? DicomStatus.OutOfResources.Code : DicomStatus.Success.Code, results[i].Status.Code);
        }

        Assert.Equal(Enumerable.Range(0, Instances).Where(i => i != 5).Select(Uid).Order(), provider.Stored.Order());
        Assert.Equal(negotiated, Assert.Single(provider.Windows.Keys));
        Assert.True(provider.MaxConcurrent <= negotiated, $"{provider.MaxConcurrent} stores ran at once in a window of {negotiated}");
        if (negotiated > 1)
        {
            Assert.True(provider.MaxConcurrent > 1, $"the stores did not overlap in a window of {negotiated}\n{server.Dump()}");
        }
    }

    [Fact]
    public async Task A_get_sends_its_sub_operations_within_the_window_and_the_requestor_performs_them_overlapped()
    {
        var folder = Directory.CreateTempSubdirectory("hounsfield-get-window-").FullName;
        try
        {
            const string study = "1.2.826.0.1.3680043.10.1000.79";
            var paths = Enumerable.Range(0, Instances).Select(i =>
            {
                var path = Path.Combine(folder, $"{i}.dcm");
                new DicomFile(SampleInstances.Create(Uid(i), "Get^Window", study, 1), DicomTransferSyntax.ExplicitVRLittleEndian).Save(path);
                return path;
            }).ToList();
            await using var server = await TestServer.StartAsync(o => o.With(
                get: new FileRetrieveProvider(paths, new Dictionary<string, DicomRemoteNode>()), association: o.Association with { MaxAsyncOperations = 4 }));
            var received = new OverlapProbeProvider(failing: Uid(5));
            var query = new DicomDataset();
            query.AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, study);

            var result = await server.Client(options: new Network.Association.DicomAssociationOptions
            {
                ArtimTimeout = TimeSpan.FromSeconds(10),
                DimseTimeout = TimeSpan.FromSeconds(30),
                MaxAsyncOperations = 8,
            }).GetAsync(DicomQueryRetrieveLevel.Study, query, received);

            Assert.Equal((Instances - 1, 1), (result.Completed, result.Failed));
            Assert.Equal([Uid(5)], result.FailedSopInstanceUids);
            Assert.Equal(Enumerable.Range(0, Instances).Where(i => i != 5).Select(Uid).Order(), received.Stored.Order());
            Assert.Equal(4, Assert.Single(received.Windows.Keys));
            Assert.True(received.MaxConcurrent is > 1 and <= 4, $"{received.MaxConcurrent} sub-operations ran at once in a window of 4\n{server.Dump()}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_peer_that_sends_past_its_window_is_performed_within_it_and_every_request_is_answered()
    {
        // The peer negotiates 2, then sends 6 C-STOREs without waiting for any response: the server reads no further than
        // the window lets it perform, and answers all six.
        var provider = new OverlapProbeProvider(failing: "none");
        await using var server = await TestServer.StartAsync(o => o.With(store: provider));
        await using var peer = await RawPeer.ConnectAsync(server.Port);
        await peer.AssociateAsync(server.AETitle, DicomUids.SecondaryCaptureImageStorage, DicomUids.ExplicitVRLittleEndian, asyncWindow: (2, 1));
        for (var i = 0; i < 6; i++)
        {
            var command = DimseCommand.CreateRequest(DicomCommandField.CStoreRequest, DicomUids.SecondaryCaptureImageStorage, (ushort)(i + 1), hasDataSet: true, DicomPriority.Medium);
            command.AddOrUpdate(DicomTag.AffectedSOPInstanceUID, DicomVR.UI, Uid(i));
            using var dataSet = new MemoryStream();
            DicomWriter.WriteDataSet(dataSet, SampleInstances.Create(Uid(i), "Past^Window", "1.2.826.0.1.3680043.10.1000.80", 1), DicomTransferSyntax.ExplicitVRLittleEndian);
            await peer.SendAsync(RawPeer.PData(1, command: true, last: true, RawPeer.Command(command)));
            await peer.SendAsync(RawPeer.PData(1, command: false, last: true, dataSet.ToArray()));
        }

        var answered = new HashSet<ushort>();
        while (answered.Count < 6)
        {
            var pdu = await peer.ReadPduAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(DicomPduType.PData, pdu?.Type);
            var response = DimseCommand.Decode(pdu!.Value.Body.AsMemory(6));
            Assert.Equal(DicomStatus.Success.Code, DimseCommand.GetStatus(response).Code);
            Assert.True(answered.Add(DimseCommand.GetMessageIdBeingRespondedTo(response)));
        }

        Assert.Equal(Enumerable.Range(1, 6).Select(i => (ushort)i), answered.Order());
        Assert.Equal(Enumerable.Range(0, 6).Select(Uid).Order(), provider.Stored.Order());
        Assert.Equal(2, Assert.Single(provider.Windows.Keys));
        Assert.True(provider.MaxConcurrent <= 2, $"{provider.MaxConcurrent} stores ran at once in a window of 2");
    }

    [Fact]
    public async Task A_source_that_fails_while_sent_aborts_its_association_and_the_rest_go_on_with_a_new_one()
    {
        var provider = new OverlapProbeProvider(failing: "none");
        await using var server = await TestServer.StartAsync(o => o.With(store: provider, association: o.Association with { MaxAsyncOperations = 8 }));
        var client = server.Client(options: new Network.Association.DicomAssociationOptions
        {
            ArtimTimeout = TimeSpan.FromSeconds(10),
            DimseTimeout = TimeSpan.FromSeconds(30),
            MaxAsyncOperations = 8,
        });
        const int broken = 6;
        var sources = Enumerable.Range(0, 12).Select(i =>
        {
            var file = new DicomFile(SampleInstances.Create(Uid(i), "Abort^Test", "1.2.826.0.1.3680043.10.1000.78", 1, size: 128), DicomTransferSyntax.ExplicitVRLittleEndian);
            if (i != broken)
            {
                return DicomInstanceSource.FromDicomFile(file);
            }

            var bytes = file.ToBytes();
            return DicomInstanceSource.FromStream(_ => ValueTask.FromResult<Stream>(new FailingStream(bytes, bytes.Length / 2)), "broken",
                DicomUids.SecondaryCaptureImageStorage, Uid(i), DicomTransferSyntax.ExplicitVRLittleEndian);
        }).ToList();

        var results = await client.StoreAsync(sources);

        // The stores still awaiting responses when the association was aborted are reported without a success they may
        // or may not have had; everything reported stored is stored; the broken one is not; the rest went on a new association.
        Assert.Equal(Enumerable.Range(0, 12).Select(Uid), results.Select(r => r.SopInstanceUid));
        Assert.False(results[broken].Succeeded);
        Assert.All(results.Take(broken), r => Assert.True(r.Succeeded || r.Error!.Contains("No response before the association was aborted", StringComparison.Ordinal), r.Error));
        Assert.All(results.Skip(broken + 1), r => Assert.True(r.Succeeded, r.Error));
        Assert.Subset(provider.Stored.ToHashSet(), results.Where(r => r.Succeeded).Select(r => r.SopInstanceUid!).ToHashSet());
        Assert.DoesNotContain(Uid(broken), provider.Stored);
    }

    private static string Uid(int i) => $"1.2.826.0.1.3680043.10.1000.77.1.{i + 1}";

    /// <summary>Serves <paramref name="bytes"/> up to <paramref name="failAt"/>, then fails as a disk read would.</summary>
    private sealed class FailingStream(byte[] bytes, int failAt) : Stream
    {
        private int position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => bytes.Length;

        public override long Position { get => position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (position >= failAt)
            {
                throw new IOException("The disk went away");
            }

            var n = Math.Min(count, failAt - position);
            Array.Copy(bytes, position, buffer, offset, n);
            position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Receives each data set whole, then holds its "commit" for a while, counting how many commits overlap.</summary>
    private sealed class OverlapProbeProvider(string failing) : ICStoreProvider
    {
        private int concurrent;

        public int MaxConcurrent;

        public ConcurrentBag<string> Stored { get; } = [];

        public ConcurrentDictionary<int, bool> Windows { get; } = new();

        public async ValueTask<DicomStatus> StoreAsync(DicomStoreRequest request, CancellationToken cancellationToken)
        {
            using var received = new MemoryStream();
            await request.WritePart10Async(received, cancellationToken);
            Assert.Equal(request.SopInstanceUid, DicomFile.Read(received.ToArray()).Dataset.GetString(DicomTag.SOPInstanceUID));
            Windows.TryAdd(request.Association.PeerOperationsWindow, true);

            var now = Interlocked.Increment(ref concurrent);
            int seen;
            while ((seen = Volatile.Read(ref MaxConcurrent)) < now && Interlocked.CompareExchange(ref MaxConcurrent, now, seen) != seen)
            {
            }

            try
            {
                await Task.Delay(40, CancellationToken.None);
            }
            finally
            {
                Interlocked.Decrement(ref concurrent);
            }

            if (request.SopInstanceUid == failing)
            {
                return DicomStatus.OutOfResources;
            }

            Stored.Add(request.SopInstanceUid);
            return DicomStatus.Success;
        }
    }
}
