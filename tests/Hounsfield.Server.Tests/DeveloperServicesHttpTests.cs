using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Decoders;
using Hounsfield.Imaging.Encoders;
using Hounsfield.Imaging.Rendering;
using Hounsfield.Server.Accounts;
using Hounsfield.Server.Developer;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Hounsfield.Server.Tests;

/// <summary>
/// The developer services' endpoints over real HTTP (Kestrel on loopback, in process). Accounts are another branch's
/// work: here a test scheme lets every request in under the developer policy, so the endpoint layer — forms, JSON
/// shapes, status codes, headers, Kestrel's body limit — is tested on its own.
/// </summary>
public sealed class DeveloperServicesHttpTests : IClassFixture<DeveloperServicesHttpTests.Host>
{
    private readonly Host host;

    public DeveloperServicesHttpTests(Host host)
    {
        this.host = host;
    }

    [Fact]
    public void MeteredEndpointsCarryTheDeveloperPolicyAndTheirDocumentedPath()
    {
        var endpoints = host.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        foreach (var (route, metered) in new[] { ("/api/dicom/read/file/", "/api/dicom/read/file/"), ("/api/dicom/generate/", "/api/dicom/generate/"), ("/api/dicom/write/upload_content/", "/api/dicom/generate/") })
        {
            var endpoint = endpoints.Single(e => e.RoutePattern.RawText == route);
            Assert.Equal(metered, endpoint.Metadata.GetMetadata<MeteredEndpoint>()?.Path);
            Assert.Contains(endpoint.Metadata.GetOrderedMetadata<Microsoft.AspNetCore.Authorization.IAuthorizeData>(), a => a.Policy == AuthorizationPolicies.Developer);
        }

        foreach (var route in new[] { "/api/dicom-format/allowed-fields/", "/api/dicom-format/required-field-type/" })
        {
            var endpoint = endpoints.Single(e => e.RoutePattern.RawText == route);
            Assert.Null(endpoint.Metadata.GetMetadata<MeteredEndpoint>());
            Assert.NotNull(endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAllowAnonymous>());
        }
    }

