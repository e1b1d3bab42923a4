using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Xml.Linq;
using Hounsfield.Testing;

namespace Hounsfield.Server.Tests;

public sealed class CliTests
{
    [CorpusFact]
    public void Dump_shows_tag_vr_value_and_keyword_of_each_element()
    {
        var (exitCode, stdout, stderr) = CliRunner.Run("dump", Corpus.Get("evrle_ct_small").Path);

        Assert.Equal(0, exitCode);
        Assert.Equal(string.Empty, stderr);
        var patientName = stdout.Split('\n').Single(l => l.StartsWith("(0010,0010)", StringComparison.Ordinal));
        Assert.Contains("PN [CompressedSamples^CT1]", patientName);
        Assert.EndsWith("PatientName", patientName.TrimEnd());
        Assert.Contains("(0002,0010) UI [1.2.840.10008.1.2.1]", stdout);
    }

    [CorpusFact]
    public void Json_prints_the_data_set_with_the_oracle_values()
    {
        var (exitCode, stdout, _) = CliRunner.Run("json", Corpus.Get("charset_utf8").Path);

        Assert.Equal(0, exitCode);
        var ours = JsonDocument.Parse(stdout).RootElement;
        var oracle = JsonDocument.Parse(File.ReadAllText(Corpus.Get("charset_utf8").OraclePath("dcm2json.json"))).RootElement;
        Assert.Equal(
            oracle.GetProperty("00100010").GetProperty("Value")[0].GetProperty("Ideographic").GetString(),
            ours.GetProperty("00100010").GetProperty("Value")[0].GetProperty("Ideographic").GetString());
        Assert.False(ours.TryGetProperty("00020010", out _), "file meta information must not be in the JSON");
        Assert.Equal(oracle.EnumerateObject().Count(), ours.EnumerateObject().Count());
    }

    [CorpusFact]
    public void Xml_prints_a_native_dicom_model_document()
    {
        var (exitCode, stdout, _) = CliRunner.Run("xml", Corpus.Get("evrle_ct_small").Path);

        Assert.Equal(0, exitCode);
        var document = XDocument.Parse(stdout);
        XNamespace ns = "http://dicom.nema.org/PS3.19/models/NativeDICOM";
        Assert.Equal(ns + "NativeDicomModel", document.Root!.Name);
        var name = document.Root.Elements(ns + "DicomAttribute").Single(e => (string?)e.Attribute("tag") == "00100010");
        Assert.Equal("PatientName", (string?)name.Attribute("keyword"));
        Assert.Equal("CompressedSamples", name.Descendants(ns + "FamilyName").Single().Value);
    }

    [CorpusFact]
    public void A_malformed_file_exits_1_with_one_line_and_no_stack_trace()
    {
        var (exitCode, stdout, stderr) = CliRunner.Run("dump", Corpus.Get("truncated_rtplan").Path);

        Assert.Equal(1, exitCode);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("truncated_rtplan", lines[0]);
        Assert.DoesNotContain("   at ", stderr);
        Assert.DoesNotContain("Exception", stderr);
        _ = stdout;
    }

    [Fact]
    public void A_missing_file_exits_1_with_one_line()
    {
        var (exitCode, _, stderr) = CliRunner.Run("json", "/nonexistent/file.dcm");

        Assert.Equal(1, exitCode);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void A_file_that_is_not_dicom_exits_1()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "this is not a DICOM file, just some text that goes on for a while.");
            var (exitCode, _, stderr) = CliRunner.Run("json", path);

            Assert.Equal(1, exitCode);
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [CorpusTheory]
    [InlineData("dump")]
    [InlineData("scan")]
    public void An_unknown_option_of_dump_or_scan_exits_2_naming_it_and_reads_nothing(string command)
    {
        var (exitCode, stdout, stderr) = CliRunner.Run(command, "--headeronly", Corpus.Get("evrle_ct_small").Path);

        Assert.Equal(2, exitCode);
        Assert.Equal(string.Empty, stdout);
        Assert.Contains("unknown option '--headeronly'", stderr);
        Assert.Contains($"usage: hounsfield {command} ", stderr);
    }

    [Theory]
    [InlineData("notaport", "PORT is a number from 1 to 65535, not 'notaport'")]
    [InlineData("70000", "PORT is a number from 1 to 65535, not '70000'")]
    public void A_dimse_command_with_a_bad_port_exits_2_naming_it(string port, string message)
    {
        var (exitCode, _, stderr) = CliRunner.Run("echo", "127.0.0.1", port);

        Assert.Equal(2, exitCode);
        Assert.Contains(message, stderr);
    }

    [Theory]
    [InlineData("-5")]
    [InlineData("0")]
    [InlineData("soon")]
    public void A_dimse_command_with_a_bad_timeout_exits_2_naming_it(string timeout)
    {
        var (exitCode, _, stderr) = CliRunner.Run("echo", "127.0.0.1", "11112", "--timeout", timeout);

        Assert.Equal(2, exitCode);
        Assert.Contains($"--timeout needs a number of seconds above 0 and at most 86400, not '{timeout}'", stderr);
    }

