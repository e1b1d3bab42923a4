using Hounsfield.Dicom;
using Hounsfield.Testing;

namespace Hounsfield.Network.Tests;

/// <summary>C-FIND, C-MOVE and C-GET against our SCP, from DCMTK's findscu, movescu and getscu and from our own SCU.</summary>
public sealed class QueryRetrieveTests : IDisposable
{
    private readonly string folder = TestEnvironment.CreateTempDirectory("qr");

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static List<DicomDataset> Studies() =>
    [
        Study("DOE^JOHN", "PID1", "1.2.826.0.1.3680043.10.1001.1", "20240101", "CT"),
        Study("DOE^JANE", "PID2", "1.2.826.0.1.3680043.10.1001.2", "20240202", "MR"),
        Study("ROE^RICHARD", "PID3", "1.2.826.0.1.3680043.10.1001.3", "20240303", "CT"),
    ];

    private static DicomDataset Study(string name, string id, string uid, string date, string modality)
    {
        var dataset = new DicomDataset();
        dataset.AddOrUpdate(DicomTag.PatientName, DicomVR.PN, name);
        dataset.AddOrUpdate(DicomTag.PatientID, DicomVR.LO, id);
        dataset.AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, uid);
        dataset.AddOrUpdate(DicomTag.StudyDate, DicomVR.DA, date);
        dataset.AddOrUpdate(DicomTag.ModalitiesInStudy, DicomVR.CS, modality);
        return dataset;
    }

    [DcmtkFact]
    public async Task Findscu_gets_the_matches_of_our_find_provider()
    {
        await using var server = await TestServer.StartAsync(o => o.With(find: new ListFindProvider(Studies())));
        var (exit, output) = await Dcmtk.RunAsync("findscu", [
            "-S", "-X", "-od", folder, "-aet", "FINDSCU", "-aec", server.AETitle,
            "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientName=DOE*", "-k", "StudyInstanceUID", "-k", "StudyDate", "-k", "PatientID",
            "127.0.0.1", server.Port.ToString()]);
        Assert.True(exit == 0, output + server.Dump());

        var responses = Directory.GetFiles(folder, "rsp*.dcm").Order().Select(path => DicomFile.Open(path).Dataset).ToList();
        Assert.Equal(2, responses.Count);
        Assert.Equal(["DOE^JOHN", "DOE^JANE"], responses.Select(r => r.GetString(DicomTag.PatientName)));
        Assert.Equal(["1.2.826.0.1.3680043.10.1001.1", "1.2.826.0.1.3680043.10.1001.2"], responses.Select(r => r.GetString(DicomTag.StudyInstanceUID)));
        Assert.Equal(["20240101", "20240202"], responses.Select(r => r.GetString(DicomTag.StudyDate)));
        Assert.All(responses, r => Assert.Equal("STUDY", r.GetString(DicomTag.QueryRetrieveLevel)));
    }

    [DcmtkFact]
    public async Task Findscu_at_patient_level_with_the_patient_root_model()
    {
        await using var server = await TestServer.StartAsync(o => o.With(find: new ListFindProvider(Studies())));
        var (exit, output) = await Dcmtk.RunAsync("findscu", [
            "-P", "-X", "-od", folder, "-aec", server.AETitle,
            "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=PID3", "-k", "PatientName",
            "127.0.0.1", server.Port.ToString()]);
        Assert.True(exit == 0, output + server.Dump());
        var response = DicomFile.Open(Directory.GetFiles(folder, "rsp*.dcm").Single()).Dataset;
        Assert.Equal("ROE^RICHARD", response.GetString(DicomTag.PatientName));
        Assert.Equal("PATIENT", response.GetString(DicomTag.QueryRetrieveLevel));
    }

    [Fact]
    public async Task Our_find_enumerates_matches_and_stopping_early_sends_a_cancel()
    {
        var provider = new ListFindProvider([.. Enumerable.Range(0, 50).Select(i => Study($"P{i:D2}^X", $"ID{i}", $"1.2.3.{i}", "20240101", "CT"))])
        {
            DelayPerMatch = TimeSpan.FromMilliseconds(20),
        };
        await using var server = await TestServer.StartAsync(o => o.With(find: provider));
        var client = server.Client();
        var query = new DicomDataset();
        query.AddOrUpdate(DicomTag.PatientName, DicomVR.PN, "P0*");
        query.AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, string.Empty);
        var all = await client.FindAsync(DicomQueryRetrieveLevel.Study, query).ToListAsync();
        Assert.Equal(10, all.Count);
        Assert.Equal("1.2.3.9", all[^1].GetString(DicomTag.StudyInstanceUID));

        // Take 3 of 50 and stop: the SCU sends C-CANCEL, the SCP stops yielding and answers with Cancel.
        query.AddOrUpdate(DicomTag.PatientName, DicomVR.PN, "*");
        var before = provider.Yielded;
        var first = await client.FindAsync(DicomQueryRetrieveLevel.Study, query).Take(3).ToListAsync();
        Assert.Equal(3, first.Count);
        Assert.True(provider.Yielded - before < 50, $"the provider went on after the cancel: {provider.Yielded - before}");

        // The server still answers.
        Assert.Equal(DicomStatus.Success, await client.EchoAsync());
    }

    [Fact]
    public async Task Our_find_asks_for_query_options_and_both_sides_see_what_the_provider_agreed_to()
    {
        var supporting = new OptionsRecordingFindProvider { Combined = true, Fuzzy = false };
        await using var server = await TestServer.StartAsync(o => o.With(find: supporting));
        var options = new DicomFindOptions { CombinedDateTimeMatching = true, FuzzySemanticMatching = true };
        Assert.Single(await server.Client().FindAsync(DicomQueryRetrieveLevel.Study, new DicomDataset(), null, default, options).ToListAsync());
        Assert.Equal((true, false), (options.CombinedDateTimeMatchingAgreed, options.FuzzySemanticMatchingAgreed));
        Assert.Equal((true, false), (supporting.SawCombined, supporting.SawFuzzy));

        // Not asked: nothing agreed, whatever the provider supports.
        var plain = new DicomFindOptions();
        Assert.Single(await server.Client().FindAsync(DicomQueryRetrieveLevel.Study, new DicomDataset(), null, default, plain).ToListAsync());
        Assert.Equal((false, false), (plain.CombinedDateTimeMatchingAgreed, supporting.SawCombined));
    }

    private sealed class OptionsRecordingFindProvider : ICFindProvider
    {
        public bool Combined { get; init; }

        public bool Fuzzy { get; init; }

        public bool SawCombined { get; private set; }

        public bool SawFuzzy { get; private set; }

        public bool SupportsCombinedDateTimeMatching => Combined;

        public bool SupportsFuzzySemanticMatching => Fuzzy;

        public async IAsyncEnumerable<DicomDataset> FindAsync(DicomFindRequest request, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            (SawCombined, SawFuzzy) = (request.Association.CombinedDateTimeMatching(request.SopClassUid), request.Association.FuzzySemanticMatching(request.SopClassUid));
            await Task.Yield();
            yield return Study("A^B", "ID", "1.2.3.4", "20240101", "CT");
        }
    }

    [Fact]
    public async Task A_failing_find_provider_answers_with_a_failure_status()
    {
        await using var server = await TestServer.StartAsync(o => o.With(find: new ThrowingFindProvider()));
        var failure = await Assert.ThrowsAsync<DicomStatusException>(async () => await server.Client().FindAsync(DicomQueryRetrieveLevel.Study, new DicomDataset()).ToListAsync());
        Assert.Equal(DicomStatus.IdentifierDoesNotMatchSopClass, failure.Status);
        Assert.Contains("no such key", failure.Comment);
    }

    [DcmtkFact]
    public async Task Findscu_at_patient_level_with_the_study_root_model_is_refused_with_a900()
    {
        await using var server = await TestServer.StartAsync(o => o.With(find: new ListFindProvider(Studies())));
        var (_, output) = await Dcmtk.RunAsync("findscu", [
            "-d", "-S", "-aec", server.AETitle, "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=PID3", "-k", "PatientName",
            "127.0.0.1", server.Port.ToString()]);
        Assert.Contains("DIMSE Status                  : 0xa900", output);
        Assert.Contains("The Study Root model has no PATIENT level", output);
        Assert.DoesNotContain("ROE^RICHARD", output);
    }

    [Fact]
    public async Task A_level_the_information_model_lacks_is_refused_for_find_move_and_get()
    {
        var (paths, studyUid) = WriteInstances(2);
        var provider = new FileRetrieveProvider(paths, new Dictionary<string, DicomRemoteNode> { ["ANYWHERE"] = new("127.0.0.1", 1, "ANYWHERE") });
        await using var server = await TestServer.StartAsync(o => o.With(find: new ListFindProvider(Studies()), move: provider, get: provider));
        var query = new DicomDataset();
        query.AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, studyUid);

        var find = await Assert.ThrowsAsync<DicomStatusException>(async () =>
            await server.Client().FindAsync(DicomQueryRetrieveLevel.Patient, query, DicomUids.StudyRootQueryRetrieveInformationModelFind).ToListAsync());
        Assert.Equal((DicomStatus.IdentifierDoesNotMatchSopClass, "The Study Root model has no PATIENT level"), (find.Status, find.Comment));

        var move = await server.Client().MoveAsync("ANYWHERE", DicomQueryRetrieveLevel.Patient, query, DicomUids.StudyRootQueryRetrieveInformationModelMove);
        Assert.Equal(DicomStatus.IdentifierDoesNotMatchSopClass, move.Status);
        Assert.Equal(0, move.Completed);

        var received = Directory.CreateDirectory(Path.Combine(folder, "received")).FullName;
        var get = await server.Client().GetAsync(
            DicomQueryRetrieveLevel.Series, query, new FolderStoreProvider(received), DicomUids.PatientStudyOnlyQueryRetrieveInformationModelGet);
        Assert.Equal(DicomStatus.IdentifierDoesNotMatchSopClass, get.Status);
        Assert.Empty(Directory.GetFiles(received));

        // A level the model has still works: STUDY on Patient/Study Only gets both instances.
        var study = await server.Client().GetAsync(
            DicomQueryRetrieveLevel.Study, query, new FolderStoreProvider(received), DicomUids.PatientStudyOnlyQueryRetrieveInformationModelGet);
        Assert.Equal(DicomStatus.Success, study.Status);
        AssertSameInstances(paths, Directory.GetFiles(received));
    }

    [DcmtkFact]
    public async Task Movescu_moves_a_study_from_our_scp_to_dcmtk_storescp()
    {
        var (paths, studyUid) = WriteInstances(3);
        var port = FreePorts.Next();
        var received = Directory.CreateDirectory(Path.Combine(folder, "received")).FullName;
        await using var storescp = await Dcmtk.StartAsync("storescp", ["-aet", "STORESCP", "-od", received, port.ToString()], port);
        var provider = new FileRetrieveProvider(paths, new Dictionary<string, DicomRemoteNode> { ["STORESCP"] = new("127.0.0.1", port, "STORESCP") });
        await using var server = await TestServer.StartAsync(o => o.With(move: provider));

        var (exit, output) = await Dcmtk.RunAsync("movescu", [
            "-v", "-S", "-aet", "MOVESCU", "-aec", server.AETitle, "-aem", "STORESCP",
            "-k", "QueryRetrieveLevel=STUDY", "-k", $"StudyInstanceUID={studyUid}", "127.0.0.1", server.Port.ToString()]);
        Assert.True(exit == 0, output + server.Dump());
        AssertSameInstances(paths, Directory.GetFiles(received));

        // An unknown destination is refused with A801.
        var (_, unknown) = await Dcmtk.RunAsync("movescu", [
            "-v", "-S", "-aec", server.AETitle, "-aem", "NOWHERE", "-k", "QueryRetrieveLevel=STUDY", "-k", $"StudyInstanceUID={studyUid}",
            "127.0.0.1", server.Port.ToString()]);
        Assert.Contains("Refused: MoveDestinationUnknown", unknown);
    }

    [DcmtkFact]
    public async Task Our_move_makes_our_scp_send_to_dcmtk_storescp()
    {
        var (paths, studyUid) = WriteInstances(4);
        var port = FreePorts.Next();
        var received = Directory.CreateDirectory(Path.Combine(folder, "received")).FullName;
        await using var storescp = await Dcmtk.StartAsync("storescp", ["-aet", "STORESCP", "-od", received, port.ToString()], port);
        var provider = new FileRetrieveProvider(paths, new Dictionary<string, DicomRemoteNode> { ["STORESCP"] = new("127.0.0.1", port, "STORESCP") });
        await using var server = await TestServer.StartAsync(o => o.With(move: provider));

        var query = new DicomDataset();
        query.AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, studyUid);
        var progress = new List<DicomRetrieveResult>();
        var result = await server.Client().MoveAsync("STORESCP", DicomQueryRetrieveLevel.Study, query, progress: new SyncProgress<DicomRetrieveResult>(progress.Add));
        Assert.Equal(DicomStatus.Success, result.Status);
        Assert.Equal((4, 0, 0), (result.Completed, result.Failed, result.Warning));
        Assert.Equal([3, 2, 1], progress.Select(p => p.Remaining));
        AssertSameInstances(paths, Directory.GetFiles(received));
    }

    [DcmtkFact]
    public async Task Getscu_gets_a_study_from_our_scp()
    {
        var (paths, studyUid) = WriteInstances(3);
        var provider = new FileRetrieveProvider(paths, new Dictionary<string, DicomRemoteNode>());
        await using var server = await TestServer.StartAsync(o => o.With(get: provider));
        var received = Directory.CreateDirectory(Path.Combine(folder, "received")).FullName;
        var (exit, output) = await Dcmtk.RunAsync("getscu", [
            "-v", "-S", "-aet", "GETSCU", "-aec", server.AETitle, "-od", received,
            "-k", "QueryRetrieveLevel=STUDY", "-k", $"StudyInstanceUID={studyUid}", "127.0.0.1", server.Port.ToString()]);
        Assert.True(exit == 0, output + server.Dump());
        AssertSameInstances(paths, Directory.GetFiles(received));
    }

    [Fact]
    public async Task Our_get_receives_a_study_from_our_scp_on_the_same_association()
    {
        var (paths, studyUid) = WriteInstances(5);
        var provider = new FileRetrieveProvider(paths, new Dictionary<string, DicomRemoteNode>());
        await using var server = await TestServer.StartAsync(o => o.With(get: provider));
        var received = Directory.CreateDirectory(Path.Combine(folder, "received")).FullName;
        var store = new FolderStoreProvider(received);
        var query = new DicomDataset();
        query.AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, studyUid);
        var result = await server.Client().GetAsync(DicomQueryRetrieveLevel.Study, query, store);
        Assert.Equal(DicomStatus.Success, result.Status);
        Assert.Equal(5, result.Completed);
        AssertSameInstances(paths, Directory.GetFiles(received));
    }

    private (List<string> Paths, string StudyUid) WriteInstances(int count)
    {
        var studyUid = "1.2.826.0.1.3680043.10.2000." + Random.Shared.Next(1, 1_000_000);
        var paths = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var dataset = SampleInstances.Create($"{studyUid}.9.{i + 1}", "MOVE^ME", studyUid, 1, size: 32 + i);
            var path = Path.Combine(folder, $"source{i}.dcm");
            new DicomFile(dataset, i % 2 == 0 ? DicomTransferSyntax.ExplicitVRLittleEndian : DicomTransferSyntax.ImplicitVRLittleEndian).Save(path);
            paths.Add(path);
        }

        return (paths, studyUid);
    }

    private static void AssertSameInstances(IReadOnlyList<string> sent, IReadOnlyList<string> received)
    {
        Assert.Equal(sent.Count, received.Count);
        var byUid = received.Select(path => DicomFile.Open(path).Dataset).ToDictionary(d => d.GetString(DicomTag.SOPInstanceUID)!);
        foreach (var path in sent)
        {
            var original = DicomFile.Open(path).Dataset;
            DatasetAssert.Equal(original, byUid[original.GetString(DicomTag.SOPInstanceUID)!], DatasetComparison.AsReencoded, context: path);
        }
    }

    private sealed class ThrowingFindProvider : ICFindProvider
    {
        public IAsyncEnumerable<DicomDataset> FindAsync(DicomFindRequest request, CancellationToken cancellationToken) =>
            throw new DicomStatusException(DicomStatus.IdentifierDoesNotMatchSopClass, "no such key");
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
