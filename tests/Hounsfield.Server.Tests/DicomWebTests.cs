using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Xml.Linq;
using Hounsfield.Imaging.Rendering;

namespace Hounsfield.Server.Tests;

/// <summary>The corpus stored once through STOW-RS into a real server; expectations come from DCMTK's dcm2json oracle.</summary>
public sealed class CorpusServerFixture : IAsyncLifetime
{
    public ServerProcess Server { get; private set; } = null!;

    /// <summary>Readable corpus files with their oracle data set (DCMTK's, else pydicom's).</summary>
    public List<(string Name, string Path, JsonElement Oracle)> Files { get; } = [];

    public HttpResponseMessage StowResponse { get; private set; } = null!;

    public JsonElement StowResult { get; private set; }

    public async Task InitializeAsync()
    {
        Server = await ServerProcess.StartAsync();
        if (Corpus.Directory is null)
        {
            return;
        }

        foreach (var file in Corpus.Files.Where(f => !f.IsMalformed))
        {
            var oracleFile = File.Exists(file.OraclePath("pydicom.json")) ? file.OraclePath("pydicom.json") : file.OraclePath("dcm2json.json");
            Files.Add((file.Name, file.Path, JsonDocument.Parse(File.ReadAllBytes(oracleFile)).RootElement.Clone()));
        }

        using var content = DicomWebClient.Multipart(Files.Select(f => File.ReadAllBytes(f.Path)));
        StowResponse = await Server.Client.PostAsync("/dicomweb/studies", content);
        StowResult = JsonDocument.Parse(await StowResponse.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Server.Data.Delete(recursive: true);
    }

    /// <summary>The first value of an oracle element as text; a public element the file encodes as UN is decoded from its InlineBinary.</summary>
    public static string? Text(JsonElement dataset, string tag)
    {
        if (!dataset.TryGetProperty(tag, out var element))
        {
            return null;
        }

        if (element.TryGetProperty("InlineBinary", out var binary))
        {
            return System.Text.Encoding.ASCII.GetString(Convert.FromBase64String(binary.GetString()!)).Split('\\')[0].Trim(' ', '\0');
        }

        return element.TryGetProperty("Value", out var values) && values.GetArrayLength() > 0
            ? values[0].ValueKind == JsonValueKind.Object ? values[0].TryGetProperty("Alphabetic", out var a) ? a.GetString() : null : values[0].ToString()
            : null;
    }
}

internal static class DicomWebClient
{
    public static MultipartContent Multipart(IEnumerable<byte[]> instances, string boundary = "hounsfield-test-boundary")
    {
        var content = new MultipartContent("related", boundary);
        content.Headers.ContentType!.Parameters.Add(new NameValueHeaderValue("type", "\"application/dicom\""));
        foreach (var bytes in instances)
        {
            var part = new ByteArrayContent(bytes);
            part.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
            content.Add(part);
        }

        return content;
    }

    /// <summary>A WADO-RS retrieve of <paramref name="path"/> with the instances as stored (transfer-syntax=*): a 200, and its parts.</summary>
    public static async Task<List<byte[]>> RetrieveAsStoredAsync(HttpClient client, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Accept", "multipart/related; type=\"application/dicom\"; transfer-syntax=*");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await ReadMultipartAsync(response);
    }

    public static async Task<List<byte[]>> ReadMultipartAsync(HttpResponseMessage response)
    {
        var boundary = response.Content.Headers.ContentType!.Parameters.Single(p => p.Name == "boundary").Value!.Trim('"');
        var reader = new Microsoft.AspNetCore.WebUtilities.MultipartReader(boundary, await response.Content.ReadAsStreamAsync());
        var parts = new List<byte[]>();
        while (await reader.ReadNextSectionAsync() is { } section)
        {
            using var memory = new MemoryStream();
            await section.Body.CopyToAsync(memory);
            parts.Add(memory.ToArray());
        }

        return parts;
    }
}

public sealed class DicomWebTests(CorpusServerFixture fixture) : IClassFixture<CorpusServerFixture>
{
    private HttpClient Client => fixture.Server.Client;

    /// <summary>Oracle data sets of the files STOW-RS can store: those with SOP Instance, Study and Series UIDs (PS3.18 §10.5).</summary>
    private IEnumerable<JsonElement> Oracles => fixture.Files.Select(f => f.Oracle).Where(Storable);

    private static bool Storable(JsonElement oracle) =>
        new[] { "00080018", "0020000D", "0020000E" }.All(tag => CorpusServerFixture.Text(oracle, tag) is not null);

    [CorpusFact]
    public void Stow_stores_every_readable_file_once_and_reports_duplicates()
    {
        var uniqueInstances = Oracles.Select(o => CorpusServerFixture.Text(o, "00080018")).Distinct().Count();
        var stored = fixture.StowResult.TryGetProperty("00081199", out var referenced) ? referenced.GetProperty("Value").GetArrayLength() : 0;
        var failed = fixture.StowResult.TryGetProperty("00081198", out var failures) ? failures.GetProperty("Value").EnumerateArray().ToList() : [];

        var unstorable = fixture.Files.Count(f => !Storable(f.Oracle));
        var reasons = failed.Select(f => f.GetProperty("00081197").GetProperty("Value")[0].GetInt32()).ToList();

        Assert.Equal(uniqueInstances, stored);
        Assert.Equal(unstorable, reasons.Count(r => r == 0xA900));
        Assert.Equal(fixture.Files.Count - unstorable - uniqueInstances, reasons.Count(r => r == 0x0111));
        Assert.Equal(fixture.Files.Count - uniqueInstances, failed.Count);
        Assert.Equal(failed.Count == 0 ? HttpStatusCode.OK : HttpStatusCode.Accepted, fixture.StowResponse.StatusCode);
    }

    [CorpusFact]
    public async Task Qido_studies_by_patient_id_return_exactly_the_oracle_studies()
    {
        foreach (var patientId in Oracles.Select(o => CorpusServerFixture.Text(o, "00100020")).Where(p => p is not null && !p.Contains('*') && !p.Contains('?')).Distinct())
        {
            var expected = Oracles.Where(o => CorpusServerFixture.Text(o, "00100020") == patientId).Select(o => CorpusServerFixture.Text(o, "0020000D")).ToHashSet();
            var actual = await StudyUidsAsync($"/dicomweb/studies?PatientID={Uri.EscapeDataString(patientId!)}&limit=1000");
            Assert.True(expected.SetEquals(actual), $"PatientID={patientId}: expected {expected.Count}, got {actual.Count}");
        }
    }

    [CorpusFact]
    public async Task Qido_matches_wildcards_ranges_uid_lists_and_fuzzy_names()
    {
        var studies = Oracles.GroupBy(o => CorpusServerFixture.Text(o, "0020000D")).Select(g => g.First()).ToList();

        var ctStudies = Oracles.Where(o => CorpusServerFixture.Text(o, "00080060") == "CT").Select(o => CorpusServerFixture.Text(o, "0020000D")).ToHashSet();
        Assert.True(ctStudies.SetEquals(await StudyUidsAsync("/dicomweb/studies?ModalitiesInStudy=CT&limit=1000")));

        var dated = studies.Where(o => string.CompareOrdinal(CorpusServerFixture.Text(o, "00080020"), "20000101") >= 0).Select(o => CorpusServerFixture.Text(o, "0020000D")).ToHashSet();
        Assert.True(dated.SetEquals(await StudyUidsAsync("/dicomweb/studies?StudyDate=20000101-&limit=1000")));

        var two = studies.Take(2).Select(o => CorpusServerFixture.Text(o, "0020000D")).ToList();
        Assert.True(two.ToHashSet().SetEquals(await StudyUidsAsync($"/dicomweb/studies?StudyInstanceUID={string.Join("%5C", two)}")));
        Assert.True(two.ToHashSet().SetEquals(await StudyUidsAsync($"/dicomweb/studies?StudyInstanceUID={string.Join(",", two)}")));

        var name = studies.Select(o => CorpusServerFixture.Text(o, "00100010")).First(n => n is { Length: > 3 })!;
        var prefix = name[..3];
        var byPrefix = studies.Where(o => CorpusServerFixture.Text(o, "00100010")?.StartsWith(prefix, StringComparison.Ordinal) == true).Select(o => CorpusServerFixture.Text(o, "0020000D")).ToHashSet();
        Assert.True(byPrefix.SetEquals(await StudyUidsAsync($"/dicomweb/studies?PatientName={Uri.EscapeDataString(prefix)}*&limit=1000")));
        Assert.True(byPrefix.IsSubsetOf(await StudyUidsAsync($"/dicomweb/studies?PatientName={Uri.EscapeDataString(prefix.ToLowerInvariant())}&fuzzymatching=true&limit=1000")));
    }

