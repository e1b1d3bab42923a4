using System.Text.RegularExpressions;
using Hounsfield.Dicom;
using Hounsfield.Network.Association;

namespace Hounsfield.Network.Tests;

/// <summary>DCMTK storescu sends to our SCP; what the provider wrote must re-read as the data set that was sent.</summary>
public sealed partial class StoreScpTests
{
    [CorpusDcmtkFact]
    public async Task Storescu_sends_every_readable_corpus_file_and_we_store_it_as_received()
    {
        var folder = TestEnvironment.CreateTempDirectory("storescp");
        try
        {
            var provider = new SequencedStoreProvider(folder);
            await using var server = await TestServer.StartAsync(o => o.With(store: provider));
            // storescu proposes one compressed syntax per run (-xy, -xs, ...) besides the uncompressed ones: one run per syntax.
            var files = Corpus.Files.Where(f => f.Status == "valid" && StorescuOption(f.TransferSyntaxUid) is not null).ToList();
            var expected = new List<CorpusFile>();
            var outputs = new System.Text.StringBuilder();
            foreach (var group in files.GroupBy(f => StorescuOption(f.TransferSyntaxUid)!))
            {
                var arguments = new List<string> { "-R", "-nh", "-aet", "STORESCU", "-aec", server.AETitle, "127.0.0.1", server.Port.ToString() };
                arguments.Insert(0, group.Key);

                arguments.AddRange(group.Select(f => f.Path));
                var (exit, output) = await Dcmtk.RunAsync("storescu", arguments, TimeSpan.FromMinutes(2));
                outputs.AppendLine(output);
                Assert.True(exit == 0, $"storescu {group.Key} exit {exit}\n{output}\n{server.Dump()}");
                Assert.DoesNotContain("Store Failed", output);

                // storescu itself skips what it cannot read as an instance (no SOP class/instance UID, e.g. a DICOMDIR).
                var ignored = IgnoredFile().Matches(output).Select(m => Path.GetFullPath(m.Groups[1].Value.Trim())).ToHashSet();
                expected.AddRange(group.Where(f => !ignored.Contains(Path.GetFullPath(f.Path))));
            }

            Assert.True(expected.Count >= files.Count - 8, $"storescu skipped {files.Count - expected.Count} of {files.Count} files:\n{outputs}");
            var log = outputs.ToString();
            var received = provider.Received.ToList();
            Assert.True(expected.Count == received.Count, $"{expected.Count} expected, {received.Count} received\n{log}\n{server.Dump()}");
            var byUid = received.GroupBy(r => r.SopInstanceUid).ToDictionary(g => g.Key, g => g.ToList());
            foreach (var file in expected)
            {
                var original = DicomFile.Open(file.Path);
                var uid = original.Dataset.GetString(DicomTag.SOPInstanceUID)!;
                Assert.True(byUid.TryGetValue(uid, out var candidates), $"{file.Name}: not received");

                // The corpus has files sharing a SOP instance UID: one of the instances received under it must match.
                var failures = new List<string>();
                foreach (var candidate in candidates!)
                {
                    var stored = DicomFile.Open(candidate.Path);
                    Assert.Equal(candidate.TransferSyntax, stored.TransferSyntax.Uid);
                    if (candidate.TransferSyntax != file.TransferSyntaxUid)
                    {
                        failures.Add($"{candidate.Path}: received in {candidate.TransferSyntax}, sent from {file.TransferSyntaxUid}");
                        continue;
                    }

                    var differences = DatasetAssert.Differences(original.Dataset, stored.Dataset, DatasetComparison.AsReencoded);
                    if (differences.Count == 0)
                    {
                        failures.Clear();
                        break;
                    }

                    failures.Add($"{candidate.Path} ({candidate.TransferSyntax}): {string.Join("; ", differences.Take(5))}");
                }

                Assert.True(failures.Count == 0, $"{file.Name} ({file.TransferSyntaxUid}):\n{string.Join('\n', failures)}");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_provider_s_work_after_a_response_runs_once_the_peer_has_it_and_before_the_next_request_is_read()
    {
        var provider = new AfterResponseProbe();
        await using var server = await TestServer.StartAsync(o => o.With(store: provider));
        // One operation at a time, as storescu: with an asynchronous operations window the next request may come first.
        var client = new DicomClient("127.0.0.1", server.Port, "STORESCU", server.AETitle, new DicomAssociationOptions { MaxAsyncOperations = 1 });
        var files = Enumerable.Range(1, 2).Select(i => new DicomFile(
            SampleInstances.Create($"1.2.826.0.1.3680043.10.1000.90.{i}", "After^Response", "1.2.826.0.1.3680043.10.1000.90", 1),
            DicomTransferSyntax.ExplicitVRLittleEndian));

        var results = await client.StoreAsync(files.Select(file => DicomInstanceSource.FromDicomFile(file)), result =>
        {
            provider.Note("answered");
            provider.Answered.Release();
            return ValueTask.CompletedTask;
        });

        Assert.All(results, result => Assert.True(result.Succeeded, result.ToString()));
        Assert.Equal(["stored", "answered", "after", "stored", "answered", "after"], provider.Events);
    }

    /// <summary>Its work after each response waits until the client has that response: it would wait in vain if run before.</summary>
    private sealed class AfterResponseProbe : ICStoreProvider
    {
        public SemaphoreSlim Answered { get; } = new(0);

        public List<string> Events { get; } = [];

        public void Note(string what)
        {
            lock (Events)
            {
                Events.Add(what);
            }
        }

        public async ValueTask<DicomStatus> StoreAsync(DicomStoreRequest request, CancellationToken cancellationToken)
        {
            await request.WritePart10Async(Stream.Null, cancellationToken);
            Note("stored");
            return DicomStatus.Success;
        }

        public async ValueTask AfterResponseAsync()
        {
            Assert.True(await Answered.WaitAsync(TimeSpan.FromSeconds(20)), "the response had not reached the client");
            await Task.Delay(50); // a next request read meanwhile would be noted before this one
            Note("after");
        }
    }

    /// <summary>The storescu option that proposes a file's transfer syntax first (so it is sent unconverted), or null when it has none.</summary>
    private static string? StorescuOption(string transferSyntaxUid) => transferSyntaxUid switch
    {
        "1.2.840.10008.1.2" => "-xi",
        "1.2.840.10008.1.2.1" => "-xe",
        "1.2.840.10008.1.2.2" => "-xb",
        "1.2.840.10008.1.2.1.99" => "-xd",
        "1.2.840.10008.1.2.4.50" => "-xy",
        "1.2.840.10008.1.2.4.51" => "-xx",
        "1.2.840.10008.1.2.4.70" => "-xs",
        "1.2.840.10008.1.2.4.80" => "-xt",
        "1.2.840.10008.1.2.4.81" => "-xu",
        "1.2.840.10008.1.2.4.90" => "-xv",
        "1.2.840.10008.1.2.4.91" => "-xw",
        "1.2.840.10008.1.2.5" => "-xr",
        _ => null,
    };

    [GeneratedRegex(@"in file: (.+?), ignoring file")]
    private static partial Regex IgnoredFile();

    /// <summary>Keeps every instance received, in arrival order, as a Part 10 file.</summary>
    private sealed class SequencedStoreProvider(string folder) : ICStoreProvider
    {
        private int sequence;

        public System.Collections.Concurrent.ConcurrentQueue<(string SopInstanceUid, string Path, string TransferSyntax)> Received { get; } = new();

        public async ValueTask<DicomStatus> StoreAsync(DicomStoreRequest request, CancellationToken cancellationToken)
        {
            var path = Path.Combine(folder, $"{Interlocked.Increment(ref sequence):D4}.dcm");
            await using (var file = File.Create(path))
            {
                await request.WritePart10Async(file, cancellationToken);
            }

            Received.Enqueue((request.SopInstanceUid, path, request.TransferSyntax.Uid));
            return DicomStatus.Success;
        }
    }
}
