using Hounsfield.Dicom;
using Hounsfield.Testing;

namespace Hounsfield.Network.Tests;

/// <summary>Our SCU sends to DCMTK storescp; the files storescp writes must hold the data sets we sent.</summary>
public sealed class StoreScuTests
{
    /// <summary>Transfer syntaxes DCMTK 3.6.7 knows (storescp +xa accepts them); the newer HTJ2K and deflated-frame ones it does not.</summary>
    private static readonly HashSet<string> KnownToDcmtk =
    [
        "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.5",
    ];

    /// <summary>Valid corpus files DCMTK 3.6.7 cannot take in as instances (its storescu says "missing SOP class (or instance)").</summary>
    private static readonly HashSet<string> UnreadableByDcmtk = ["rle_rtdose32_15frame", "priv_sq_undefined_length", "un_sequence", "charset_sq_own_charset"];

    [CorpusDcmtkFact]
    public async Task Our_scu_stores_the_corpus_to_storescp_on_one_association_in_the_stored_syntaxes()
    {
        var port = FreePorts.Next();
        var folder = TestEnvironment.CreateTempDirectory("storescu");
        try
        {
            await using var storescp = await Dcmtk.StartAsync("storescp", ["-v", "+xa", "+uf", "-aet", "STORESCP", "-od", folder, port.ToString()], port);
            var files = Corpus.Files.Where(f => f.Status != "malformed").ToList();
            var client = new DicomClient("127.0.0.1", port, "HOUNSFIELD", "STORESCP");
            IReadOnlyList<DicomStoreResult> results;
            try
            {
                results = await client.StoreAsync(files.Select(f => f.Path));
            }
            catch (DicomNetworkException ex)
            {
                throw new InvalidOperationException($"{ex.Message}\n{storescp.Output}", ex);
            }

            Assert.Equal(files.Count, results.Count);

            var byPath = results.ToDictionary(r => r.Source.Description);
            var sent = new List<(CorpusFile File, DicomFile Original)>();
            foreach (var file in files)
            {
                var result = byPath[file.Path];
                var original = DicomFile.Open(file.Path);
                var hasUids = !string.IsNullOrEmpty(original.Dataset.GetString(DicomTag.SOPClassUID)) && !string.IsNullOrEmpty(original.Dataset.GetString(DicomTag.SOPInstanceUID));
                if (!hasUids || !KnownToDcmtk.Contains(original.TransferSyntax.Uid))
                {
                    Assert.False(result.Succeeded, $"{file.Name} should not be storable here: {result}");
                    continue;
                }

                if (UnreadableByDcmtk.Contains(file.Name))
                {
                    // Sent, but storescp could not parse it: it answers with a failure status of its own.
                    Assert.True(result.Succeeded || result.Status.Code is >= 0xC000 and <= 0xCFFF, $"{file.Name}: {result.Status} {result.Error}");
                    if (!result.Succeeded)
                    {
                        continue;
                    }
                }

                Assert.True(result.Succeeded, $"{file.Name}: {result.Status} {result.Error}\n{storescp.Output}");
                sent.Add((file, original));
            }

            Assert.True(sent.Count >= 60, $"only {sent.Count} files were sent");
            // storescp may choose another native syntax than the stored one (it prefers explicit VR); encapsulated ones stay as stored.
            // storescp also writes the instances it answered with a failure (it could not parse them): at least one file per success.
            var received = Directory.GetFiles(folder).Select(path => DicomFile.Open(path)).ToList();
            Assert.True(received.Count >= sent.Count, $"{received.Count} files for {sent.Count} instances sent");
            var byUid = received.GroupBy(r => r.Dataset.GetString(DicomTag.SOPInstanceUID) ?? string.Empty).ToDictionary(g => g.Key, g => g.ToList());
            foreach (var (file, original) in sent)
            {
                Assert.True(byUid.TryGetValue(original.Dataset.GetString(DicomTag.SOPInstanceUID)!, out var candidates), $"{file.Name}: not received");
                var differences = candidates!
                    .Select(c => (c.TransferSyntax.Equals(original.TransferSyntax) || (c.TransferSyntax.IsNative && original.TransferSyntax.IsNative) ? new List<string>() : [$"received in {c.TransferSyntax.Name}"])
                        .Concat(DatasetAssert.Differences(original.Dataset, c.Dataset, DatasetComparison.AsReencoded)).ToList())
                    .OrderBy(d => d.Count)
                    .First();
                Assert.True(differences.Count == 0, $"{file.Name}:\n{string.Join('\n', differences.Take(8))}");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [DcmtkFact]
    public async Task A_native_instance_is_converted_when_the_peer_accepts_only_implicit_little_endian()
    {
        var port = FreePorts.Next();
        var folder = TestEnvironment.CreateTempDirectory("storescu-ivr");
        try
        {
            // storescp -xi accepts implicit VR little endian only: an explicit VR instance must be re-encoded to it.
            await using var storescp = await Dcmtk.StartAsync("storescp", ["+xi", "-aet", "STORESCP", "-od", folder, port.ToString()], port);
            var dataset = SampleInstances.Create("1.2.826.0.1.3680043.10.1000.1", "PATIENT^ONE", "STUDY1", 1);
            var file = new DicomFile(dataset, DicomTransferSyntax.ExplicitVRLittleEndian);
            var client = new DicomClient("127.0.0.1", port, "HOUNSFIELD", "STORESCP");
            var results = await client.StoreAsync([file]);
            Assert.True(results.Single().Succeeded, results.Single().ToString());
            var received = DicomFile.Open(Directory.GetFiles(folder).Single());
            Assert.Equal(DicomTransferSyntax.ImplicitVRLittleEndian, received.TransferSyntax);
            DatasetAssert.Equal(dataset, received.Dataset, DatasetComparison.AsReencoded);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
