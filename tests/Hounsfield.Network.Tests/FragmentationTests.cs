using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Hounsfield.Network.Association;

namespace Hounsfield.Network.Tests;

/// <summary>Messages split over many small PDUs, in every native transfer syntax, read by providers synchronously or not.</summary>
public sealed class FragmentationTests
{
    public static TheoryData<string> NativeSyntaxes => new()
    {
        DicomUids.ImplicitVRLittleEndian,
        DicomUids.ExplicitVRLittleEndian,
        DicomUids.ExplicitVRBigEndian,
        DicomUids.DeflatedExplicitVRLittleEndian,
    };

    [Theory]
    [MemberData(nameof(NativeSyntaxes))]
    public void A_raw_data_set_reads_back_in_the_syntax_it_was_written_in(string uid)
    {
        var syntax = DicomTransferSyntax.Lookup(uid);
        var dataset = SampleInstances.Create("1.2.3.4.5", "RAW^READ", "1.2.3", 1);
        using var memory = new MemoryStream();
        DicomWriter.WriteDataSet(memory, dataset, syntax);
        DatasetAssert.Equal(dataset, DicomReader.ReadDataSet(memory.ToArray(), syntax), DatasetComparison.AsReencoded);
        memory.Position = 0;
        DatasetAssert.Equal(dataset, DicomReader.ReadDataSet(memory, syntax), DatasetComparison.AsReencoded);
    }

    [Theory]
    [MemberData(nameof(NativeSyntaxes))]
    public async Task A_large_instance_crosses_many_small_pdus_and_a_synchronous_reader_gets_it_whole(string uid)
    {
        var syntax = DicomTransferSyntax.Lookup(uid);
        var provider = new ParsingStoreProvider();
        var small = new DicomAssociationOptions { MaxPduLength = 4096, MaxSendPduLength = 1024, DimseTimeout = TimeSpan.FromSeconds(30) };
        await using var server = await TestServer.StartAsync(o => new DicomServerOptions
        {
            Port = o.Port, BindAddress = o.BindAddress, AETitle = o.AETitle, Log = o.Log, Association = small, Store = provider,
        });

        // 300 x 300 pixels: about 90 KB, so about a hundred 1 KiB PDUs.
        var dataset = SampleInstances.Create("1.2.826.0.1.3680043.10.6000.1", "FRAGMENT^ED", "1.2.826.0.1.3680043.10.6000", 1, size: 300);
        var results = await server.Client(options: small).StoreAsync([new DicomFile(dataset, syntax)]);
        Assert.True(results.Single().Succeeded, results.Single() + server.Dump());
        var (receivedSyntax, received) = Assert.Single(provider.Received);
        Assert.Equal(syntax, receivedSyntax);
        DatasetAssert.Equal(dataset, received, DatasetComparison.AsReencoded);
    }

    /// <summary>Decodes each data set synchronously straight from the association stream.</summary>
    private sealed class ParsingStoreProvider : ICStoreProvider
    {
        public System.Collections.Concurrent.ConcurrentQueue<(DicomTransferSyntax, DicomDataset)> Received { get; } = new();

        public ValueTask<DicomStatus> StoreAsync(DicomStoreRequest request, CancellationToken cancellationToken)
        {
            Received.Enqueue((request.TransferSyntax, DicomReader.ReadDataSet(request.DataSet, request.TransferSyntax)));
            return ValueTask.FromResult(DicomStatus.Success);
        }
    }
}
