using Hounsfield.Dicom;
using Hounsfield.Testing;

namespace Hounsfield.Network.Tests;

/// <summary>Our SCU against DCMTK's query/retrieve SCP: store into it, then C-FIND, C-MOVE (to storescp) and C-GET.</summary>
public sealed class DcmqrscpTests : IDisposable
{
    private readonly string folder = TestEnvironment.CreateTempDirectory("dcmqrscp");

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [DcmtkFact]
    public async Task Our_scu_stores_finds_moves_and_gets_with_dcmqrscp()
    {
        var qrPort = FreePorts.Next();
        var storePort = FreePorts.Next();
        var moved = Directory.CreateDirectory(Path.Combine(folder, "moved")).FullName;
        var fetched = Directory.CreateDirectory(Path.Combine(folder, "fetched")).FullName;
        var config = await DcmqrscpConfiguration.WriteAsync(folder, qrPort, "QRSCP", ("storescp", "STORESCP", storePort));
        await using var qrscp = await Dcmtk.StartAsync("dcmqrscp", ["-c", config, qrPort.ToString()], qrPort);
        await using var storescp = await Dcmtk.StartAsync("storescp", ["-aet", "STORESCP", "-od", moved, storePort.ToString()], storePort);
        var client = new DicomClient("127.0.0.1", qrPort, "HOUNSFIELD", "QRSCP");

        const string study = "1.2.826.0.1.3680043.10.5000.1";
        var instances = Enumerable.Range(1, 3).Select(i => SampleInstances.Create($"{study}.1.{i}", "QR^PATIENT", study, 1, 24)).ToList();
        var other = SampleInstances.Create("1.2.826.0.1.3680043.10.5000.2.1.1", "OTHER^PATIENT", "1.2.826.0.1.3680043.10.5000.2", 1);
        var stored = await client.StoreAsync(instances.Append(other).Select(d => new DicomFile(d)));
        Assert.All(stored, r => Assert.True(r.Succeeded, r.ToString() + qrscp.Output));

        var query = new DicomDataset();
        query.AddOrUpdate(DicomTag.PatientName, DicomVR.PN, "QR*");
        query.AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, string.Empty);
        query.AddOrUpdate(DicomTag.PatientID, DicomVR.LO, string.Empty);
        var matches = await client.FindAsync(DicomQueryRetrieveLevel.Study, query).ToListAsync();
        var match = Assert.Single(matches);
        Assert.Equal(study, match.GetString(DicomTag.StudyInstanceUID));
        Assert.Equal("QR^PATIENT", match.GetString(DicomTag.PatientName));

        var retrieve = new DicomDataset();
        retrieve.AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, study);
        var move = await client.MoveAsync("STORESCP", DicomQueryRetrieveLevel.Study, retrieve);
        Assert.True(move.Status == DicomStatus.Success, $"{move}\n{qrscp.Output}");
        Assert.Equal(3, move.Completed);
        AssertReceived(instances, moved);

        var get = await client.GetAsync(DicomQueryRetrieveLevel.Study, retrieve, new FolderStoreProvider(fetched));
        Assert.True(get.Status == DicomStatus.Success, $"{get}\n{qrscp.Output}");
        Assert.Equal(3, get.Completed);
        AssertReceived(instances, fetched);
    }

    /// <summary>
    /// With +xs dcmqrscp accepts both storage contexts our C-GET proposes per SOP class (native, compressed) and answers
    /// one role selection item per context, repeating the SOP class; the association must still work, and dcmqrscp
    /// sends on the first (native) context.
    /// </summary>
    [DcmtkFact]
    public async Task Our_get_understands_one_role_selection_per_context_from_dcmqrscp()
    {
        var qrPort = FreePorts.Next();
        var fetched = Directory.CreateDirectory(Path.Combine(folder, "fetched")).FullName;
        var config = await DcmqrscpConfiguration.WriteAsync(folder, qrPort, "QRSCP", ("nobody", "NOBODY", 1));
        await using var qrscp = await Dcmtk.StartAsync("dcmqrscp", ["+xs", "-c", config, qrPort.ToString()], qrPort);
        var client = new DicomClient("127.0.0.1", qrPort, "HOUNSFIELD", "QRSCP");
        const string study = "1.2.826.0.1.3680043.10.5001.1";
        var instances = Enumerable.Range(1, 2).Select(i => SampleInstances.Create($"{study}.1.{i}", "ROLE^PATIENT", study, 1, 24)).ToList();
        Assert.All(await client.StoreAsync(instances.Select(d => new DicomFile(d))), r => Assert.True(r.Succeeded, r.ToString() + qrscp.Output));

        var retrieve = new DicomDataset();
        retrieve.AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, study);
        var get = await client.GetAsync(DicomQueryRetrieveLevel.Study, retrieve, new FolderStoreProvider(fetched));
        Assert.True(get.Status == DicomStatus.Success && get.Completed == 2, $"{get}\n{qrscp.Output}");
        AssertReceived(instances, fetched);
    }

    [Fact]
    public void A_get_proposes_per_sop_class_a_native_context_first_then_the_compressed_syntaxes_in_the_contexts_left()
    {
        var (contexts, roles) = DicomClient.GetProposals(DicomUids.StudyRootQueryRetrieveInformationModelGet, DicomSopClasses.CommonStorage,
            [DicomTransferSyntax.ExplicitVRLittleEndian, DicomTransferSyntax.ImplicitVRLittleEndian, DicomTransferSyntax.JpegLosslessSV1, DicomTransferSyntax.RleLossless]);
        Assert.Equal(1 + (2 * DicomSopClasses.CommonStorage.Count), contexts.Count);
        Assert.True(contexts.Count <= 128);
        Assert.Equal(DicomSopClasses.CommonStorage, roles.Select(r => r.SopClassUid));
        Assert.All(roles, r => Assert.True(!r.ScuRole && r.ScpRole));
        var ct = contexts.Where(c => c.AbstractSyntax == DicomUids.CTImageStorage).ToList();
        Assert.Equal([["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"], ["1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.5"]], ct.Select(c => c.TransferSyntaxes.ToArray()));
        Assert.Equal(contexts.Select((_, i) => (byte)((2 * i) + 1)), contexts.Select(c => c.Id));

        // One SOP class: room for a context per compressed syntax, so the peer can send each instance as stored.
        (contexts, _) = DicomClient.GetProposals(DicomUids.StudyRootQueryRetrieveInformationModelGet, [DicomUids.CTImageStorage],
            [DicomTransferSyntax.ExplicitVRLittleEndian, DicomTransferSyntax.JpegLosslessSV1, DicomTransferSyntax.RleLossless]);
        Assert.Equal([["1.2.840.10008.1.2.1"], ["1.2.840.10008.1.2.4.70"], ["1.2.840.10008.1.2.5"]], contexts.Skip(1).Select(c => c.TransferSyntaxes.ToArray()));
    }

    private static void AssertReceived(IReadOnlyList<DicomDataset> sent, string directory)
    {
        var received = Directory.GetFiles(directory).Select(path => DicomFile.Open(path).Dataset).ToDictionary(d => d.GetString(DicomTag.SOPInstanceUID)!);
        Assert.Equal(sent.Count, received.Count);
        foreach (var dataset in sent)
        {
            DatasetAssert.Equal(dataset, received[dataset.GetString(DicomTag.SOPInstanceUID)!], DatasetComparison.AsReencoded);
        }
    }
}