    [Fact]
    public async Task AllowedFieldsAnswerWithTheDocumentedShape()
    {
        var body = await GetJsonAsync("/api/dicom-format/allowed-fields/?fields__startswith=PatientBirth&fields__endswith=Date");
        Assert.Equal(["PatientBirthDate"], body.GetProperty("allowedFields").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("2024d", body.GetProperty("dicomVersion").GetString());

        var types = await GetJsonAsync("/api/dicom-format/required-field-type/?fields__regex=^(Rows|PixelSpacing)$");
        Assert.Equal("<class 'int'>", types.GetProperty("requiredFieldTypes").GetProperty("Rows").GetString());
        Assert.Equal("<class 'float'>", types.GetProperty("requiredFieldTypes").GetProperty("PixelSpacing").GetString());

        using var invalid = await host.Client.GetAsync("/api/dicom-format/allowed-fields/?fields__regex=(");
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var error = JsonDocument.Parse(await invalid.Content.ReadAsStringAsync()).RootElement;
        Assert.StartsWith("Invalid regex pattern: ", error.GetProperty("fields__regex")[0].GetString(), StringComparison.Ordinal);
    }

    [CorpusFact]
    public async Task ReadAnswersOneObjectWithMetadataAndBase64Images()
    {
        var bytes = File.ReadAllBytes(Corpus.Get("rgb_odd_3x3").Path);
        using var response = await host.Client.PostAsync("/api/dicom/read/file/?fields=PatientID,Rows", Form(("file", "a.dcm", bytes)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(["PatientID", "Rows", "ImageFormat", "Images"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal("3", body.GetProperty("Rows").GetString());
        Assert.Equal("png", body.GetProperty("ImageFormat").GetString());
        var png = PngDecoder.Decode(body.GetProperty("Images")[0].GetBytesFromBase64());
        var expected = FrameRenderer.Render(DicomFile.Read(bytes), 0, RenderOptions.Default);
        Assert.Equal(expected.Pixels, png.Samples);
    }

    [CorpusFact]
    public async Task ReadOfAZipAnswersAnArrayAndFormFieldsWinOverTheQuery()
    {
        var zip = DicomReadServiceTests.Zip([("one.dcm", File.ReadAllBytes(Corpus.Get("rgb_odd_3x3").Path)), ("two.dcm", File.ReadAllBytes(Corpus.Get("evrle_ct_small").Path))]);
        using var content = Form(("file", "study.zip", zip));
        content.Add(new StringContent("Rows"), "fields");
        content.Add(new StringContent("gif"), "return_format");
        using var response = await host.Client.PostAsync("/api/dicom/read/file/?fields=PatientID&return_format=jpeg", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(JsonValueKind.Array, body.ValueKind);
        Assert.Equal(["one.dcm", "two.dcm"], body.EnumerateArray().Select(f => f.GetProperty("FileName").GetString()));
        Assert.All(body.EnumerateArray(), f =>
        {
            Assert.Equal(["FileName", "Rows", "ImageFormat", "Images"], f.EnumerateObject().Select(p => p.Name));
            Assert.Equal("gif", f.GetProperty("ImageFormat").GetString());
            Assert.StartsWith("GIF89a", System.Text.Encoding.ASCII.GetString(f.GetProperty("Images")[0].GetBytesFromBase64(), 0, 6), StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task ReadErrorsHaveTheDocumentedBodies()
    {
        using var noFile = Form();
        noFile.Add(new StringContent("PatientName"), "fields");
        await AssertErrorAsync(await host.Client.PostAsync("/api/dicom/read/file/", noFile), HttpStatusCode.BadRequest, "file", "No file was submitted.");
        await AssertErrorAsync(await host.Client.PostAsync("/api/dicom/read/file/", null), HttpStatusCode.BadRequest, "file", "No file was submitted.");
        await AssertErrorAsync(await host.Client.PostAsync("/api/dicom/read/file/", Form(("file", "x.dcm", "plain text, not DICOM"u8.ToArray()))), HttpStatusCode.BadRequest, "file", "Invalid DICOM file");
        await AssertErrorAsync(await host.Client.PostAsync("/api/dicom/read/file/?fields=Nope,PatientName", Form(("file", "x.dcm", new byte[300]))), HttpStatusCode.BadRequest, "fields", "Invalid fields: Nope");
    }

    [Fact]
    public async Task AnUploadOverTheLimitIs413AndTheServerCarriesOn()
    {
        using var response = await host.Client.PostAsync("/api/dicom/read/file/", Form(("file", "big.dcm", new byte[Host.MaxUploadBytes + 1])));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("Developer:MaxUploadBytes", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await GetJsonAsync("/api/dicom-format/allowed-fields/?fields__contains=Rows");
    }

    [Fact]
    public async Task TenThousandFieldsAre400AndTheServerCarriesOn()
    {
        using var content = Form();
        for (var i = 0; i < 10_000; i++)
        {
            content.Add(new StringContent("x"), $"Field{i}");
        }

        using var response = await host.Client.PostAsync("/api/dicom/generate/", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("more than 500 fields", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await GetJsonAsync("/api/dicom-format/allowed-fields/?fields__contains=Rows");
    }

    [Theory]
    [InlineData("/api/dicom/generate/")]
    [InlineData("/api/dicom/write/upload_content/")]
    public async Task GenerateAnswersADicomAttachment(string path)
    {
        var png = PngEncoder.Encode(new RenderedImage(3, 2, 3, [.. Enumerable.Range(0, 18).Select(i => (byte)(i * 13))]));
        using var content = Form(("image", "photo.png", png));
        content.Add(new StringContent("../my \"scan\"\r\n"), "file_name");
        content.Add(new StringContent("Doe^John"), "PatientName");
        using var response = await host.Client.PostAsync(path, content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/dicom", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment; filename=\"my _scan___.dcm\"", string.Join(", ", response.Content.Headers.GetValues("Content-Disposition")));
        var file = DicomFile.Read(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("Doe^John", file.Dataset.GetString(DicomTag.PatientName));
        Assert.Equal("RGB", file.Dataset.GetString(DicomTag.PhotometricInterpretation));
    }

    [Fact]
    public async Task GenerateErrorsArePerFieldAndAnOversizedImageIs413()
    {
        var png = PngEncoder.Encode(new RenderedImage(2, 2, 1, new byte[4]));
        using var content = Form(("image", "a.png", png));
        content.Add(new StringContent("31/01/1980"), "PatientBirthDate");
        using var invalid = await host.Client.PostAsync("/api/dicom/generate/", content);
        await AssertErrorAsync(invalid, HttpStatusCode.BadRequest, "PatientBirthDate", "A date is YYYYMMDD, e.g. 19800131.");

        using var large = await host.Client.PostAsync("/api/dicom/generate/", Form(("image", "huge.png", new byte[Host.MaxImageBytes + 1])));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, large.StatusCode);
        Assert.Contains("Developer:MaxImageBytes", JsonDocument.Parse(await large.Content.ReadAsStringAsync()).RootElement.GetProperty("image")[0].GetString(), StringComparison.Ordinal);
    }

    private static MultipartFormDataContent Form(params (string Name, string FileName, byte[] Content)[] files)
    {
        var content = new MultipartFormDataContent();
        foreach (var (name, fileName, bytes) in files)
        {
            var part = new ByteArrayContent(bytes);
            part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            content.Add(part, name, fileName);
        }

        return content;
    }

    private static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string field, string message)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(status == response.StatusCode, $"{response.StatusCode}: {text}");
            var body = JsonDocument.Parse(text).RootElement;
            Assert.True(body.TryGetProperty(field, out var messages), text);
            Assert.Equal([message], messages.EnumerateArray().Select(e => e.GetString()));
        }
    }

    private async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await host.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    /// <summary>Kestrel on a free loopback port with the developer services and a scheme that authenticates every request.</summary>
    public sealed class Host : IAsyncLifetime
    {
        public const int MaxUploadBytes = 4 << 20;
        public const int MaxImageBytes = 1 << 20;

        public WebApplication App { get; private set; } = null!;

        public HttpClient Client { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            var builder = WebApplication.CreateBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Configuration["Developer:MaxUploadBytes"] = MaxUploadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
            builder.Configuration["Developer:MaxImageBytes"] = MaxImageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
            builder.Services.AddAuthentication(EveryoneHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, EveryoneHandler>(EveryoneHandler.SchemeName, null);
            builder.Services.AddAuthorization(o => o.AddPolicy(AuthorizationPolicies.Developer, p => p.RequireAuthenticatedUser()));
            builder.Services.AddDeveloperServices(builder.Configuration);
            App = builder.Build();
            App.UseAuthentication();
            App.UseAuthorization();
            App.MapDeveloperServices();
            await App.StartAsync();
            var address = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            Client = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(60) };
        }

        public async Task DisposeAsync()
        {
            Client.Dispose();
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }

    private sealed class EveryoneHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string SchemeName = "Test";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync() =>
            Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "developer")], SchemeName)), SchemeName)));
    }
}