    [CorpusFact]
    public async Task Qido_series_and_instances_nest_under_their_study_with_counts()
    {
        var study = Oracles.GroupBy(o => CorpusServerFixture.Text(o, "0020000D")).OrderByDescending(g => g.Count()).First();
        var expectedSeries = study.Select(o => CorpusServerFixture.Text(o, "0020000E")).ToHashSet();
        var expectedInstances = study.Select(o => CorpusServerFixture.Text(o, "00080018")).ToHashSet();

        var series = await JsonArrayAsync($"/dicomweb/studies/{study.Key}/series");
        var instances = await JsonArrayAsync($"/dicomweb/studies/{study.Key}/instances");
        var studies = await JsonArrayAsync($"/dicomweb/studies?StudyInstanceUID={study.Key}");

        Assert.True(expectedSeries.SetEquals(series.Select(s => CorpusServerFixture.Text(s, "0020000E"))));
        Assert.True(expectedInstances.SetEquals(instances.Select(s => CorpusServerFixture.Text(s, "00080018"))));
        Assert.Equal(expectedInstances.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), CorpusServerFixture.Text(Assert.Single(studies), "00201208"));
        Assert.Equal(expectedSeries.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), CorpusServerFixture.Text(studies[0], "00201206"));
    }

    [CorpusFact]
    public async Task Paging_sets_the_warning_header_when_results_remain()
    {
        var response = await Client.GetAsync("/dicomweb/studies?limit=1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.EnumerateArray());
        Assert.Contains("additional results", response.Headers.GetValues("Warning").Single());
    }

    [CorpusFact]
    public async Task Wado_returns_each_instance_byte_identical_to_what_was_stored()
    {
        foreach (var group in fixture.Files.Where(f => Storable(f.Oracle)).GroupBy(f => CorpusServerFixture.Text(f.Oracle, "00080018")))
        {
            var (_, path, oracle) = group.First();
            var url = $"/dicomweb/studies/{CorpusServerFixture.Text(oracle, "0020000D")}/series/{CorpusServerFixture.Text(oracle, "0020000E")}/instances/{group.Key}";
            var part = Assert.Single(await DicomWebClient.RetrieveAsStoredAsync(Client, url));
            Assert.True(File.ReadAllBytes(path).AsSpan().SequenceEqual(part), $"{Path.GetFileName(path)} came back different");
        }
    }

    [CorpusFact]
    public async Task Wado_transcodes_on_request_and_the_pixels_survive()
    {
        var (name, _, oracle) = fixture.Files.First(f => f.Name == "jpeg_lossless_sv1_u8");
        foreach (var syntax in new[] { "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.80" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, InstanceUrl(oracle));
            request.Headers.TryAddWithoutValidation("Accept", $"multipart/related; type=\"application/dicom\"; transfer-syntax={syntax}");
            var response = await Client.SendAsync(request);

            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{syntax}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            var file = Hounsfield.Dicom.DicomFile.Read(Assert.Single(await DicomWebClient.ReadMultipartAsync(response)));
            Assert.Equal(syntax, file.TransferSyntax.Uid);
            var frame = Hounsfield.Imaging.Frames.PixelDataReader.Create(file)!.ReadFrame(0);
            Assert.Equal(Corpus.Get(name).FrameHashes()![0], Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(frame.Data)));
        }
    }

    [CorpusFact]
    public async Task Metadata_equals_the_toolkit_json_with_absolute_bulk_data_uris()
    {
        var (name, path, oracle) = fixture.Files.First(f => f.Name == "evrle_ct_small");
        var study = CorpusServerFixture.Text(oracle, "0020000D");
        var series = CorpusServerFixture.Text(oracle, "0020000E");
        var instance = CorpusServerFixture.Text(oracle, "00080018");

        var metadata = Assert.Single(await JsonArrayAsync($"/dicomweb/studies/{study}/series/{series}/instances/{instance}/metadata"));

        Assert.Equal(CorpusServerFixture.Text(oracle, "00100010"), CorpusServerFixture.Text(metadata, "00100010"));
        Assert.Equal(oracle.EnumerateObject().Count(), metadata.EnumerateObject().Count());
        var pixelUri = metadata.GetProperty("7FE00010").GetProperty("BulkDataURI").GetString()!;
        Assert.StartsWith($"http://127.0.0.1:{fixture.Server.Port}/dicomweb/studies/{study}/series/{series}/instances/{instance}/bulkdata/7FE00010", pixelUri);

        var first = await Client.GetAsync($"/dicomweb/studies/{study}/metadata");
        using var again = new HttpRequestMessage(HttpMethod.Get, $"/dicomweb/studies/{study}/metadata");
        again.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        Assert.Equal(HttpStatusCode.NotModified, (await Client.SendAsync(again)).StatusCode);
        _ = name;
        _ = path;
    }

    [Fact]
    public async Task A_non_dicom_part_fails_with_reason_C000_and_nothing_is_stored()
    {
        using var content = DicomWebClient.Multipart([System.Text.Encoding.ASCII.GetBytes("definitely not a DICOM file, although long enough to look like one at first")]);

        var response = await Client.PostAsync("/dicomweb/studies", content);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal(0xC000, body.GetProperty("00081198").GetProperty("Value")[0].GetProperty("00081197").GetProperty("Value")[0].GetInt32());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(fixture.Server.Data.FullName, "blobs", "tmp")));
    }

    [Fact]
    public async Task Stow_answers_in_xml_when_asked_and_stores_nothing_for_an_accept_it_cannot_serve()
    {
        var study = Hounsfield.Dicom.DicomUidGenerator.FromUuid();
        var series = Hounsfield.Dicom.DicomUidGenerator.FromUuid();
        var instances = new[] { Hounsfield.Dicom.DicomUidGenerator.FromUuid(), Hounsfield.Dicom.DicomUidGenerator.FromUuid() };
        async Task<HttpResponseMessage> Store(string instance, string accept)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/dicomweb/studies")
            {
                Content = DicomWebClient.Multipart([SecondaryCapture.Bytes(study, series, instance)]),
            };
            request.Headers.TryAddWithoutValidation("Accept", accept);
            return await Client.SendAsync(request);
        }

        var refused = await Store(instances[0], "text/csv");
        Assert.Equal(HttpStatusCode.NotAcceptable, refused.StatusCode);
        Assert.Contains("application/dicom+xml", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync($"/dicomweb/studies/{study}/metadata")).StatusCode);

        var response = await Store(instances[1], "application/dicom+xml");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/dicom+xml", response.Content.Headers.ContentType!.MediaType);
        var body = Hounsfield.Dicom.Xml.DicomXmlReader.Read(await response.Content.ReadAsStringAsync());
        var referenced = Assert.Single(body.GetSequence(new Hounsfield.Dicom.DicomTag(0x0008, 0x1199))!.Items);
        Assert.Equal(instances[1], referenced.GetString(Hounsfield.Dicom.DicomTag.ReferencedSOPInstanceUID));
        Assert.Equal(SecondaryCapture.SopClassUid, referenced.GetString(Hounsfield.Dicom.DicomTag.ReferencedSOPClassUID));
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync($"/dicomweb/studies/{study}/series/{series}/instances/{instances[1]}/metadata")).StatusCode);
    }

    [Fact]
    public async Task Qido_refuses_a_repeated_match_key_and_an_accept_header_it_cannot_serve()
    {
        async Task<(HttpStatusCode Status, string Body, string? Type)> Get(string path, string? accept = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (accept is not null)
            {
                request.Headers.TryAddWithoutValidation("Accept", accept);
            }

            var response = await Client.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.MediaType);
        }

        var repeated = await Get("/dicomweb/studies?PatientID=a&PatientID=b");
        Assert.Equal(HttpStatusCode.BadRequest, repeated.Status);
        Assert.Contains("'PatientID' is given more than once", repeated.Body, StringComparison.Ordinal);
        var twoSpellings = await Get("/dicomweb/series?Modality=CT&00080060=MR");
        Assert.Equal(HttpStatusCode.BadRequest, twoSpellings.Status);
        Assert.Contains("00080060", twoSpellings.Body, StringComparison.Ordinal);
        var repeatable = await Get("/dicomweb/studies?includefield=PatientAge&includefield=PatientSex&StudyInstanceUID=1.2.3,1.2.4");
        Assert.True(repeatable.Status == HttpStatusCode.OK, repeatable.Body);
        foreach (var (path, message) in new[]
        {
            ("00400275.00400009.00400009=x", "is inside a sequence inside a sequence"),
            ("RequestAttributesSequence.ScheduledProcedureStepDescription=x", "(0040,0007) inside (0040,0275) is not a matching key"),
            ("00081110.00081150=1.2", "(0008,1110) is not a sequence this server matches in"),
            ("00400275.00400009=a&RequestAttributesSequence.ScheduledProcedureStepID=b", "is given more than once"),
            ("includefield=00400275.00400009.00400009", "is inside a sequence inside a sequence"),
        })
        {
            var sequence = await Get($"/dicomweb/series?{path}");
            Assert.Equal(HttpStatusCode.BadRequest, sequence.Status);
            Assert.Contains(message, sequence.Body, StringComparison.Ordinal);
        }

        var badList = await Get("/dicomweb/studies?StudyInstanceUID=1.2.3,x.4");
        Assert.Equal(HttpStatusCode.BadRequest, badList.Status);
        Assert.Contains("1.2.3,x.4", badList.Body, StringComparison.Ordinal);

        var csv = await Get("/dicomweb/studies", "text/csv");
        Assert.Equal((HttpStatusCode.NotAcceptable, "application/json"), (csv.Status, csv.Type));
        Assert.Contains("text/csv", csv.Body, StringComparison.Ordinal);
        Assert.Equal("application/dicom+json", (await Get("/dicomweb/studies", "multipart/related; type=\"application/dicom+xml\";q=0.2, application/dicom+json")).Type);
        Assert.Equal("multipart/related", (await Get("/dicomweb/studies", "application/dicom+json;q=0.2, multipart/related; type=\"application/dicom+xml\"")).Type);
    }

    [CorpusFact]
    public async Task Qido_returns_the_default_attributes_of_ps3_18_with_instance_availability_online()
    {
        // PS3.18 Tables 10.6.3-3 and 10.6.3-5 (study and instance results), those this index holds.
        string[] study = ["00080020", "00080030", "00080050", "00080056", "00080061", "00080090", "00081190", "00100010", "00100020", "00100030", "00100040", "0020000D", "00200010", "00201206", "00201208"];
        string[] instance = ["00080016", "00080018", "00080056", "00081190", "00200013", "00280010", "00280011", "00280100"];

        var studies = await Client.GetFromJsonAsync<JsonElement>("/dicomweb/studies?limit=1000");
        var instances = await Client.GetFromJsonAsync<JsonElement>("/dicomweb/instances?Modality=CT&limit=1000");

        // Other tests of this class store studies of their own into the same server: the corpus's are among the results.
        var returned = studies.EnumerateArray().Select(s => CorpusServerFixture.Text(s, "0020000D")).ToHashSet();
        Assert.Subset(returned, Oracles.Select(o => CorpusServerFixture.Text(o, "0020000D")).ToHashSet());
        Assert.NotEqual(0, instances.GetArrayLength());
        foreach (var (results, required) in new[] { (studies, study), (instances, instance) })
        {
            foreach (var result in results.EnumerateArray())
            {
                Assert.All(required, tag => Assert.True(result.TryGetProperty(tag, out _), $"{tag} missing from {result}"));
                Assert.Equal("ONLINE", CorpusServerFixture.Text(result, "00080056"));
            }
        }
    }

    [CorpusFact]
    public async Task Qido_returns_the_timezone_offset_of_studies_and_the_performed_procedure_step_start_of_series()
    {
        // Study and series attributes are those of the first instance stored of each (the corpus is stored in this order).
        var checkedValues = 0;
        foreach (var (level, key, tags) in new[] { ("studies", "0020000D", new[] { "00080201" }), ("series", "0020000E", new[] { "00400244", "00400245" }) })
        {
            foreach (var first in Oracles.GroupBy(o => CorpusServerFixture.Text(o, key)).Select(g => g.First()))
            {
                var result = Assert.Single((await Client.GetFromJsonAsync<JsonElement>($"/dicomweb/{level}?{key}={CorpusServerFixture.Text(first, key)}")).EnumerateArray());
                foreach (var tag in tags)
                {
                    Assert.Equal(CorpusServerFixture.Text(first, tag), CorpusServerFixture.Text(result, tag));
                    checkedValues += CorpusServerFixture.Text(first, tag) is null ? 0 : 1;
                }
            }
        }

        Assert.True(checkedValues >= 4, $"only {checkedValues} values in the corpus to compare");
        var byDate = await Client.GetFromJsonAsync<JsonElement>("/dicomweb/series?PerformedProcedureStepStartDate=20190101-20191231&limit=1000");
        Assert.Equal("20190124", CorpusServerFixture.Text(Assert.Single(byDate.EnumerateArray()), "00400244"));
    }

    [CorpusFact]
    public async Task Qido_returns_the_request_attributes_sequence_of_series_with_the_ids_ps3_18_names()
    {
        // PS3.18 Table 10.6.3-5: each item's Scheduled Procedure Step ID and Requested Procedure ID, from the series' first
        // instance; a series without the sequence returns it empty.
        static IEnumerable<JsonElement> Items(JsonElement result) =>
            result.TryGetProperty("00400275", out var sequence) && sequence.TryGetProperty("Value", out var items) ? items.EnumerateArray() : [];

        var withItems = 0;
        foreach (var first in Oracles.GroupBy(o => CorpusServerFixture.Text(o, "0020000E")).Select(g => g.First()))
        {
            var result = Assert.Single((await Client.GetFromJsonAsync<JsonElement>($"/dicomweb/series?SeriesInstanceUID={CorpusServerFixture.Text(first, "0020000E")}")).EnumerateArray());
            Assert.True(result.TryGetProperty("00400275", out var returned), $"00400275 missing from {result}");
            Assert.Equal("SQ", returned.GetProperty("vr").GetString());
            var expected = Items(first).Select(item => (CorpusServerFixture.Text(item, "00400009"), CorpusServerFixture.Text(item, "00401001"))).ToList();
            Assert.Equal(expected, Items(result).Select(item => (CorpusServerFixture.Text(item, "00400009"), CorpusServerFixture.Text(item, "00401001"))));
            Assert.All(Items(result), item => Assert.DoesNotContain("00400007", item.EnumerateObject().Select(p => p.Name)));
            withItems += expected.Count(ids => ids != (null, null));
        }

        Assert.True(withItems >= 1, "no Request Attributes Sequence with IDs in the corpus to compare");
        var matched = await Client.GetAsync("/dicomweb/series?RequestAttributesSequence=x");
        Assert.Equal(HttpStatusCode.BadRequest, matched.StatusCode);
        Assert.Contains("cannot be matched", await matched.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [CorpusFact]
    public async Task Qido_matches_keys_of_a_lower_level_against_the_series_and_instances_of_each_result()
    {
        // Relational matching: a study matches Modality=MR when one of its series is MR; a study or a series matches
        // SOPInstanceUID=X when it holds X. Compared with the corpus (other tests of this fixture add studies of their own).
        string Of(JsonElement o, string tag) => CorpusServerFixture.Text(o, tag) ?? string.Empty;
        var corpusStudies = Oracles.Select(o => Of(o, "0020000D")).ToHashSet();
        async Task<string[]> Uids(string path, string key) =>
            [.. (await Client.GetFromJsonAsync<JsonElement>($"/dicomweb/{path}&limit=1000")).EnumerateArray().Select(r => Of(r, key)).Where(corpusStudies.Contains).Distinct().Order()];

        foreach (var modality in Oracles.Select(o => Of(o, "00080060")).Where(m => m.Length > 0).Distinct())
        {
            Assert.Equal(Oracles.Where(o => Of(o, "00080060") == modality).Select(o => Of(o, "0020000D")).Distinct().Order(), await Uids($"studies?Modality={modality}", "0020000D"));
        }

        var instance = Oracles.First(o => Of(o, "00080018").Length > 0);
        Assert.Equal([Of(instance, "0020000D")], await Uids($"studies?SOPInstanceUID={Of(instance, "00080018")}", "0020000D"));
        var series = (await Client.GetFromJsonAsync<JsonElement>($"/dicomweb/series?SOPInstanceUID={Of(instance, "00080018")}")).EnumerateArray().Select(r => Of(r, "0020000E")).ToList();
        Assert.Equal([Of(instance, "0020000E")], series);
        Assert.Empty(await Uids($"studies?SOPInstanceUID={Of(instance, "00080018")}&Modality=NO-SUCH-MODALITY", "0020000D"));
    }

    [CorpusFact]
    public async Task Qido_returns_included_attributes_it_keeps_no_column_for_from_the_stored_instance()
    {
        // Manufacturer, InstitutionName, PatientAddress (ß in overlay_mr), AdditionalPatientHistory (Japanese, ISO 2022, in
        // charset_iso2022_ir87_multi), SliceThickness: what each instance's file holds, as the oracle read it.
        string[] tags = ["00080070", "00080080", "00101040", "001021B0", "00180050"];
        var (compared, asciiOnly) = (0, 0);
        foreach (var oracle in Oracles.GroupBy(o => CorpusServerFixture.Text(o, "00080018")).Select(g => g.First()))
        {
            var sop = CorpusServerFixture.Text(oracle, "00080018");
            var result = Assert.Single((await Client.GetFromJsonAsync<JsonElement>($"/dicomweb/instances?SOPInstanceUID={sop}&includefield={string.Join(',', tags)}")).EnumerateArray());
            foreach (var tag in tags)
            {
                var expected = oracle.TryGetProperty(tag, out var element) && element.TryGetProperty("Value", out var values) ? values[0].ToString() : null;
                var actual = result.TryGetProperty(tag, out var returned) && returned.TryGetProperty("Value", out var got) ? got[0].ToString() : null;
                Assert.True(expected == actual || (tag == "00180050" && expected is not null && actual is not null && double.Parse(expected, System.Globalization.CultureInfo.InvariantCulture) == double.Parse(actual, System.Globalization.CultureInfo.InvariantCulture)),
                    $"{sop} {tag}: expected {expected ?? "(none)"}, got {actual ?? "(none)"}");
                compared += expected is null ? 0 : 1;
            }

            // UTF-8 is declared when a returned value needs it, not for ASCII alone.
            var texts = result.EnumerateObject().Where(p => p.Name != "00080005" && p.Value.TryGetProperty("Value", out _))
                .SelectMany(p => p.Value.GetProperty("Value").EnumerateArray().Select(v => v.ToString()));
            var declared = result.TryGetProperty("00080005", out var characterSet) ? characterSet.GetProperty("Value")[0].GetString() : null;
            Assert.True((texts.Any(t => !System.Text.Ascii.IsValid(t)) ? "ISO_IR 192" : null) == declared, $"{sop}: declared {declared ?? "(none)"}");
            asciiOnly += declared is null ? 1 : 0;
        }

        Assert.True(compared >= 20, $"only {compared} values in the corpus to compare");
        Assert.True(asciiOnly >= 5, $"only {asciiOnly} results without text beyond ASCII");
        var withPixels = (await Client.GetFromJsonAsync<JsonElement>("/dicomweb/instances?limit=5&includefield=7FE00010")).EnumerateArray();
        Assert.All(withPixels, result => Assert.False(result.TryGetProperty("7FE00010", out _), "bulk data returned by QIDO")); // WADO-RS serves it
    }

    [CorpusFact]
    public async Task Qido_includefield_all_at_instance_level_returns_every_attribute_of_the_instance_but_binary_ones()
    {
        // Every text and number value the oracle read from each corpus file comes back (its first value compared; those
        // of the default answer are the index's, whose patient and study attributes are the entity's, so only present);
        // binary values, inline or bulk, are WADO-RS's. SpecificCharacterSet is the answer's own (UTF-8 when needed).
        string[] numbers = ["IS", "DS", "US", "UL", "SS", "SL", "UV", "SV"];
        string[] skipped = ["SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN", "FL", "FD"];
        var compared = 0;
        foreach (var oracle in Oracles.GroupBy(o => CorpusServerFixture.Text(o, "00080018")).Select(g => g.First()))
        {
            var sop = CorpusServerFixture.Text(oracle, "00080018");
            var result = Assert.Single((await Client.GetFromJsonAsync<JsonElement>($"/dicomweb/instances?SOPInstanceUID={sop}&includefield=all")).EnumerateArray());
            var byDefault = Assert.Single((await Client.GetFromJsonAsync<JsonElement>($"/dicomweb/instances?SOPInstanceUID={sop}")).EnumerateArray())
                .EnumerateObject().Select(p => p.Name).ToHashSet();
            foreach (var property in oracle.EnumerateObject())
            {
                var vr = property.Value.GetProperty("vr").GetString()!;
                // Private elements are left out: a file may encode them as UN, binary to us, where an oracle names a VR.
                var isPrivate = (Convert.ToInt32(property.Name[..4], 16) & 1) == 1;
                if (isPrivate || property.Name.StartsWith("0002", StringComparison.Ordinal) || property.Name.EndsWith("0000", StringComparison.Ordinal) || property.Name == "00080005"
                    || skipped.Contains(vr) || !property.Value.TryGetProperty("Value", out var expectedValues) || expectedValues.GetArrayLength() == 0)
                {
                    continue;
                }

                Assert.True(result.TryGetProperty(property.Name, out var returned), $"{sop} {property.Name} ({vr}) not returned");
                if (byDefault.Contains(property.Name))
                {
                    continue;
                }

                var actualValues = returned.TryGetProperty("Value", out var values) ? values : default;
                Assert.True(actualValues.ValueKind == JsonValueKind.Array, $"{sop} {property.Name} ({vr}) returned without its value");
                var (expected, actual) = vr == "PN"
                    ? (JsonSerializer.Serialize(expectedValues[0]), JsonSerializer.Serialize(actualValues[0]))
                    : (expectedValues[0].ToString(), actualValues[0].ToString());
                Assert.True(numbers.Contains(vr)
                    ? double.Parse(expected, System.Globalization.CultureInfo.InvariantCulture) == double.Parse(actual, System.Globalization.CultureInfo.InvariantCulture)
                    : expected == actual, $"{sop} {property.Name} ({vr}): expected {expected}, got {actual}");
                compared++;
            }

            Assert.False(result.TryGetProperty("7FE00010", out _), $"{sop}: pixel data returned by QIDO");
        }

        Assert.True(compared >= 500, $"only {compared} values compared");

        // At series level "all" stays the index's attributes: another instance's are not the series'.
        var series = (await Client.GetFromJsonAsync<JsonElement>("/dicomweb/series?includefield=all&limit=5")).EnumerateArray();
        Assert.All(series, s => Assert.False(s.TryGetProperty("00080018", out _), "an instance's SOP Instance UID in a series result"));
    }

    [CorpusFact]
    public async Task Qido_returns_the_patient_counts_and_sop_classes_of_a_study_when_asked()
    {
        // Returned on request only (includefield or all), not among PS3.18's defaults; from the corpus: counts per patient.
        var first = Oracles.First(o => CorpusServerFixture.Text(o, "00100020") is { Length: > 0 } id && !id.Contains('*') && !id.Contains('?'));
        var (patientId, studyUid) = (CorpusServerFixture.Text(first, "00100020")!, CorpusServerFixture.Text(first, "0020000D")!);
        var query = $"/dicomweb/studies?StudyInstanceUID={studyUid}";
        var plain = Assert.Single((await Client.GetFromJsonAsync<JsonElement>(query)).EnumerateArray());
        Assert.All(new[] { "00201200", "00201202", "00201204", "00080062" }, tag => Assert.False(plain.TryGetProperty(tag, out _), $"{tag} returned unasked"));

        var asked = Assert.Single((await Client.GetFromJsonAsync<JsonElement>($"{query}&includefield=NumberOfPatientRelatedStudies,00201202,NumberOfPatientRelatedInstances,SOPClassesInStudy")).EnumerateArray());
        var all = Assert.Single((await Client.GetFromJsonAsync<JsonElement>($"{query}&includefield=all")).EnumerateArray());
        // Other tests of this fixture store instances of their own: the counts are at least the corpus's, which they hold.
        var ofPatient = Oracles.Where(o => CorpusServerFixture.Text(o, "00100020") == patientId).ToList();
        foreach (var result in new[] { asked, all })
        {
            Assert.True(int.Parse(CorpusServerFixture.Text(result, "00201200")!, System.Globalization.CultureInfo.InvariantCulture) >= ofPatient.Select(o => CorpusServerFixture.Text(o, "0020000D")).Distinct().Count());
            Assert.True(int.Parse(CorpusServerFixture.Text(result, "00201202")!, System.Globalization.CultureInfo.InvariantCulture) >= ofPatient.Select(o => CorpusServerFixture.Text(o, "0020000E")).Distinct().Count());
            Assert.True(int.Parse(CorpusServerFixture.Text(result, "00201204")!, System.Globalization.CultureInfo.InvariantCulture) >= ofPatient.Select(o => CorpusServerFixture.Text(o, "00080018")).Distinct().Count());
            var classes = result.GetProperty("00080062").GetProperty("Value").EnumerateArray().Select(v => v.GetString()).ToHashSet();
            Assert.Superset(Oracles.Where(o => CorpusServerFixture.Text(o, "0020000D") == studyUid).Select(o => CorpusServerFixture.Text(o, "00080016")).ToHashSet(), classes);
        }
    }

    [CorpusFact]
    public async Task Qido_matches_series_by_the_ids_in_their_request_attributes_sequence()
    {
        // PS3.18 Table 10.6.1-5 requires these keys; the keys given inside the sequence match one item (PS3.4 C.2.2.2.6).
        static IEnumerable<JsonElement> Items(JsonElement dataset) =>
            dataset.TryGetProperty("00400275", out var sequence) && sequence.TryGetProperty("Value", out var items) ? items.EnumerateArray() : [];

        var series = Oracles.GroupBy(o => CorpusServerFixture.Text(o, "0020000E")!).ToDictionary(g => g.Key, g => Items(g.First()).ToList());

        // The corpus's series among the matches (other tests of this fixture add series of their own).
        async Task<string[]> Series(string keys) =>
            [.. (await Client.GetFromJsonAsync<JsonElement>($"/dicomweb/series?{keys}&limit=1000")).EnumerateArray().Select(s => CorpusServerFixture.Text(s, "0020000E")!).Where(series.ContainsKey).Order()];

        var compared = 0;
        foreach (var (uid, items) in series)
        {
            foreach (var item in items.Where(item => CorpusServerFixture.Text(item, "00400009") is not null))
            {
                var (stepId, procedureId) = (CorpusServerFixture.Text(item, "00400009")!, CorpusServerFixture.Text(item, "00401001"));
                string[] Expected(Func<JsonElement, bool> matches) => [.. series.Where(s => s.Value.Any(matches)).Select(s => s.Key).Order()];
                var withStepId = Expected(i => CorpusServerFixture.Text(i, "00400009") == stepId);
                Assert.Contains(uid, withStepId);
                Assert.Equal(withStepId, await Series($"00400275.00400009={stepId}"));
                Assert.Equal(withStepId, await Series($"RequestAttributesSequence.ScheduledProcedureStepID={stepId}"));
                Assert.Equal(Expected(i => CorpusServerFixture.Text(i, "00400009")?.StartsWith(stepId[..^2], StringComparison.Ordinal) == true),
                    await Series($"00400275.00400009={stepId[..^2]}*"));
                Assert.Equal(Expected(i => CorpusServerFixture.Text(i, "00400009") == stepId && CorpusServerFixture.Text(i, "00401001") == procedureId),
                    await Series($"00400275.00400009={stepId}&00400275.00401001={procedureId}"));
                Assert.Empty(await Series($"00400275.00400009={stepId}&00400275.00401001={procedureId}x"));
                compared++;
            }
        }

        Assert.True(compared >= 1, "no Request Attributes Sequence with a Scheduled Procedure Step ID in the corpus to match");
        Assert.Empty(await Series("00400275.00400009=no-such-step"));
        Assert.Equal(series.Keys.Order(), await Series("00400275.00400009=")); // universal matching: returned, not filtered
        var included = await Client.GetAsync("/dicomweb/series?includefield=00400275.00400009&limit=1"); // the sequence, returned whole
        Assert.True(included.StatusCode == HttpStatusCode.OK, await included.Content.ReadAsStringAsync());
    }

    [CorpusFact]
    public async Task Qido_answers_in_xml_when_asked()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/dicomweb/studies?limit=3");
        request.Headers.TryAddWithoutValidation("Accept", "multipart/related; type=\"application/dicom+xml\"");
        var response = await Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var parts = await DicomWebClient.ReadMultipartAsync(response);
        Assert.Equal(3, parts.Count);
        Assert.All(parts, p => Assert.Equal("NativeDicomModel", System.Xml.Linq.XDocument.Parse(System.Text.Encoding.UTF8.GetString(p)).Root!.Name.LocalName));

        // Every instance, in parts sent in several writes (the answer is longer than one write's 64 KiB): the same
        // instances in the same order as the JSON answer.
        using var all = new HttpRequestMessage(HttpMethod.Get, "/dicomweb/instances?limit=1000");
        all.Headers.TryAddWithoutValidation("Accept", "multipart/related; type=\"application/dicom+xml\"");
        var allParts = await DicomWebClient.ReadMultipartAsync(await Client.SendAsync(all));
        Assert.True(allParts.Sum(p => p.Length) > 64 * 1024, $"{allParts.Sum(p => p.Length)} bytes: too short to need several writes");
        XNamespace native = Hounsfield.Dicom.Xml.DicomXmlWriter.Namespace;
        var xmlUids = allParts.Select(p => XDocument.Parse(System.Text.Encoding.UTF8.GetString(p)).Root!.Elements(native + "DicomAttribute")
            .Single(a => (string?)a.Attribute("tag") == "00080018").Element(native + "Value")!.Value);
        var jsonUids = JsonDocument.Parse(await Client.GetStringAsync("/dicomweb/instances?limit=1000")).RootElement.EnumerateArray()
            .Select(i => i.GetProperty("00080018").GetProperty("Value")[0].GetString());
        Assert.Equal(jsonUids, xmlUids);
    }

    [CorpusFact]
    public async Task Short_answers_are_sent_uncompressed_and_long_ones_compressed_when_the_client_takes_gzip()
    {
        var study = Hounsfield.Dicom.DicomUidGenerator.FromUuid();
        using var store = new HttpRequestMessage(HttpMethod.Post, "/dicomweb/studies")
        {
            Content = DicomWebClient.Multipart([SecondaryCapture.Bytes(study, Hounsfield.Dicom.DicomUidGenerator.FromUuid(), Hounsfield.Dicom.DicomUidGenerator.FromUuid())]),
        };
        store.Headers.AcceptEncoding.ParseAdd("gzip");
        var stored = await Client.SendAsync(store);
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        Assert.Empty(stored.Content.Headers.ContentEncoding);
        Assert.True(stored.Content.Headers.ContentLength < 1024);
        Assert.True(JsonDocument.Parse(await stored.Content.ReadAsStringAsync()).RootElement.TryGetProperty("00081199", out _));

        using var search = new HttpRequestMessage(HttpMethod.Get, "/dicomweb/instances?limit=1000");
        search.Headers.AcceptEncoding.ParseAdd("gzip");
        var found = await Client.SendAsync(search);
        Assert.Equal("gzip", Assert.Single(found.Content.Headers.ContentEncoding));
        await using var unzipped = new System.IO.Compression.GZipStream(await found.Content.ReadAsStreamAsync(), System.IO.Compression.CompressionMode.Decompress);
        Assert.True((await JsonDocument.ParseAsync(unzipped)).RootElement.GetArrayLength() > 10);

        // Multipart DICOM XML is compressed too; multipart DICOM files are not.
        var instance = InstanceUrl(fixture.Files.First(f => f.Name == "evrle_ct_small").Oracle);
        using var xml = new HttpRequestMessage(HttpMethod.Get, $"{instance}/metadata");
        xml.Headers.TryAddWithoutValidation("Accept", "multipart/related; type=\"application/dicom+xml\"");
        xml.Headers.AcceptEncoding.ParseAdd("gzip");
        var xmlResponse = await Client.SendAsync(xml);
        Assert.Equal("gzip", Assert.Single(xmlResponse.Content.Headers.ContentEncoding));
        using var inflated = new StreamReader(new System.IO.Compression.GZipStream(await xmlResponse.Content.ReadAsStreamAsync(), System.IO.Compression.CompressionMode.Decompress));
        Assert.Contains("<NativeDicomModel", await inflated.ReadToEndAsync(), StringComparison.Ordinal);
        using var files = new HttpRequestMessage(HttpMethod.Get, instance);
        files.Headers.AcceptEncoding.ParseAdd("gzip");
        Assert.Empty((await Client.SendAsync(files)).Content.Headers.ContentEncoding);
    }

    [Fact]
    public async Task Stow_of_more_parts_than_the_limit_is_413_at_the_first_part_too_many()
    {
        // Each part costs memory until the response reports it: 2 MB of 12-byte parts took 200 MB before the limit.
        const int Limit = 20_000;
        static byte[] Body(byte[]? first, int garbageParts)
        {
            using var body = new MemoryStream();
            if (first is not null)
            {
                body.Write("--b\r\nContent-Type: application/dicom\r\n\r\n"u8);
                body.Write(first);
                body.Write("\r\n"u8);
            }

            for (var i = 0; i < garbageParts; i++)
            {
                body.Write("--b\r\n\r\nX\r\n"u8);
            }

            body.Write("--b--\r\n"u8);
            return body.ToArray();
        }

        async Task<(HttpStatusCode Status, JsonElement Body)> Post(byte[] body)
        {
            var content = new ByteArrayContent(body);
            content.Headers.TryAddWithoutValidation("Content-Type", "multipart/related; type=\"application/dicom\"; boundary=b");
            var response = await Client.PostAsync("/dicomweb/studies", content);
            return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
        }

        var refused = await Post(Body(null, Limit + 1));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.Status);
        Assert.Contains("more than 20000 parts (Archive:MaxPartsPerRequest)", refused.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var study = Hounsfield.Dicom.DicomUidGenerator.FromUuid();
        var series = Hounsfield.Dicom.DicomUidGenerator.FromUuid();
        var instance = Hounsfield.Dicom.DicomUidGenerator.FromUuid();
        var partial = await Post(Body(SecondaryCapture.Bytes(study, series, instance), Limit + 5));
        Assert.Equal(HttpStatusCode.Accepted, partial.Status);
        Assert.Equal(instance, Assert.Single(partial.Body.GetProperty("00081199").GetProperty("Value").EnumerateArray()).GetProperty("00081155").GetProperty("Value")[0].GetString());
        Assert.Equal(Limit, partial.Body.GetProperty("00081198").GetProperty("Value").GetArrayLength());
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync($"/dicomweb/studies/{study}/series/{series}/instances/{instance}/metadata")).StatusCode);
    }

    [Fact]
    public async Task A_huge_content_length_is_413_and_a_malformed_multipart_is_400_without_leftovers()
    {
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(System.Net.IPAddress.Loopback, fixture.Server.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(
            "POST /dicomweb/studies HTTP/1.1\r\nHost: 127.0.0.1\r\n" + $"Authorization: Bearer {fixture.Server.AccessToken}\r\n" +
            "Content-Type: multipart/related; type=\"application/dicom\"; boundary=b\r\nContent-Length: 10737418240\r\n\r\n--b\r\n"));
        var buffer = new byte[4096];
        var received = string.Empty;
        while (!received.Contains('}') && received.Length < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            if (read == 0)
            {
                break;
            }

            received += System.Text.Encoding.ASCII.GetString(buffer, 0, read);
        }

        Assert.StartsWith("HTTP/1.1 413", received);
        Assert.Contains("Request body too large", received); // a detail for the client, not the application's unhandled error

        var malformed = new ByteArrayContent(System.Text.Encoding.ASCII.GetBytes("--b\r\nContent-Type: application/dicom\r\n\r\nDICM but the closing boundary never comes"));
        malformed.Headers.TryAddWithoutValidation("Content-Type", "multipart/related; type=\"application/dicom\"; boundary=b");
        var response = await Client.PostAsync("/dicomweb/studies", malformed);
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Conflict, $"{(int)response.StatusCode}");
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(fixture.Server.Data.FullName, "blobs", "tmp")));

        var noBoundary = new ByteArrayContent([1, 2, 3]);
        noBoundary.Headers.TryAddWithoutValidation("Content-Type", "multipart/related; type=\"application/dicom\"");
        Assert.Equal(HttpStatusCode.BadRequest, (await Client.PostAsync("/dicomweb/studies", noBoundary)).StatusCode);
    }

    [Fact]
    public async Task A_multipart_body_without_parts_or_cut_before_its_closing_delimiter_is_400_saying_so()
    {
        async Task<(HttpStatusCode Status, string Detail)> Post(string body)
        {
            var content = new ByteArrayContent(System.Text.Encoding.ASCII.GetBytes(body));
            content.Headers.TryAddWithoutValidation("Content-Type", "multipart/related; type=\"application/dicom\"; boundary=edge");
            var response = await Client.PostAsync("/dicomweb/studies", content);
            return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString()!);
        }

        var noParts = await Post("--edge--\r\n");
        var empty = await Post(string.Empty);
        var cut = await Post("--edge\r\nContent-Type: application/dicom\r\n\r\nDICM and then nothing");

        Assert.Equal((HttpStatusCode.BadRequest, "The multipart body holds no parts (none between '--edge' delimiters)."), noParts);
        Assert.Equal((HttpStatusCode.BadRequest, "Malformed multipart body: the body ended before its closing delimiter '--edge--'."), empty);
        Assert.Equal((HttpStatusCode.BadRequest, "Malformed multipart body: the body ended before its closing delimiter '--edge--'."), cut);
    }

    [Fact]
    public async Task A_wrong_content_type_is_415_and_a_bad_query_is_400()
    {
        var wrongType = await Client.PostAsync("/dicomweb/studies", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
        var unknownKey = await Client.GetAsync("/dicomweb/studies?NoSuchAttribute=1");
        var badDate = await Client.GetAsync("/dicomweb/studies?StudyDate=2020-13-45x");
        var badLimit = await Client.GetAsync("/dicomweb/studies?limit=-3");

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, wrongType.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, unknownKey.StatusCode);
        Assert.Contains("NoSuchAttribute", await unknownKey.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, badDate.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
    }

    [Fact]
    public async Task Unknown_resources_are_404_and_an_unknown_transfer_syntax_is_406()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/dicomweb/studies/1.2.3.4/metadata")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/dicomweb/studies/1.2.3.4")).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/dicomweb/studies/1.2.3.4");
        request.Headers.TryAddWithoutValidation("Accept", "multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.3.999");
        Assert.Equal(HttpStatusCode.NotAcceptable, (await Client.SendAsync(request)).StatusCode);
    }

    [CorpusFact]
    public async Task A_path_uid_no_instance_can_have_is_400_naming_it_before_anything_is_read_or_stored()
    {
        var tooLong = string.Join('.', Enumerable.Repeat("12345", 20));
        foreach (var (method, path, bad) in new[]
        {
            (HttpMethod.Get, "/dicomweb/studies/1.2.x/series", "1.2.x"),
            (HttpMethod.Get, $"/dicomweb/studies/1.2.3/series/{tooLong}/metadata", tooLong),
            (HttpMethod.Get, "/wadors/studies/1.2.3/series/4.5/instances/9.9.e9/frames/1", "9.9.e9"),
            (HttpMethod.Get, "/dicomweb/studies/abc%2F..%2F..%2Fetc/series", "abc"),
            (HttpMethod.Get, "/qidors/studies/1.2.3/series/4.5/instances/6.7-8/rendered", "6.7-8"),
            (HttpMethod.Delete, "/dicomweb/studies/abc", "abc"),
            (HttpMethod.Post, "/dicomweb/studies/1.2.3;4", "1.2.3;4"),
        })
        {
            using var request = new HttpRequestMessage(method, path);
            if (method == HttpMethod.Post)
            {
                request.Content = DicomWebClient.Multipart([File.ReadAllBytes(fixture.Files[0].Path)]);
            }

            var response = await Client.SendAsync(request);

            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{method} {path}: {(int)response.StatusCode} {body}");
            Assert.Contains($"'{(bad.Length > 80 ? bad[..80] + "..." : bad)}", body);
            Assert.Contains("is not a valid", body);
        }

        // Credentials come first: without them a malformed UID is a 401 like any other request.
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.Server.Anonymous.GetAsync("/dicomweb/studies/1.2.x/series")).StatusCode);
        using var badToken = new HttpRequestMessage(HttpMethod.Delete, "/dicomweb/studies/abc");
        badToken.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not.a.token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.Server.Anonymous.SendAsync(badToken)).StatusCode);

        // A well-formed UID that names nothing is still 404, and the corpus instance POSTed above under a bad URL was not stored under it.
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/dicomweb/studies/1.2.3/series/4.5/instances/6.7/metadata")).StatusCode);
        Assert.Equal("[]", await (await Client.GetAsync("/dicomweb/studies?StudyInstanceUID=1.2.3")).Content.ReadAsStringAsync());
    }

    [CorpusFact]
    public async Task Metadata_is_json_or_multipart_xml_as_the_accept_header_prefers_and_406_for_neither()
    {
        var metadata = $"{InstanceUrl(Oracles.First())}/metadata";
        async Task<(HttpStatusCode Status, string? Type)> Get(string? accept)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, metadata);
            if (accept is not null)
            {
                request.Headers.TryAddWithoutValidation("Accept", accept);
            }

            var response = await Client.SendAsync(request);
            var contentType = response.Content.Headers.ContentType;
            var type = contentType?.Parameters.FirstOrDefault(p => p.Name == "type")?.Value?.Trim('"');
            return (response.StatusCode, type is null ? contentType?.MediaType : $"{contentType!.MediaType}; {type}");
        }

        const string Xml = "multipart/related; application/dicom+xml";
        Assert.Equal((HttpStatusCode.OK, Xml), await Get("multipart/related; type=\"application/dicom+xml\""));
        Assert.Equal((HttpStatusCode.OK, Xml), await Get("multipart/related; type=application/dicom+xml"));
        Assert.Equal((HttpStatusCode.OK, Xml), await Get("multipart/related; type=\"application/dicom+xml\", application/dicom+json;q=0.5"));
        Assert.Equal((HttpStatusCode.OK, "application/dicom+json"), await Get("multipart/related; type=\"application/dicom+xml\";q=0.5, application/dicom+json"));
        Assert.Equal((HttpStatusCode.OK, "application/dicom+json"), await Get(null));
        Assert.Equal((HttpStatusCode.OK, "application/dicom+json"), await Get("application/dicom+json"));
        Assert.Equal((HttpStatusCode.OK, "application/dicom+json"), await Get("application/json"));
        Assert.Equal((HttpStatusCode.OK, "application/dicom+json"), await Get("text/html,application/xhtml+xml,*/*;q=0.8"));
        Assert.Equal((HttpStatusCode.NotAcceptable, "application/json"), await Get("text/csv"));
        Assert.Equal((HttpStatusCode.NotAcceptable, "application/json"), await Get("multipart/related; type=\"application/dicom\""));
        Assert.Equal((HttpStatusCode.NotAcceptable, "application/json"), await Get("application/dicom+json;q=0"));
    }

    [CorpusFact]
    public async Task The_accept_query_parameter_stands_for_the_accept_header()
    {
        var instance = InstanceUrl(fixture.Files.First(f => f.Name == "evrle_ct_small").Oracle);
        async Task<(HttpStatusCode Status, string? Type, byte[] Body)> Get(string path, string? header = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (header is not null)
            {
                request.Headers.TryAddWithoutValidation("Accept", header);
            }

            var response = await Client.SendAsync(request);
            return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsByteArrayAsync());
        }

        var png = await Get($"{instance}/rendered?accept=image/png", "image/jpeg");
        Assert.Equal((HttpStatusCode.OK, "image/png"), (png.Status, png.Type));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png.Body[..4]);
        Assert.Equal("multipart/related", (await Get($"{instance}/metadata?accept={Uri.EscapeDataString("multipart/related; type=\"application/dicom+xml\"")}")).Type);
        Assert.Equal((HttpStatusCode.NotAcceptable, "application/json"), ((await Get($"{instance}/metadata?accept=text/csv")).Status, (await Get($"{instance}/metadata?accept=text/csv")).Type));
        var search = await Get($"/dicomweb/studies?accept={Uri.EscapeDataString("application/dicom+json")}&charset=utf-8&limit=1");
        Assert.Equal((HttpStatusCode.OK, "application/dicom+json"), (search.Status, search.Type));

        foreach (var malformed in new[] { "%20", "image", Uri.EscapeDataString("image/png;;;=") })
        {
            var refused = await Get($"{instance}/rendered?accept={malformed}");
            Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
            Assert.Contains("accept query parameter", System.Text.Encoding.UTF8.GetString(refused.Body), StringComparison.Ordinal);
        }

        // Credentials come first: without them, or with a bad one, the parameter (good or not) changes nothing.
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.Server.Anonymous.GetAsync($"{instance}/rendered?accept=image/png")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.Server.Anonymous.GetAsync($"{instance}/metadata?accept=image")).StatusCode);
        using var badToken = new HttpRequestMessage(HttpMethod.Get, $"{instance}/metadata?accept={Uri.EscapeDataString("multipart/related; type=\"application/dicom+xml\"")}");
        badToken.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not.a.token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.Server.Anonymous.SendAsync(badToken)).StatusCode);
    }

    [CorpusFact]
    public async Task Xml_metadata_holds_the_data_sets_and_bulk_data_uris_of_the_json_metadata()
    {
        async Task<HttpResponseMessage> Get(string path, string accept)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.TryAddWithoutValidation("Accept", accept);
            var response = await Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return response;
        }

        var compared = 0;
        foreach (var study in Oracles.Select(o => CorpusServerFixture.Text(o, "0020000D")!).Distinct())
        {
            var jsonBulkData = new List<string>();
            var fromJson = Hounsfield.Dicom.Json.DicomJsonReader.ReadArray(
                await (await Get($"/dicomweb/studies/{study}/metadata", "application/dicom+json")).Content.ReadAsByteArrayAsync(),
                new Hounsfield.Dicom.Json.DicomJsonReadOptions { UnresolvedBulkData = r => jsonBulkData.Add($"{r.Path} {r.Uri}") });
            var xmlBulkData = new List<string>();
            var fromXml = (await DicomWebClient.ReadMultipartAsync(await Get($"/dicomweb/studies/{study}/metadata", "multipart/related; type=\"application/dicom+xml\"")))
                .Select(part => Hounsfield.Dicom.Xml.DicomXmlReader.Read(System.Text.Encoding.UTF8.GetString(part),
                    new Hounsfield.Dicom.Json.DicomJsonReadOptions { UnresolvedBulkData = r => xmlBulkData.Add($"{r.Path} {r.Uri}") }))
                .ToList();

            Assert.Equal(fromJson.Count, fromXml.Count);
            for (var i = 0; i < fromJson.Count; i++)
            {
                Assert.Equal(Hounsfield.Dicom.Json.DicomJsonWriter.Serialize(fromJson[i]), Hounsfield.Dicom.Json.DicomJsonWriter.Serialize(fromXml[i]));
            }

            Assert.Equal(jsonBulkData, xmlBulkData);
            compared += fromXml.Count;
        }

        Assert.Equal(Oracles.Select(o => CorpusServerFixture.Text(o, "00080018")).Distinct().Count(), compared);

        // And against DCMTK's reading of one file: the same elements, the same patient, pixel data by an absolute URI.
        var oracle = fixture.Files.First(f => f.Name == "evrle_ct_small").Oracle;
        var instanceUrl = InstanceUrl(oracle);
        var uris = new List<string>();
        var dataset = Hounsfield.Dicom.Xml.DicomXmlReader.Read(
            System.Text.Encoding.UTF8.GetString(Assert.Single(await DicomWebClient.ReadMultipartAsync(await Get($"{instanceUrl}/metadata", "multipart/related; type=\"application/dicom+xml\"")))),
            new Hounsfield.Dicom.Json.DicomJsonReadOptions { UnresolvedBulkData = r => uris.Add(r.Uri) });
        Assert.Equal(oracle.EnumerateObject().Select(e => e.Name).Order(), dataset.Select(e => e.Tag.ToString().Replace(",", string.Empty).Trim('(', ')')).Order());
        Assert.Equal(CorpusServerFixture.Text(oracle, "00100010"), dataset.GetString(Hounsfield.Dicom.DicomTag.PatientName));
        Assert.Contains($"http://127.0.0.1:{fixture.Server.Port}{instanceUrl}/bulkdata/7FE00010", uris);
    }

    [CorpusFact]
    public async Task Frames_are_the_decoded_pixels_of_the_oracle()
    {
        // Every stored instance (the first file of each SOP Instance UID) whose decoded frames the oracle hashed losslessly.
        var lossless = new[] { "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80" };
        var stored = fixture.Files.Where(f => Storable(f.Oracle)).GroupBy(f => CorpusServerFixture.Text(f.Oracle, "00080018")).Select(g => g.First())
            .Where(f => Corpus.Get(f.Name).FrameHashes() is not null && lossless.Contains(Corpus.Get(f.Name).TransferSyntaxUid)).ToList();
        Assert.True(stored.Count >= 20, $"only {stored.Count} instances to check");
        foreach (var (name, _, oracle) in stored)
        {
            var expected = Corpus.Get(name).FrameHashes()!;
            var instanceUrl = InstanceUrl(oracle);
            var frameList = string.Join(',', Enumerable.Range(1, expected.Length));

            var response = await Client.GetAsync($"{instanceUrl}/frames/{frameList}");

            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            var parts = await DicomWebClient.ReadMultipartAsync(response);
            Assert.Equal(expected, parts.Select(p => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(p))).ToArray());
        }
    }

    [CorpusFact]
    public async Task Wado_without_a_transfer_syntax_sends_explicit_vr_little_endian_unless_stored_lossy()
    {
        // PS3.18 §8.7.3.4; dicomweb-client's retrieveInstance asks this way. Before: every instance went as stored.
        foreach (var (name, expected) in new[] { ("ivrle_mr_small", "1.2.840.10008.1.2.1"), ("jpeg_lossless_sv1_u8", "1.2.840.10008.1.2.1"), ("jpeg_baseline_mono8", "1.2.840.10008.1.2.4.50") })
        {
            var (_, path, oracle) = fixture.Files.First(f => f.Name == name);
            using var request = new HttpRequestMessage(HttpMethod.Get, InstanceUrl(oracle));
            request.Headers.TryAddWithoutValidation("Accept", "multipart/related; type=\"application/dicom\"");
            var response = await Client.SendAsync(request);

            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            var file = Hounsfield.Dicom.DicomFile.Read(Assert.Single(await DicomWebClient.ReadMultipartAsync(response)));
            Assert.Equal(expected, file.TransferSyntax.Uid);
            var original = Hounsfield.Dicom.DicomFile.Open(path);
            Assert.Equal(
                Hounsfield.Imaging.Frames.PixelDataReader.Create(original)!.ReadFrame(0).Data,
                Hounsfield.Imaging.Frames.PixelDataReader.Create(file)!.ReadFrame(0).Data);
        }
    }

    [CorpusFact]
    public async Task A_compressed_instance_over_the_conversion_limit_goes_as_stored_when_no_syntax_is_named_and_is_406_when_one_is()
    {
        // Decoding is done in memory: past the limit the instance is sent as stored rather than buffered, and a request that
        // names a syntax needing a codec is refused with the setting named, by WADO-RS and WADO-URI alike.
        await using var server = await ServerProcess.StartAsync(null, "--Archive:MaxDefaultConversionLength", "1000");
        try
        {
            var file = Corpus.Get("jpeg_lossless_sv1_u8");
            using var content = DicomWebClient.Multipart([File.ReadAllBytes(file.Path)]);
            Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsync("/dicomweb/studies", content)).StatusCode);
            var (_, _, oracle) = fixture.Files.First(f => f.Name == file.Name);

            var response = await server.Client.GetAsync(InstanceUrl(oracle));

            Assert.Equal(File.ReadAllBytes(file.Path), Assert.Single(await DicomWebClient.ReadMultipartAsync(response)));
            foreach (var (accept, expected) in new[] { ("1.2.840.10008.1.2.1", HttpStatusCode.NotAcceptable), ("*", HttpStatusCode.OK) })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, InstanceUrl(oracle));
                request.Headers.TryAddWithoutValidation("Accept", $"multipart/related; type=\"application/dicom\"; transfer-syntax={accept}");
                using var named = await server.Client.SendAsync(request);
                Assert.Equal(expected, named.StatusCode);
                if (expected == HttpStatusCode.NotAcceptable)
                {
                    Assert.Contains("Archive:MaxDefaultConversionLength", await named.Content.ReadAsStringAsync(), StringComparison.Ordinal);
                }
            }

            var uids = $"studyUID={CorpusServerFixture.Text(oracle, "0020000D")}&seriesUID={CorpusServerFixture.Text(oracle, "0020000E")}&objectUID={CorpusServerFixture.Text(oracle, "00080018")}";
            using var wadoUri = await server.Client.GetAsync($"/wado?requestType=WADO&{uids}&contentType=application/dicom&transferSyntax=1.2.840.10008.1.2.1");
            Assert.Equal(HttpStatusCode.NotAcceptable, wadoUri.StatusCode);
            Assert.Contains("Archive:MaxDefaultConversionLength", await wadoUri.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        finally
        {
            await server.DeleteDataAsync();
        }
    }

    [CorpusFact]
    public async Task Frames_come_as_stored_when_their_media_type_and_transfer_syntax_are_asked_for()
    {
        // dicomweb-client asks for compressed frames as multipart/related; type="image/jls"; transfer-syntax=…; before, they came decoded.
        var (name, path, oracle) = fixture.Files.First(f => f.Name == "jpeg_lossless_sv1_u8");
        var stored = Hounsfield.Imaging.Frames.PixelDataReader.Create(Hounsfield.Dicom.DicomFile.Open(path))!.ReadCompressedFrame(0);
        foreach (var accept in new[]
        {
            "multipart/related; type=\"image/jpeg\"; transfer-syntax=1.2.840.10008.1.2.4.70",
            "multipart/related; type=\"image/jpeg\"",
            "multipart/related; type=\"image/*\"; transfer-syntax=*",
            "multipart/related; type=application/octet-stream; transfer-syntax=*",
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"{InstanceUrl(oracle)}/frames/1");
            request.Headers.TryAddWithoutValidation("Accept", accept);
            var response = await Client.SendAsync(request);

            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{accept}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Contains("type=\"image/jpeg\"", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
            Assert.Equal(stored, Assert.Single(await DicomWebClient.ReadMultipartAsync(response)));
        }

        // A compressed type the instance is not stored in falls back to the default, decoded frames (PS3.18 §8.7.3.3).
        using var other = new HttpRequestMessage(HttpMethod.Get, $"{InstanceUrl(oracle)}/frames/1");
        other.Headers.TryAddWithoutValidation("Accept", "multipart/related; type=\"image/jls\"; transfer-syntax=1.2.840.10008.1.2.4.80");
        var decoded = await Client.SendAsync(other);
        Assert.Contains("type=\"application/octet-stream\"", decoded.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
        Assert.Equal(Corpus.Get(name).FrameHashes()![0], Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Assert.Single(await DicomWebClient.ReadMultipartAsync(decoded)))));
    }

    [CorpusFact]
    public async Task A_byte_range_of_multipart_bulk_data_is_a_206_part_with_only_that_range()
    {
        // dicomweb-client's retrieveBulkData({ byteRange }) sends Range with a multipart Accept; before, the whole value came back.
        var (_, _, oracle) = fixture.Files.First(f => f.Name == "evrle_ct_small");
        var uri = Assert.Single(await JsonArrayAsync($"{InstanceUrl(oracle)}/metadata")).GetProperty("7FE00010").GetProperty("BulkDataURI").GetString()!;
        var whole = await Client.GetByteArrayAsync(uri);

        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.TryAddWithoutValidation("Accept", "multipart/related; type=\"application/octet-stream\"");
        request.Headers.Range = new RangeHeaderValue(10, 109);
        var response = await Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(whole.AsSpan(10, 100).ToArray(), Assert.Single(await DicomWebClient.ReadMultipartAsync(response)));

        using var outside = new HttpRequestMessage(HttpMethod.Get, uri);
        outside.Headers.TryAddWithoutValidation("Accept", "multipart/related; type=\"application/octet-stream\"");
        outside.Headers.Range = new RangeHeaderValue(whole.Length, whole.Length + 10);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, (await Client.SendAsync(outside)).StatusCode);
    }

    [CorpusFact]
    public async Task Instance_queries_return_rows_columns_and_bits_allocated_as_the_oracle_says()
    {
        var checkedCount = 0;
        foreach (var oracle in Oracles.Where(o => CorpusServerFixture.Text(o, "00280100") is not null).DistinctBy(o => CorpusServerFixture.Text(o, "00080018")))
        {
            var uid = CorpusServerFixture.Text(oracle, "00080018");
            var match = Assert.Single(JsonDocument.Parse(await Client.GetStringAsync($"/dicomweb/instances?SOPInstanceUID={uid}")).RootElement.EnumerateArray());
            foreach (var tag in new[] { "00280010", "00280011", "00280100" })
            {
                Assert.Equal(CorpusServerFixture.Text(oracle, tag), CorpusServerFixture.Text(match, tag));
            }

            checkedCount++;
        }

        Assert.True(checkedCount > 40, $"only {checkedCount} instances checked");
    }

    [CorpusFact]
    public async Task Wado_uri_serves_the_instance_and_rendered_images_and_rejects_bad_requests()
    {
        var (_, path, oracle) = fixture.Files.First(f => f.Name == "evrle_ct_small");
        var uids = $"studyUID={CorpusServerFixture.Text(oracle, "0020000D")}&seriesUID={CorpusServerFixture.Text(oracle, "0020000E")}&objectUID={CorpusServerFixture.Text(oracle, "00080018")}";
        var stored = Hounsfield.Dicom.DicomFile.Open(path);

        var asStored = await Client.GetAsync($"/wado?requestType=WADO&{uids}&contentType=application/dicom&transferSyntax={stored.TransferSyntax.Uid}");
        Assert.Equal("application/dicom", asStored.Content.Headers.ContentType?.MediaType);
        Assert.Equal(File.ReadAllBytes(path), await asStored.Content.ReadAsByteArrayAsync());

        var converted = Hounsfield.Dicom.DicomFile.Read(await Client.GetByteArrayAsync($"/dicomweb/wado?requestType=WADO&{uids}&contentType=application/dicom&transferSyntax=1.2.840.10008.1.2"));
        Assert.Equal("1.2.840.10008.1.2", converted.TransferSyntax.Uid);
        Assert.Equal(CorpusServerFixture.Text(oracle, "00080018"), converted.Dataset.GetString(Hounsfield.Dicom.DicomTag.SOPInstanceUID));

        var jpeg = await Client.GetAsync($"/wado?requestType=WADO&{uids}");
        Assert.Equal("image/jpeg", jpeg.Content.Headers.ContentType?.MediaType);
        Assert.Equal((128, 128), JpegSize(await jpeg.Content.ReadAsByteArrayAsync()));
        var png = await Client.GetAsync($"/wado?requestType=WADO&{uids}&contentType=image/png&windowCenter=40&windowWidth=400&rows=64");
        Assert.Equal((64, 64), PngSize(await png.Content.ReadAsByteArrayAsync()));

        Assert.Equal(HttpStatusCode.BadRequest, (await Client.GetAsync($"/wado?requestType=WADO&studyUID=1.2&seriesUID=1.3")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Client.GetAsync($"/wado?requestType=RETRIEVE&{uids}")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Client.GetAsync($"/wado?requestType=WADO&{uids}&windowCenter=40")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Client.GetAsync($"/wado?requestType=WADO&{uids}&contentType=application/dicom&transferSyntax=1.2.3.4")).StatusCode);
        Assert.Equal(HttpStatusCode.NotAcceptable, (await Client.GetAsync($"/wado?requestType=WADO&{uids}&contentType=text/html")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/wado?requestType=WADO&studyUID=1.2&seriesUID=1.3&objectUID=1.4")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.Server.Anonymous.GetAsync($"/wado?requestType=WADO&{uids}")).StatusCode);
    }

    [Fact]
    public async Task Cross_origin_viewers_are_served_only_from_configured_origins()
    {
        Assert.Equal("same-origin", (await fixture.Server.Anonymous.GetAsync("/health/live")).Headers.GetValues("Cross-Origin-Resource-Policy").Single());

        var server = await ServerProcess.StartAsync(null, "--Cors:Origins:0", "https://viewer.example");
        try
        {
            using var preflight = new HttpRequestMessage(HttpMethod.Options, "/dicomweb/studies");
            preflight.Headers.Add("Origin", "https://viewer.example");
            preflight.Headers.Add("Access-Control-Request-Method", "GET");
            preflight.Headers.Add("Access-Control-Request-Headers", "authorization");
            var answer = await server.Anonymous.SendAsync(preflight);
            Assert.True(answer.IsSuccessStatusCode, $"{(int)answer.StatusCode}");
            Assert.Equal("https://viewer.example", answer.Headers.GetValues("Access-Control-Allow-Origin").Single());

            using var get = new HttpRequestMessage(HttpMethod.Get, "/dicomweb/studies");
            get.Headers.Add("Origin", "https://viewer.example");
            var response = await server.Client.SendAsync(get);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("https://viewer.example", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.Equal("cross-origin", response.Headers.GetValues("Cross-Origin-Resource-Policy").Single());

            using var other = new HttpRequestMessage(HttpMethod.Get, "/dicomweb/studies");
            other.Headers.Add("Origin", "https://elsewhere.example");
            Assert.False((await server.Client.SendAsync(other)).Headers.Contains("Access-Control-Allow-Origin"));
        }
        finally
        {
            await server.DisposeAsync();
            server.Data.Delete(recursive: true);
        }
    }

    [CorpusFact]
    public async Task A_multi_frame_instance_rendered_as_gif_is_an_animation_whose_frames_are_the_single_frame_renders()
    {
        // The animation is rendered and written frame by frame as it is sent; each of its frames must be what the frame's
        // own /rendered gives (gray: the GIF palette holds every level exactly).
        var file = Corpus.Get("emri_10frame");
        var (_, _, oracle) = fixture.Files.First(f => f.Name == file.Name);
        var instanceUrl = InstanceUrl(oracle);

        var animation = GifReader.Read(await GetImageAsync($"{instanceUrl}/rendered", "image/gif"));

        Assert.Equal(10, animation.Frames.Count);
        Assert.Equal(CineTiming.GetGifDelayCentiseconds(Hounsfield.Dicom.DicomFile.Open(file.Path).Dataset), animation.Frames[0].DelayCentiseconds);
        for (var i = 0; i < animation.Frames.Count; i++)
        {
            var single = Assert.Single(GifReader.Read(await GetImageAsync($"{instanceUrl}/frames/{i + 1}/rendered", "image/gif")).Frames);
            Assert.Equal(single.ToRgb(), animation.Frames[i].ToRgb());
        }
    }

    [CorpusFact]
    public async Task Rendered_images_and_thumbnails_decode_with_the_expected_size()
    {
        var (_, _, oracle) = fixture.Files.First(f => f.Name == "evrle_ct_small");
        var instanceUrl = InstanceUrl(oracle);

        var png = await GetImageAsync($"{instanceUrl}/rendered", "image/png");
        var jpeg = await GetImageAsync($"{instanceUrl}/frames/1/rendered?window=40,400&quality=80", "image/jpeg");
        var viewport = await GetImageAsync($"{instanceUrl}/rendered?viewport=64,32", "image/png");
        var thumbnail = await GetImageAsync($"/dicomweb/studies/{CorpusServerFixture.Text(oracle, "0020000D")}/thumbnail", "image/jpeg");

        Assert.Equal((128, 128), PngSize(png));
        Assert.Equal((128, 128), JpegSize(jpeg));
        Assert.Equal((32, 32), PngSize(viewport));
        Assert.True(JpegSize(thumbnail).Width <= 128 && JpegSize(thumbnail).Height <= 128);
        Assert.Equal(HttpStatusCode.BadRequest, (await Client.GetAsync($"{instanceUrl}/rendered?window=40")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync($"{instanceUrl}/frames/2/rendered")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Client.GetAsync($"{instanceUrl}/frames/0")).StatusCode);
    }

    [Fact]
    public async Task The_api_is_described_by_an_openapi_document_with_a_browsable_ui()
    {
        var document = JsonDocument.Parse(await Client.GetStringAsync("/api/openapi.json")).RootElement;
        var ui = await Client.GetAsync("/api/docs/index.html");

        Assert.True(document.GetProperty("paths").TryGetProperty("/dicomweb/studies", out _));
        Assert.Equal(HttpStatusCode.OK, ui.StatusCode);
        Assert.Contains("swagger", await ui.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    private static string InstanceUrl(JsonElement oracle) =>
        $"/dicomweb/studies/{CorpusServerFixture.Text(oracle, "0020000D")}/series/{CorpusServerFixture.Text(oracle, "0020000E")}/instances/{CorpusServerFixture.Text(oracle, "00080018")}";

    private async Task<byte[]> GetImageAsync(string url, string mediaType)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd(mediaType);
        var response = await Client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(mediaType, response.Content.Headers.ContentType!.MediaType);
        return await response.Content.ReadAsByteArrayAsync();
    }

    private static (int Width, int Height) PngSize(byte[] png)
    {
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        return (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }

    /// <summary>The size in the first SOF marker; the stream must start with SOI and end with EOI.</summary>
    private static (int Width, int Height) JpegSize(byte[] jpeg)
    {
        Assert.Equal(new byte[] { 0xFF, 0xD8 }, jpeg[..2]);
        Assert.Equal(new byte[] { 0xFF, 0xD9 }, jpeg[^2..]);
        var i = 2;
        while (i + 9 < jpeg.Length)
        {
            var marker = jpeg[i + 1];
            var length = (jpeg[i + 2] << 8) | jpeg[i + 3];
            if (marker is 0xC0 or 0xC1 or 0xC2)
            {
                return ((jpeg[i + 7] << 8) | jpeg[i + 8], (jpeg[i + 5] << 8) | jpeg[i + 6]);
            }

            i += 2 + length;
        }

        throw new Xunit.Sdk.XunitException("no SOF marker");
    }

    private async Task<HashSet<string?>> StudyUidsAsync(string url) =>
        (await JsonArrayAsync(url)).Select(s => CorpusServerFixture.Text(s, "0020000D")).ToHashSet();

    private async Task<List<JsonElement>> JsonArrayAsync(string url)
    {
        var response = await Client.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }
}
