using System.Net.Http.Headers;
using System.Text;
using Hounsfield.Server.Developer;
using Microsoft.AspNetCore.Http;

namespace Hounsfield.Server.Tests;

/// <summary>The bounded multipart/form-data reader of the developer services: fields, files, and every limit as a clear 4xx.</summary>
public sealed class MultipartFormTests
{
    [Fact]
    public async Task TextFieldsAndFilesAreReadInOrder()
    {
        using var content = new MultipartFormDataContent("boundary-1")
        {
            { new StringContent("PatientName,Rows"), "fields" },
            { new ByteArrayContent([1, 2, 3]), "file", "scan.dcm" },
            { new StringContent("Müller^Jürgen"), "PatientName" },
            { new StringContent("second"), "fields" },
        };

        var form = await ReadAsync(content, maxFileBytes: 10);

        Assert.Equal([new("fields", "PatientName,Rows"), new("PatientName", "Müller^Jürgen"), new("fields", "second")], form.Fields);
        Assert.Equal("second", form.Field("fields"));
        var file = Assert.Single(form.Files);
        Assert.Equal(("file", "scan.dcm"), (file.FieldName, file.FileName));
        Assert.Equal([1, 2, 3], file.Content.ToArray());
    }

    [Fact]
    public async Task AFileOverTheLimitIs413NamingTheLimit()
    {
        using var content = new MultipartFormDataContent { { new ByteArrayContent(new byte[1001]), "file", "big.dcm" } };
        var error = await Assert.ThrowsAsync<DicomServiceException>(() => ReadAsync(content, maxFileBytes: 1000));
        Assert.Equal(413, error.StatusCode);
        Assert.Contains("Developer:MaxUploadBytes", Assert.Single(error.FieldErrors!["file"]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADeclaredBodyFarOverTheLimitIs413BeforeReading()
    {
        using var content = new MultipartFormDataContent { { new ByteArrayContent(new byte[16]), "file", "a.dcm" } };
        var context = await ContextAsync(content);
        context.Request.ContentLength = 1L << 40;
        var error = await Assert.ThrowsAsync<DicomServiceException>(() => MultipartForm.ReadAsync(context.Request, 1000, "Developer:MaxUploadBytes", new DicomServicesOptions(), CancellationToken.None));
        Assert.Equal(413, error.StatusCode);
        Assert.Null(error.FieldErrors);
    }

    [Fact]
    public async Task TenThousandFieldsAreRefusedWithAClearMessage()
    {
        using var content = new MultipartFormDataContent();
        for (var i = 0; i < 10_000; i++)
        {
            content.Add(new StringContent("x"), "PatientName");
        }

        var error = await Assert.ThrowsAsync<DicomServiceException>(() => ReadAsync(content, maxFileBytes: 1000));
        Assert.Equal(400, error.StatusCode);
        Assert.Equal("The form has more than 500 fields (Developer:MaxFormFields).", error.Message);
    }

    [Fact]
    public async Task TextBeyondItsBudgetIs413()
    {
        using var content = new MultipartFormDataContent { { new StringContent(new string('a', 2000)), "ImageComments" } };
        var error = await Assert.ThrowsAsync<DicomServiceException>(() => ReadAsync(content, 1000, new DicomServicesOptions { MaxFormTextBytes = 1000 }));
        Assert.Equal(413, error.StatusCode);
    }

    [Fact]
    public async Task OtherMediaTypesAre415AndNoBodyIsAnEmptyForm()
    {
        using var json = new StringContent("{}", Encoding.UTF8, "application/json");
        Assert.Equal(415, (await Assert.ThrowsAsync<DicomServiceException>(() => ReadAsync(json, 1000))).StatusCode);

        var empty = new DefaultHttpContext();
        var form = await MultipartForm.ReadAsync(empty.Request, 1000, "limit", new DicomServicesOptions(), CancellationToken.None);
        Assert.Empty(form.Fields);
        Assert.Empty(form.Files);
    }

    [Fact]
    public async Task AMalformedBodyIs400()
    {
        using var content = new ByteArrayContent("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue without a closing boundary"u8.ToArray());
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=b");
        var error = await Assert.ThrowsAsync<DicomServiceException>(() => ReadAsync(content, 1000));
        Assert.Equal(400, error.StatusCode);
    }

    private static async Task<MultipartForm> ReadAsync(HttpContent content, long maxFileBytes, DicomServicesOptions? options = null)
    {
        var context = await ContextAsync(content);
        return await MultipartForm.ReadAsync(context.Request, maxFileBytes, "Developer:MaxUploadBytes", options ?? new DicomServicesOptions(), CancellationToken.None);
    }

    private static async Task<DefaultHttpContext> ContextAsync(HttpContent content)
    {
        var body = await content.ReadAsByteArrayAsync();
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.ContentType = content.Headers.ContentType!.ToString();
        context.Request.ContentLength = body.Length;
        context.Request.Body = new MemoryStream(body);
        return context;
    }
}
