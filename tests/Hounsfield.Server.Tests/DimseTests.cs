using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Hounsfield.Dicom;
using Hounsfield.Testing;

namespace Hounsfield.Server.Tests;

/// <summary>DCMTK's tools against the server's DIMSE SCP, which shares the archive with DICOMweb.</summary>
public sealed class DimseTests
{
    private static readonly string[] Files = ["evrle_ct_small", "ivrle_mr_small", "mono1_cr_chest", "charset_latin1_french", "overlay_mr"];

    [Fact]
    public void A_dicom_port_already_in_use_stops_serve_with_one_line_naming_the_port_and_the_setting()
    {
        using var occupant = new TcpListener(IPAddress.Any, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;
        var data = Directory.CreateTempSubdirectory("hounsfield-port-");
        try
        {
            var (exitCode, stdout, stderr) = CliRunner.Run("serve", "--urls", "http://127.0.0.1:0", "--data", data.FullName, "--dicom-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));

            Assert.Equal(1, exitCode);
            var error = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            Assert.Contains($"DICOM port {port} cannot be opened", error, StringComparison.Ordinal);
            Assert.Contains("Dimse:Port", error, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", stdout + stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Hosting failed to start", stdout, StringComparison.Ordinal);
            Assert.DoesNotContain(" at Hounsfield.", stdout, StringComparison.Ordinal);
        }
        finally
        {
            data.Delete(recursive: true);
        }
    }

    [CorpusFact]
    public async Task An_scu_with_an_asynchronous_operations_window_stores_the_corpus_and_every_study_counts_exactly_its_instances()
    {
        var dicomPort = FreePorts.Next();
        await using var server = await ServerProcess.StartAsync(null, "--dicom-port", $"{dicomPort}", "--Dimse:Nodes:0:AETitle", "TESTSCU", "--Dimse:MaxAsyncOperations", "8");
        var files = Corpus.Files.Where(f => !f.IsMalformed)
            .Select(f => (f.Path, Dataset: DicomFile.Open(f.Path).Dataset))
            .Where(f => f.Dataset.GetString(DicomTag.SOPInstanceUID) is { Length: > 0 } && f.Dataset.GetString(DicomTag.StudyInstanceUID) is { Length: > 0 })
            .DistinctBy(f => f.Dataset.GetString(DicomTag.SOPInstanceUID))
            .ToList();
        var client = new Hounsfield.Network.DicomClient("127.0.0.1", dicomPort, "TESTSCU", "HOUNSFIELD",
            Hounsfield.Network.Association.DicomAssociationOptions.Default with { MaxAsyncOperations = 16 });

        var results = await client.StoreAsync(files.Select(f => f.Path));

        // Results come back in the order sent, whatever order the overlapped commits finished in.
        Assert.Equal(files.Select(f => f.Dataset.GetString(DicomTag.SOPInstanceUID)), results.Select(r => r.SopInstanceUid));
        var stored = results.Where(r => r.Succeeded).Select(r => r.SopInstanceUid!).ToHashSet();
        Assert.True(stored.Count > 20, $"only {stored.Count} stored: {string.Join("; ", results.Where(r => !r.Succeeded).Take(5))}");
        var instances = JsonDocument.Parse(await server.Client.GetStringAsync("/dicomweb/instances?limit=1000")).RootElement.EnumerateArray()
            .Select(i => i.GetProperty("00080018").GetProperty("Value")[0].GetString()!).ToList();
        Assert.True(stored.SetEquals(instances) && instances.Count == stored.Count, $"stored {stored.Count}, indexed {instances.Count}");
        var expectedPerStudy = files.Where(f => stored.Contains(f.Dataset.GetString(DicomTag.SOPInstanceUID)!))
            .GroupBy(f => f.Dataset.GetString(DicomTag.StudyInstanceUID)!).ToDictionary(g => g.Key, g => g.Count());
        var studies = JsonDocument.Parse(await server.Client.GetStringAsync("/dicomweb/studies?limit=1000")).RootElement.EnumerateArray().ToList();
        Assert.Equal(expectedPerStudy.Count, studies.Count);
        foreach (var study in studies)
        {
            var uid = study.GetProperty("0020000D").GetProperty("Value")[0].GetString()!;
            Assert.Equal(expectedPerStudy[uid], int.Parse(study.GetProperty("00201208").GetProperty("Value")[0].ToString(), System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public async Task A_c_find_at_a_level_that_does_not_exist_fails_with_a900_and_a_comment()
    {
        var dicomPort = FreePorts.Next();
        await using var server = await ServerProcess.StartAsync(null, "--dicom-port", $"{dicomPort}", "--Dimse:Nodes:0:AETitle", "TESTSCU");
        var port = dicomPort.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var bad = Run("findscu", "-d", "-S", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "-k", "QueryRetrieveLevel=VOLUME", "-k", "PatientID", "127.0.0.1", port);
        var good = Run("findscu", "-v", "-S", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID", "127.0.0.1", port);

        // 0xA900 with the reason as the Error Comment (0000,0902).
        Assert.True(bad.Output.Contains("DIMSE Status                  : 0xa900", StringComparison.Ordinal), bad.Output);
        Assert.Contains("Unknown QueryRetrieveLevel 'VOLUME'", bad.Output);
        Assert.Contains("Received Final Find Response (Success)", good.Output);
    }

    [CorpusFact]
    public async Task Dcmtk_stores_finds_moves_and_gets_through_the_same_archive_as_dicomweb()
    {
        var dicomPort = FreePorts.Next();
        var storescpPort = FreePorts.Next();
        var received = Directory.CreateTempSubdirectory("hounsfield-storescp-");
        var got = Directory.CreateTempSubdirectory("hounsfield-getscu-");
        var found = Directory.CreateTempSubdirectory("hounsfield-findscu-");
        using var storescp = StartTool("storescp", "-aet", "STORESCP", "-od", received.FullName, storescpPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await using var server = await ServerProcess.StartAsync(null, "--dicom-port", $"{dicomPort}",
            "--Dimse:Nodes:0:AETitle", "TESTSCU", "--Dimse:Nodes:1:AETitle", "STORESCP", "--Dimse:Nodes:1:Port", $"{storescpPort}");
        try
        {
            var port = dicomPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(0, Run("echoscu", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "127.0.0.1", port).ExitCode);
            Assert.NotEqual(0, Run("echoscu", "-aet", "STRANGER", "-aec", "HOUNSFIELD", "127.0.0.1", port).ExitCode);

            var store = Run(["storescu", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "127.0.0.1", port, .. Files.Select(f => Corpus.Get(f).Path)]);
            Assert.True(store.ExitCode == 0, store.Output);

            // What C-STORE stored, DICOMweb finds.
            var studies = JsonDocument.Parse(await server.Client.GetStringAsync("/dicomweb/instances?limit=100")).RootElement;
            var expected = Files.Select(f => DicomFile.Open(Corpus.Get(f).Path).Dataset.GetString(DicomTag.SOPInstanceUID)).ToHashSet();
            Assert.True(expected.SetEquals(studies.EnumerateArray().Select(s => s.GetProperty("00080018").GetProperty("Value")[0].GetString())));

            var ct = DicomFile.Open(Corpus.Get("evrle_ct_small").Path).Dataset;
            var studyUid = ct.GetString(DicomTag.StudyInstanceUID)!;
            var patientId = ct.GetString(DicomTag.PatientID)!;
            var find = Run("findscu", "-S", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "-X", "-od", found.FullName,
                "-k", "QueryRetrieveLevel=STUDY", "-k", $"PatientID={patientId}", "-k", "StudyInstanceUID", "-k", "PatientName", "-k", "InstanceAvailability", "127.0.0.1", port);
            Assert.True(find.ExitCode == 0, find.Output);
            var responses = Directory.GetFiles(found.FullName).Select(f => DicomFile.Open(f).Dataset).ToList();
            Assert.Equal(studyUid, Assert.Single(responses).GetString(DicomTag.StudyInstanceUID));
            Assert.Equal(ct.GetString(DicomTag.PatientName), responses[0].GetString(DicomTag.PatientName));
            Assert.Equal("ONLINE", responses[0].GetString(DicomTag.InstanceAvailability));

            // A Timezone Offset From UTC in the query says which timezone its dates and times are in; it is not matched
            // against the study's (PS3.4 C.4.1.1.3.1), which comes back as stored.
            foreach (var file in Directory.GetFiles(found.FullName))
            {
                File.Delete(file);
            }

            Assert.NotEqual("+0100", ct.GetString(DicomTag.TimezoneOffsetFromUTC));
            var withTimezone = Run("findscu", "-S", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "-X", "-od", found.FullName,
                "-k", "QueryRetrieveLevel=STUDY", "-k", $"PatientID={patientId}", "-k", "TimezoneOffsetFromUTC=+0100", "-k", "StudyInstanceUID", "127.0.0.1", port);
            Assert.True(withTimezone.ExitCode == 0, withTimezone.Output);
            var inTimezone = DicomFile.Open(Assert.Single(Directory.GetFiles(found.FullName))).Dataset;
            Assert.Equal(studyUid, inTimezone.GetString(DicomTag.StudyInstanceUID));
            Assert.Equal(ct.GetString(DicomTag.TimezoneOffsetFromUTC), inTimezone.GetString(DicomTag.TimezoneOffsetFromUTC));

            // An SCU that asks in Latin-1 is answered in Latin-1 (PS3.4 C.4.1.1.3.2), one that declares nothing in the stored set.
            var french = DicomFile.Open(Corpus.Get("charset_latin1_french").Path).Dataset;
            foreach (var (declared, expectedCharacterSet, expectedNameBytes) in new[]
            {
                ("ISO_IR 100", "ISO_IR 100", ((DicomValueElement)french.Find(DicomTag.PatientName)!).Span.ToArray()),
                (null, "ISO_IR 192", System.Text.Encoding.UTF8.GetBytes(french.GetString(DicomTag.PatientName)!)),
            })
            {
                foreach (var file in Directory.GetFiles(found.FullName))
                {
                    File.Delete(file);
                }

                string[] keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", $"PatientID={french.GetString(DicomTag.PatientID)}", "-k", "PatientName", .. declared is null ? Array.Empty<string>() : ["-k", $"SpecificCharacterSet={declared}"]];
                var latin1 = Run(["findscu", "-S", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "-X", "-od", found.FullName, .. keys, "127.0.0.1", port]);
                Assert.True(latin1.ExitCode == 0, latin1.Output);
                var answer = DicomFile.Open(Assert.Single(Directory.GetFiles(found.FullName))).Dataset;
                Assert.Equal(expectedCharacterSet, answer.GetString(DicomTag.SpecificCharacterSet));
                Assert.Equal(french.GetString(DicomTag.PatientName), answer.GetString(DicomTag.PatientName));
                Assert.Equal(expectedNameBytes, ((DicomValueElement)answer.Find(DicomTag.PatientName)!).Span.ToArray().AsSpan().TrimEnd((byte)' ').ToArray());
            }

            // Fuzzy semantic matching of person names, when the SCU asks for it in extended negotiation (our CLI's --fuzzy;
            // DCMTK's findscu does not ask): case- and accent-insensitive, by component prefix, as QIDO-RS's fuzzymatching.
            // The CLI declares UTF-8 for a key beyond ASCII, so the exact accented name matches too.
            foreach (var (name, fuzzy, matches) in new[] { ("buc*", true, 1), ("jerome", true, 1), ("buc*", false, 0), ("Buc*", false, 1), (french.GetString(DicomTag.PatientName)!, false, 1) })
            {
                string[] fuzzyFlag = fuzzy ? ["--fuzzy"] : [];
                var byName = CliRunner.Run(["find", "127.0.0.1", port, "--aet", "TESTSCU", "--aec", "HOUNSFIELD", "--level", "study", .. fuzzyFlag,
                    "-k", $"PatientName={name}", "-k", "PatientID"]);
                Assert.True(byName.ExitCode == 0, byName.Stderr);
                var ids = JsonDocument.Parse(byName.Stdout).RootElement.EnumerateArray().Select(m => m.GetProperty("00100020").GetProperty("Value")[0].GetString()).ToList();
                Assert.True(ids.Count == matches && ids.All(id => id == french.GetString(DicomTag.PatientID)), $"{name} fuzzy={fuzzy}: {string.Join(", ", ids)}");
                Assert.DoesNotContain("did not agree", byName.Stderr, StringComparison.Ordinal);
            }

            // Combined date-time matching (our CLI's --combined-datetime, agreed by our SCP): from the day before the CT
            // study's, one second after its time, to the end of its day holds it; the time range alone does not.
            var (studyDate, studyTime) = (DateOnly.ParseExact(ct.GetString(DicomTag.StudyDate)!, "yyyyMMdd"), TimeOnly.ParseExact(ct.GetString(DicomTag.StudyTime)![..6], "HHmmss"));
            Assert.True(studyTime < new TimeOnly(23, 59, 59), "the CT study's time leaves no second after it");
            string[] combinedKeys = ["-k", $"PatientID={patientId}", "-k", $"StudyDate={studyDate.AddDays(-1):yyyyMMdd}-{studyDate:yyyyMMdd}", "-k", $"StudyTime={studyTime.Add(TimeSpan.FromSeconds(1)):HHmmss}-", "-k", "StudyInstanceUID"];
            foreach (var (combined, expectedStudies) in new[] { (true, new[] { studyUid }), (false, []) })
            {
                string[] flag = combined ? ["--combined-datetime"] : [];
                var byDateTime = CliRunner.Run(["find", "127.0.0.1", port, "--aet", "TESTSCU", "--aec", "HOUNSFIELD", "--level", "study", .. flag, .. combinedKeys]);
                Assert.True(byDateTime.ExitCode == 0, byDateTime.Stderr);
                Assert.Equal(expectedStudies, JsonDocument.Parse(byDateTime.Stdout).RootElement.EnumerateArray().Select(m => m.GetProperty("0020000D").GetProperty("Value")[0].GetString()));
                Assert.DoesNotContain("did not agree", byDateTime.Stderr, StringComparison.Ordinal);
            }

            // Keys the archive keeps no column for come back from the stored instance (the first of the series or study).
            foreach (var (level, keys) in new[] { ("IMAGE", new[] { DicomTag.Manufacturer, DicomTag.SliceThickness, DicomTag.PatientAge }), ("SERIES", new[] { DicomTag.Manufacturer, DicomTag.InstitutionName }) })
            {
                foreach (var file in Directory.GetFiles(found.FullName))
                {
                    File.Delete(file);
                }

                var sop = level == "IMAGE" ? new[] { "-k", $"SOPInstanceUID={ct.GetString(DicomTag.SOPInstanceUID)}" } : ["-k", $"SeriesInstanceUID={ct.GetString(DicomTag.SeriesInstanceUID)}"];
                var fromInstance = Run(["findscu", "-S", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "-X", "-od", found.FullName, "-k", $"QueryRetrieveLevel={level}",
                    "-k", $"StudyInstanceUID={studyUid}", "-k", $"SeriesInstanceUID={ct.GetString(DicomTag.SeriesInstanceUID)}", .. sop, .. keys.SelectMany(k => new[] { "-k", $"{k.Group:X4},{k.Element:X4}" }), "127.0.0.1", port]);
                Assert.True(fromInstance.ExitCode == 0, fromInstance.Output);
                var answer = DicomFile.Open(Assert.Single(Directory.GetFiles(found.FullName))).Dataset;
                Assert.All(keys, key => Assert.Equal(ct.GetString(key), answer.GetString(key)));
                Assert.All(keys, key => Assert.False(string.IsNullOrEmpty(ct.GetString(key)), $"{key}: nothing in the file to compare"));
            }

            // A value for a key the archive cannot match is not used, and each pending response says so: 0xFF01 (PS3.4 C.4.1.1.4).
            foreach (var (key, expectedStatus, otherStatus) in new[] { ("Manufacturer=NOT-MATCHED*", "0xff01", "0xff00"), ("Manufacturer", "0xff00", "0xff01") })
            {
                var warned = Run("findscu", "-S", "-d", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "-k", "QueryRetrieveLevel=IMAGE", "-k", $"StudyInstanceUID={studyUid}",
                    "-k", $"SeriesInstanceUID={ct.GetString(DicomTag.SeriesInstanceUID)}", "-k", $"SOPInstanceUID={ct.GetString(DicomTag.SOPInstanceUID)}", "-k", key, "127.0.0.1", port);
                Assert.True(warned.ExitCode == 0, warned.Output);
                Assert.Contains(expectedStatus, warned.Output, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain(otherStatus, warned.Output, StringComparison.OrdinalIgnoreCase);
            }

            var move = Run("movescu", "-S", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "-aem", "STORESCP",
                "-k", "QueryRetrieveLevel=STUDY", "-k", $"StudyInstanceUID={studyUid}", "127.0.0.1", port);
            Assert.True(move.ExitCode == 0, move.Output);
            var moved = Assert.Single(Directory.GetFiles(received.FullName));
            Assert.Equal(ct.GetString(DicomTag.SOPInstanceUID), DicomFile.Open(moved).Dataset.GetString(DicomTag.SOPInstanceUID));

            // Our own SCU, from the CLI, against our SCP.
            var echo = CliRunner.Run("echo", "127.0.0.1", port, "--aet", "TESTSCU", "--aec", "HOUNSFIELD");
            Assert.True(echo.ExitCode == 0, echo.Stderr);
            var resend = CliRunner.Run("store", "127.0.0.1", port, Corpus.Get("evrle_ct_small").Path, "--aet", "TESTSCU", "--aec", "HOUNSFIELD");
            Assert.NotEqual(0, resend.ExitCode); // a duplicate, refused by the default policy
            Assert.Contains("0111", resend.Stdout + resend.Stderr, StringComparison.OrdinalIgnoreCase);

            var get = Run("getscu", "-S", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "-od", got.FullName,
                "-k", "QueryRetrieveLevel=STUDY", "-k", $"StudyInstanceUID={studyUid}", "127.0.0.1", port);
            Assert.True(get.ExitCode == 0, get.Output);
            var fetched = DicomFile.Open(Assert.Single(Directory.GetFiles(got.FullName)));
            Assert.Equal(ct.GetValues<short>(DicomTag.PixelData), fetched.Dataset.GetValues<short>(DicomTag.PixelData));

            // The patient's and the study's computed keys (PS3.4 C.6.1.1.2 and C.6.2.1.2), against what the stored files hold:
            // with two parametric maps of the CT's study, its patient has one study, three series, three instances, two SOP classes.
            string[] maps = ["double_float_pixel_pmap", "float_pixel_pmap"];
            var storeMaps = Run(["storescu", "-R", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "127.0.0.1", port, .. maps.Select(f => Corpus.Get(f).Path)]);
            Assert.True(storeMaps.ExitCode == 0, storeMaps.Output);
            var stored = Files.Concat(maps).Select(f => DicomFile.Open(Corpus.Get(f).Path).Dataset).ToList();
            var ofPatient = stored.Where(d => d.GetString(DicomTag.PatientID) == patientId).ToList();
            foreach (var file in Directory.GetFiles(found.FullName))
            {
                File.Delete(file);
            }

            var counts = Run("findscu", "-P", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "-X", "-od", found.FullName, "-k", "QueryRetrieveLevel=PATIENT",
                "-k", $"PatientID={patientId}", "-k", "NumberOfPatientRelatedStudies", "-k", "NumberOfPatientRelatedSeries", "-k", "NumberOfPatientRelatedInstances=7",
                "127.0.0.1", port);
            Assert.True(counts.ExitCode == 0, counts.Output);
            var patient = DicomFile.Open(Assert.Single(Directory.GetFiles(found.FullName))).Dataset;
            Assert.Equal(
                [ofPatient.Select(d => d.GetString(DicomTag.StudyInstanceUID)).Distinct().Count(), ofPatient.Select(d => d.GetString(DicomTag.SeriesInstanceUID)).Distinct().Count(), ofPatient.Count],
                new[] { DicomTag.NumberOfPatientRelatedStudies, DicomTag.NumberOfPatientRelatedSeries, DicomTag.NumberOfPatientRelatedInstances }.Select(tag => int.Parse(patient.GetString(tag)!, System.Globalization.CultureInfo.InvariantCulture)));

            foreach (var file in Directory.GetFiles(found.FullName))
            {
                File.Delete(file);
            }

            var modality = ct.GetString(DicomTag.Modality)!;
            var byModality = Run("findscu", "-S", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "-X", "-od", found.FullName, "-k", "QueryRetrieveLevel=STUDY",
                "-k", $"ModalitiesInStudy={modality}", "-k", "StudyInstanceUID", "-k", "SOPClassesInStudy", "127.0.0.1", port);
            Assert.True(byModality.ExitCode == 0, byModality.Output);
            var studiesFound = Directory.GetFiles(found.FullName).Select(f => DicomFile.Open(f).Dataset).ToDictionary(d => d.GetString(DicomTag.StudyInstanceUID)!);
            Assert.Equal(stored.Where(d => d.GetString(DicomTag.Modality) == modality).Select(d => d.GetString(DicomTag.StudyInstanceUID)!).Distinct().Order(), studiesFound.Keys.Order());
            foreach (var (uid, study) in studiesFound)
            {
                Assert.Equal(stored.Where(d => d.GetString(DicomTag.StudyInstanceUID) == uid).Select(d => d.GetString(DicomTag.SOPClassUID)!).Distinct().Order(), study.GetStrings(DicomTag.SOPClassesInStudy).Order());
            }
        }
        finally
        {
            storescp.Kill(entireProcessTree: true);
            foreach (var directory in new[] { received, got, found, server.Data })
            {
                directory.Delete(recursive: true);
            }
        }
    }

    [Fact]
    public async Task A_page_that_reads_its_budget_of_stored_metadata_ends_early_and_the_next_one_goes_on()
    {
        var dicomPort = FreePorts.Next();
        await using var server = await ServerProcess.StartAsync(null, "--dicom-port", $"{dicomPort}", "--Dimse:Nodes:0:AETitle", "TESTSCU",
            "--Archive:MaxStoredValueBytesPerQuery", "1");
        try
        {
            var (study, series) = (DicomUidGenerator.FromUuid(), DicomUidGenerator.FromUuid());
            var sops = Enumerable.Range(1, 3).Select(_ => DicomUidGenerator.FromUuid()).ToList();
            using var store = await server.Client.PostAsync("/dicomweb/studies", DicomWebClient.Multipart([.. sops.Select(sop =>
                SecondaryCapture.Bytes(study, series, sop, d => d.AddOrUpdate(DicomTag.Manufacturer, DicomVR.LO, "MAKER-" + sop[^4..])))]));
            Assert.Equal(HttpStatusCode.OK, store.StatusCode);

            // QIDO: one result per page (each reads more than one byte of stored metadata), a Warning, and the next page.
            var found = new List<string>();
            for (var offset = 0; offset < 10; offset++)
            {
                using var page = await server.Client.GetAsync($"/dicomweb/studies/{study}/instances?includefield=Manufacturer&offset={offset}");
                var results = (await page.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().ToList();
                Assert.True(results.Count <= 1, $"offset {offset}: {results.Count} results");
                if (results.Count == 0)
                {
                    break;
                }

                Assert.Equal("MAKER-" + results[0].GetProperty("00080018").GetProperty("Value")[0].GetString()![^4..], results[0].GetProperty("00080070").GetProperty("Value")[0].GetString());
                found.Add(results[0].GetProperty("00080018").GetProperty("Value")[0].GetString()!);
                Assert.Equal(found.Count < 3, page.Headers.NonValidated.Contains("Warning"));
            }

            Assert.Equal(sops.Order(), found.Order());

            // C-FIND pages through them itself: every instance, once, with its stored Manufacturer.
            var query = new DicomDataset().AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, study).AddOrUpdate(DicomTag.SOPInstanceUID, DicomVR.UI, "")
                .AddOrUpdate(DicomTag.Manufacturer, DicomVR.LO, "");
            var client = new Hounsfield.Network.DicomClient("127.0.0.1", dicomPort, "TESTSCU", "HOUNSFIELD");
            var matches = await client.FindAsync(Hounsfield.Network.DicomQueryRetrieveLevel.Image, query).ToListAsync();
            Assert.Equal(sops.Order(), matches.Select(m => m.GetString(DicomTag.SOPInstanceUID)).Order());
            Assert.All(matches, m => Assert.Equal("MAKER-" + m.GetString(DicomTag.SOPInstanceUID)![^4..], m.GetString(DicomTag.Manufacturer)));
        }
        finally
        {
            await server.DeleteDataAsync();
        }
    }

    [CorpusFact]
    public async Task Findscu_gets_a_series_request_attributes_sequence_with_the_item_attributes_it_asks_for()
    {
        var dicomPort = FreePorts.Next();
        var found = Directory.CreateTempSubdirectory("hounsfield-findscu-");
        await using var server = await ServerProcess.StartAsync(null, "--dicom-port", $"{dicomPort}", "--Dimse:Nodes:0:AETitle", "TESTSCU");
        try
        {
            var port = dicomPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var mr = DicomFile.Open(Corpus.Get("overlay_mr").Path).Dataset;
            var expected = Assert.Single(Assert.IsType<DicomSequence>(mr.Find(DicomTag.RequestAttributesSequence)).Items);
            var store = Run("storescu", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "127.0.0.1", port, Corpus.Get("overlay_mr").Path, Corpus.Get("evrle_ct_small").Path);
            Assert.True(store.ExitCode == 0, store.Output);

            var find = Run("findscu", "-S", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "-X", "-od", found.FullName, "-k", "QueryRetrieveLevel=SERIES",
                "-k", $"SeriesInstanceUID={mr.GetString(DicomTag.SeriesInstanceUID)}", "-k", "RequestAttributesSequence[0].ScheduledProcedureStepID", "127.0.0.1", port);
            Assert.True(find.ExitCode == 0, find.Output);
            var response = DicomFile.Open(Assert.Single(Directory.GetFiles(found.FullName))).Dataset;
            var item = Assert.Single(Assert.IsType<DicomSequence>(response.Find(DicomTag.RequestAttributesSequence)).Items);
            Assert.Equal(expected.GetString(DicomTag.ScheduledProcedureStepID), item.GetString(DicomTag.ScheduledProcedureStepID));
            Assert.Equal([DicomTag.ScheduledProcedureStepID], item.Select(element => element.Tag)); // not asked: RequestedProcedureID

            // Sequence matching (PS3.4 C.2.2.2.6): of the two series, the one with an item holding the ID; the other has none.
            string[] SeriesFound(string stepId, string procedureId)
            {
                foreach (var file in Directory.GetFiles(found.FullName))
                {
                    File.Delete(file);
                }

                var matching = Run("findscu", "-S", "-aet", "TESTSCU", "-aec", "HOUNSFIELD", "-X", "-od", found.FullName, "-k", "QueryRetrieveLevel=SERIES", "-k", "SeriesInstanceUID",
                    "-k", $"RequestAttributesSequence[0].ScheduledProcedureStepID={stepId}", "-k", $"RequestAttributesSequence[0].RequestedProcedureID={procedureId}", "127.0.0.1", port);
                Assert.True(matching.ExitCode == 0, matching.Output);
                return [.. Directory.GetFiles(found.FullName).Select(f => DicomFile.Open(f).Dataset.GetString(DicomTag.SeriesInstanceUID)!)];
            }

            var (stepId, procedureId) = (expected.GetString(DicomTag.ScheduledProcedureStepID)!, expected.GetString(DicomTag.RequestedProcedureID)!);
            Assert.Equal([mr.GetString(DicomTag.SeriesInstanceUID)!], SeriesFound(stepId, procedureId));
            Assert.Equal([mr.GetString(DicomTag.SeriesInstanceUID)!], SeriesFound(stepId[..^2] + "*", ""));
            Assert.Empty(SeriesFound(stepId, procedureId + "0"));
            Assert.Equal(2, SeriesFound("", "").Length);

            // Our SCU sends the same sequence keys, from the command line and from the nodes API (a node for this server).
            var cli = CliRunner.Run("find", "127.0.0.1", port, "--aet", "TESTSCU", "--aec", "HOUNSFIELD", "--level", "series", "-k", "SeriesInstanceUID",
                "-k", $"RequestAttributesSequence[0].ScheduledProcedureStepID={stepId}", "-k", "RequestAttributesSequence[0].RequestedProcedureID");
            Assert.True(cli.ExitCode == 0, cli.Stderr);
            var cliMatch = Assert.Single(JsonDocument.Parse(cli.Stdout).RootElement.EnumerateArray());
            Assert.Equal(mr.GetString(DicomTag.SeriesInstanceUID), cliMatch.GetProperty("0020000E").GetProperty("Value")[0].GetString());
            var cliItem = Assert.Single(cliMatch.GetProperty("00400275").GetProperty("Value").EnumerateArray());
            Assert.Equal([stepId, procedureId], new[] { "00400009", "00401001" }.Select(tag => cliItem.GetProperty(tag).GetProperty("Value")[0].GetString()));

            using var node = await server.Client.PostAsJsonAsync("/api/dicom_nodes",
                new { name = "self", aet_title = "TESTSCU", peer_aet_title = "HOUNSFIELD", peer_host = "127.0.0.1", peer_port = dicomPort });
            Assert.True(node.StatusCode == HttpStatusCode.Created, await node.Content.ReadAsStringAsync());
            var nodeId = (await node.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
            async Task<(HttpStatusCode Status, string Body, string Warning)> NodeFind(string query)
            {
                using var response = await server.Client.PostAsync($"/api/dicom_nodes/{nodeId}/find",
                    new StringContent($$"""{"level": "SERIES", "query": {{query}}}""", System.Text.Encoding.UTF8, "application/json"));
                return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.NonValidated.TryGetValues("Warning", out var warnings) ? string.Join(" | ", warnings) : string.Empty);
            }

            var byProcedure = await NodeFind($$$"""{"SeriesInstanceUID": null, "RequestAttributesSequence": {"RequestedProcedureID": "{{{procedureId}}}"}}""");
            Assert.True(byProcedure.Status == HttpStatusCode.OK, byProcedure.Body);
            var nodeMatch = Assert.Single(JsonDocument.Parse(byProcedure.Body).RootElement.EnumerateArray());
            Assert.Equal(mr.GetString(DicomTag.SeriesInstanceUID), nodeMatch.GetProperty("0020000E").GetProperty("Value")[0].GetString());
            var nonAscii = await NodeFind("""{"SeriesInstanceUID": null, "RequestAttributesSequence": {"ScheduledProcedureStepID": "Étape-1"}}""");
            Assert.Equal((HttpStatusCode.OK, 0), (nonAscii.Status, nonAscii.Status == HttpStatusCode.OK ? JsonDocument.Parse(nonAscii.Body).RootElement.GetArrayLength() : -1));
            var unencodable = await NodeFind("""{"SpecificCharacterSet": "GBK", "PatientName": "\uD83D\uDE00"}""");
            Assert.Equal(HttpStatusCode.BadRequest, unencodable.Status);
            Assert.Contains("\"PatientName\": The character", JsonDocument.Parse(unencodable.Body).RootElement.GetProperty("query")[0].GetString(), StringComparison.Ordinal);
            var returnedOnly = await NodeFind("""{"SeriesInstanceUID": null, "RequestAttributesSequence": null}""");
            Assert.Equal((HttpStatusCode.OK, 2), (returnedOnly.Status, JsonDocument.Parse(returnedOnly.Body).RootElement.GetArrayLength()));
            Assert.Empty(byProcedure.Warning + returnedOnly.Warning);

            // Fuzzy matching of names through the API (our SCP agrees): a lower-case prefix of the MR's patient name.
            var mrName = mr.GetString(DicomTag.PatientName)!;
            using var fuzzyFind = await server.Client.PostAsync($"/api/dicom_nodes/{nodeId}/find", new StringContent(
                $$$"""{"level": "STUDY", "fuzzy": true, "query": {"PatientName": "{{{mrName[..3].ToLowerInvariant()}}}*", "StudyInstanceUID": null}}""", System.Text.Encoding.UTF8, "application/json"));
            var fuzzyBody = await fuzzyFind.Content.ReadAsStringAsync();
            Assert.True(fuzzyFind.StatusCode == HttpStatusCode.OK, fuzzyBody);
            Assert.Contains(JsonDocument.Parse(fuzzyBody).RootElement.EnumerateArray(), m => m.GetProperty("0020000D").GetProperty("Value")[0].GetString() == mr.GetString(DicomTag.StudyInstanceUID));
            Assert.False(fuzzyFind.Headers.NonValidated.Contains("Warning"), "a Warning for a fuzzy find the peer agreed to");
            using var exactFind = await server.Client.PostAsync($"/api/dicom_nodes/{nodeId}/find", new StringContent(
                $$$"""{"level": "STUDY", "fuzzy": false, "query": {"PatientName": "{{{mrName[..3].ToLowerInvariant()}}}*", "StudyInstanceUID": null}}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.DoesNotContain(JsonDocument.Parse(await exactFind.Content.ReadAsStringAsync()).RootElement.EnumerateArray(),
                m => m.GetProperty("0020000D").GetProperty("Value")[0].GetString() == mr.GetString(DicomTag.StudyInstanceUID));
            var notFuzzy = await NodeFind("{\"SeriesInstanceUID\": null}");
            Assert.True(notFuzzy.Status == HttpStatusCode.OK, notFuzzy.Body);
            using var badFuzzy = await server.Client.PostAsync($"/api/dicom_nodes/{nodeId}/find", new StringContent("""{"level": "STUDY", "fuzzy": "yes"}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, badFuzzy.StatusCode);
            Assert.Contains("fuzzy", await badFuzzy.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            // The peer's 0xFF01 (a key it did not match on) reaches the caller: a Warning header, a line on the CLI's stderr.
            var notMatched = await NodeFind("""{"SeriesInstanceUID": null, "Manufacturer": "NOT-MATCHED"}""");
            Assert.True(notMatched.Status == HttpStatusCode.OK, notMatched.Body);
            Assert.Contains("0xFF01", notMatched.Warning, StringComparison.Ordinal);
            var cliNotMatched = CliRunner.Run("find", "127.0.0.1", port, "--aet", "TESTSCU", "--aec", "HOUNSFIELD", "--level", "series", "-k", "Manufacturer=NOT-MATCHED");
            Assert.True(cliNotMatched.ExitCode == 0, cliNotMatched.Stderr);
            Assert.Contains("did not match on some of the query's keys (0xFF01)", cliNotMatched.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("0xFF01", cli.Stderr, StringComparison.Ordinal);
            foreach (var (query, message) in new[]
            {
                ("""{"RequestAttributesSequence": "x"}""", "a sequence takes null, or an object"),
                ("""{"RequestAttributesSequence": {"ReferencedStudySequence": null}}""", "without a sequence in it"),
            })
            {
                var refused = await NodeFind(query);
                Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
                Assert.Contains(message, refused.Body, StringComparison.Ordinal);
            }
        }
        finally
        {
            found.Delete(recursive: true);
            await server.DeleteDataAsync();
        }
    }

    /// <summary>Runs a tool (DCMTK, dicom3tools, libjpeg's cjpeg) to its end (at most 60 s): exit code and output (stdout, then stderr).</summary>
    internal static (int ExitCode, string Output) Run(params string[] command)
    {
        using var process = StartTool(command);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{string.Join(' ', command)} did not finish");
        }

        return (process.ExitCode, output.Result + error.Result);
    }

    /// <summary>Starts a DCMTK peer (storescp, dcmqrscp) and waits until it accepts connections on <paramref name="port"/>.</summary>
    internal static async Task<Process> StartPeerAsync(int port, params string[] command)
    {
        var process = StartTool(command);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return process;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(50);
            }
            catch (SocketException)
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"{command[0]} did not listen on port {port}: {process.StandardError.ReadToEnd()}");
            }
        }
    }

    internal static Process StartTool(params string[] command)
    {
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in command[1..])
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info)!;
    }
}
