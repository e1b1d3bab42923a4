using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Hounsfield.Server.Accounts;

namespace Hounsfield.Server.Tests;

/// <summary>The developer services in a real `hounsfield serve` process.</summary>
public sealed class DeveloperServicesServerTests
{
    [Fact]
    public async Task TheFormatEndpointsArePublicOnTheServer()
    {
        await using var server = await ServerProcess.StartAsync();
        try
        {
            using var fields = await server.Client.GetAsync("/api/dicom-format/allowed-fields/?fields__contains=PatientBirth");
            Assert.Equal(HttpStatusCode.OK, fields.StatusCode);
            var body = JsonDocument.Parse(await fields.Content.ReadAsStringAsync()).RootElement;
            Assert.Contains("PatientBirthDate", body.GetProperty("allowedFields").EnumerateArray().Select(e => e.GetString()));

            using var types = await server.Client.GetAsync("/api/dicom-format/required-field-type/");
            var typed = JsonDocument.Parse(await types.Content.ReadAsStringAsync()).RootElement.GetProperty("requiredFieldTypes");
            Assert.Equal("<class 'int'>", typed.GetProperty("Rows").GetString());
            Assert.Equal("<class 'str'>", typed.GetProperty("PatientName").GetString());
        }
        finally
        {
            await server.DeleteDataAsync();
        }
    }

    /// <summary>
    /// read/file keeps the upload in memory: with TMPDIR pointed at an empty folder, neither it nor the data folder holds
    /// anything new afterwards. The upload is far above the 64 KiB from which ASP.NET's own form reader spools files to
    /// TMPDIR, so this fails if the endpoint ever goes through IFormFile.
    /// </summary>
    [CorpusFact]
    public async Task ReadFileWritesNothingToDisk()
    {
        var temp = Directory.CreateTempSubdirectory("hounsfield-tmpdir-");
        try
        {
            await using var server = await ServerProcess.StartAsync(new ServerStart { Environment = new Dictionary<string, string> { ["TMPDIR"] = temp.FullName } });
            server.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await DeveloperAccessTokenAsync(server.Client));
            var files = Corpus.Files.Where(f => !f.IsMalformed).OrderByDescending(f => new FileInfo(f.Path).Length).Take(3).ToList();
            var zip = DicomReadServiceTests.Zip(files.Select(f => (f.Name + ".dcm", File.ReadAllBytes(f.Path))));
            Assert.True(zip.Length > 256 << 10);
            var before = (Snapshot(server.Data), Snapshot(temp));

            using var content = new MultipartFormDataContent { { new ByteArrayContent(zip), "file", "study.zip" } };
            using var response = await server.Client.PostAsync("/api/dicom/read/file/", content);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(files.Count, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetArrayLength());

            var after = (Snapshot(server.Data), Snapshot(temp));
            Assert.Equal(before.Item2, after.Item2);
            // The index may record the call (quota, last use of a key): database files may change, by far less than the upload.
            Assert.Equal(before.Item1.Where(f => !IsDatabase(f.Path)), after.Item1.Where(f => !IsDatabase(f.Path)));
            Assert.True(after.Item1.Sum(f => f.Length) - before.Item1.Sum(f => f.Length) < zip.Length / 4);
            await server.DeleteDataAsync();
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    /// <summary>A new account made a developer through the documented flow: register, token, developer profile.</summary>
    internal static async Task<string> DeveloperAccessTokenAsync(HttpClient client)
    {
        var email = $"dev-{Guid.NewGuid():N}@example.com";
        const string password = "a long test password 1";
        using var register = await client.PostAsJsonAsync("/api/auth/register/", new { email, first_name = "Dev", last_name = "Eloper", password });
        Assert.Equal(HttpStatusCode.Created, register.StatusCode);
        using var token = await client.PostAsJsonAsync("/api/token/", new { email, password });
        var access = JsonDocument.Parse(await token.Content.ReadAsStringAsync()).RootElement.GetProperty("access").GetString()!;
        using var profile = new HttpRequestMessage(HttpMethod.Post, "/api/developer/profiles/") { Content = JsonContent.Create(new { purpose = "testing", organization = "Hounsfield tests" }) };
        profile.Headers.Authorization = new AuthenticationHeaderValue("Bearer", access);
        using var created = await client.SendAsync(profile);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return access;
    }

    private static bool IsDatabase(string path) => Path.GetFileName(path).Contains(".db", StringComparison.Ordinal);

    private static List<(string Path, long Length, DateTime Written)> Snapshot(DirectoryInfo directory) =>
        [.. directory.EnumerateFiles("*", SearchOption.AllDirectories)
            .Select(f => (Path.GetRelativePath(directory.FullName, f.FullName), f.Length, f.LastWriteTimeUtc))
            .OrderBy(f => f.Item1, StringComparer.Ordinal)];
}