    [Theory]
    [InlineData("pixels", "x.dcm --output o.raw --frame", "--frame needs a value", "usage: hounsfield pixels FILE")]
    [InlineData("pixels", "x.dcm --output o.raw --frame 0", "--frame needs a frame number from 1, not '0'", "usage: hounsfield pixels FILE")]
    [InlineData("render", "x.dcm -o o.png --size 0x5", "--size: '0x5' is not WIDTH or WIDTHxHEIGHT", "usage: hounsfield render FILE")]
    [InlineData("render", "x.dcm --quality 101 -o o.png", "--quality: '101' is not 1 to 100", "usage: hounsfield render FILE")]
    [InlineData("transcode", "x.dcm --output o.dcm", "--transfer-syntax is required", "usage: hounsfield transcode FILE")]
    [InlineData("transcode", "a.dcm b.dcm -t 1.2.840.10008.1.2.1 -o o.dcm", "unexpected argument 'b.dcm'", "usage: hounsfield transcode FILE")]
    [InlineData("json", "--pretty x.dcm", "unknown option '--pretty'", "usage: hounsfield json FILE")]
    [InlineData("xml", "", "no FILE given", "usage: hounsfield xml FILE")]
    [InlineData("users", "role a@example.org admin --database d", "unknown option '--database'", "users role EMAIL")]
    [InlineData("find", "127.0.0.1 11112 --level study --model x", "--model is patient or study, not 'x'", "find HOST PORT --level L")]
    [InlineData("find", "127.0.0.1 11112 --level series -k RequestAttributesSequence=x", "key 'RequestAttributesSequence' is a sequence: give keys of its item as RequestAttributesSequence[0].KEY[=VALUE]", "find HOST PORT --level L")]
    [InlineData("find", "127.0.0.1 11112 --level series -k PatientName.PatientID=x", "key 'PatientName.PatientID': a key inside a sequence is SEQUENCE[0].KEY, one level deep", "find HOST PORT --level L")]
    [InlineData("find", "127.0.0.1 11112 --level series -k RequestAttributesSequence[1].ScheduledProcedureStepID=x", "unknown key 'RequestAttributesSequence[1].ScheduledProcedureStepID'", "find HOST PORT --level L")]
    [InlineData("find", "127.0.0.1 11112 --level study -k SpecificCharacterSet=GBK -k PatientName=\U0001F600", "The character '\U0001F600' (U+1F600) at position 0 cannot be encoded in Specific Character Set 'GBK'", "find HOST PORT --level L")]
    [InlineData("echo", "127.0.0.1 11112 --aet", "--aet needs a value", "echo HOST PORT")]
    public void Argument_errors_exit_2_with_the_problem_and_the_command_usage_before_any_file_is_read(string command, string arguments, string problem, string usage)
    {
        var (exitCode, stdout, stderr) = CliRunner.Run([command, .. arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)]);

        Assert.Equal(2, exitCode);
        Assert.Equal(string.Empty, stdout);
        Assert.Contains($"hounsfield: {command}: {problem}", stderr, StringComparison.Ordinal);
        Assert.Contains(usage, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Dump_without_a_file_exits_2_with_its_usage()
    {
        var (exitCode, _, stderr) = CliRunner.Run("dump", "--header-only");

        Assert.Equal(2, exitCode);
        Assert.Contains("no FILE given", stderr);
        Assert.Contains("usage: hounsfield dump FILE...", stderr);
    }

    [Fact]
    public void An_unknown_command_prints_usage_and_exits_2()
    {
        var (exitCode, _, stderr) = CliRunner.Run("frobnicate");

        Assert.Equal(2, exitCode);
        Assert.Contains("usage: hounsfield", stderr);
    }

    [Fact]
    public async Task Serve_answers_health_probes()
    {
        var port = FreePorts.Next();
        var data = Directory.CreateTempSubdirectory("hounsfield-serve-");
        using var server = CliRunner.Start("serve", "--urls", $"http://127.0.0.1:{port}", "--data", data.FullName, "--dicom-port", "0");
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var response = await WaitForAsync(client, "/health/live");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
            data.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_second_serve_on_the_same_data_folder_exits_with_a_message_and_leaves_the_first_serving()
    {
        var data = Directory.CreateTempSubdirectory("hounsfield-lock-");
        try
        {
            await using var first = await ServerProcess.StartAsync(data);

            var (exitCode, _, stderr) = CliRunner.Run("serve", "--urls", $"http://127.0.0.1:{FreePorts.Next()}", "--data", data.FullName, "--dicom-port", "0");

            Assert.Equal(1, exitCode);
            Assert.Contains("is in use by another hounsfield serve", stderr, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, (await first.Client.GetAsync("/health/ready")).StatusCode);
        }
        finally
        {
            data.Delete(recursive: true);
        }
    }

    private static async Task<HttpResponseMessage> WaitForAsync(HttpClient client, string path)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                return await client.GetAsync(path);
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }
}
