// The DICOMaestro developer DICOM services (DESIGN §3): thin adapters over DicomReadService and DicomGenerateService.
using System.Text.Json;
using Hounsfield.Server.Accounts;
using Hounsfield.Server.Cli;

namespace Hounsfield.Server.Developer;

internal static class DeveloperServicesEndpoints
{
    public const string ReadPath = "/api/dicom/read/file/";
    public const string GeneratePath = "/api/dicom/generate/";
    public const string GenerateAliasPath = "/api/dicom/write/upload_content/";

    public static IServiceCollection AddDeveloperServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(configuration.Read<DicomServicesOptions>(DicomServicesOptions.SectionName));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<DicomReadService>();
        services.AddSingleton<DicomGenerateService>();
        return services;
    }

    /// <summary>Maps the public format endpoints and the metered read and generate services (developer policy).</summary>
    public static IEndpointRouteBuilder MapDeveloperServices(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/dicom-format/allowed-fields/", AllowedFields)
            .AllowAnonymous()
            .WithTags("DICOM services")
            .WithSummary("Every DICOM keyword of the dictionary, sorted; filters fields__contains, fields__startswith, fields__endswith, fields__regex.");
        app.MapGet("/api/dicom-format/required-field-type/", RequiredFieldTypes)
            .AllowAnonymous()
            .WithTags("DICOM services")
            .WithSummary("The Python type of each keyword's values, from its VR (same filters as allowed-fields).");

        app.MapPost(ReadPath, ReadAsync)
            .RequireAuthorization(AuthorizationPolicies.Developer)
            .WithMetadata(new MeteredEndpoint(ReadPath))
            .DisableAntiforgery()
            .WithTags("DICOM services")
            .WithSummary("Metadata and rendered frames of an uploaded .dcm, or of every file of a .zip; nothing is stored.");
        foreach (var path in new[] { GeneratePath, GenerateAliasPath })
        {
            app.MapPost(path, GenerateAsync)
                .RequireAuthorization(AuthorizationPolicies.Developer)
                .WithMetadata(new MeteredEndpoint(GeneratePath))
                .DisableAntiforgery()
                .WithTags("DICOM services")
                .WithSummary("A Secondary Capture DICOM file from a PNG or JPEG and DICOM attributes given by keyword.");
        }

        return app;
    }

    private static IResult AllowedFields(HttpContext context, DicomServicesOptions options)
    {
        try
        {
            var fields = KeywordFilter.FromQuery(context.Request.Query, options).Apply(DicomFieldCatalog.Keywords);
            return Results.Json(new { allowedFields = fields, dicomVersion = DicomFieldCatalog.DicomVersion });
        }
        catch (DicomServiceException ex)
        {
            return ex.ToResult();
        }
    }

    private static IResult RequiredFieldTypes(HttpContext context, DicomServicesOptions options)
    {
        try
        {
            var fields = KeywordFilter.FromQuery(context.Request.Query, options).Apply(DicomFieldCatalog.Keywords);
            var types = new Dictionary<string, string>(fields.Count, StringComparer.Ordinal);
            foreach (var keyword in fields)
            {
                if (DicomFieldCatalog.Find(keyword) is { } entry && DicomFieldCatalog.PythonType(entry) is { } type)
                {
                    types[keyword] = type;
                }
            }

            return Results.Json(new { requiredFieldTypes = types, dicomVersion = DicomFieldCatalog.DicomVersion });
        }
        catch (DicomServiceException ex)
        {
            return ex.ToResult();
        }
    }

    private static async Task<IResult> ReadAsync(HttpContext context, DicomReadService service, DicomServicesOptions options, CancellationToken cancellationToken)
    {
        DicomReadResponse response;
        try
        {
            var form = await MultipartForm.ReadAsync(context.Request, options.MaxUploadBytes, "Developer:MaxUploadBytes", options, cancellationToken);
            var files = form.Files.Where(f => f.FieldName == "file").ToList();
            if (files.Count == 0)
            {
                throw DicomServiceException.Field("file", "No file was submitted.");
            }

            if (files.Count > 1)
            {
                throw DicomServiceException.Field("file", "Submit one file; put several DICOM files in a .zip.");
            }

            var query = context.Request.Query;
            var fields = form.Field("fields") ?? query["fields"].LastOrDefault();
            var format = form.Field("return_format") ?? query["return_format"].LastOrDefault();
            response = service.Read(files[0].Content, fields, format, cancellationToken);
        }
        catch (DicomServiceException ex)
        {
            return ex.ToResult();
        }

        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.Body);
        if (response.IsArchive)
        {
            json.WriteStartArray();
        }

        foreach (var file in response.Files)
        {
            await WriteResultAsync(json, file, cancellationToken);
        }

        if (response.IsArchive)
        {
            json.WriteEndArray();
        }

        await json.FlushAsync(cancellationToken);
        return Results.Empty;
    }

    /// <summary>One file's object: "FileName" (zip entries), the metadata, "ImageFormat", "Images" and, when rendering failed, "ImageError".</summary>
    private static async Task WriteResultAsync(Utf8JsonWriter json, DicomReadResult file, CancellationToken cancellationToken)
    {
        json.WriteStartObject();
        if (file.FileName is not null)
        {
            json.WriteString("FileName", file.FileName);
        }

        foreach (var (keyword, value) in file.Metadata)
        {
            json.WriteString(keyword, value);
        }

        json.WriteString("ImageFormat", file.ImageFormat.ToString().ToLowerInvariant());
        json.WriteStartArray("Images");
        foreach (var image in file.Images)
        {
            json.WriteBase64StringValue(image);
            await json.FlushAsync(cancellationToken); // images are large: hand each one to the response as it is written
        }

        json.WriteEndArray();
        if (file.ImageError is not null)
        {
            json.WriteString("ImageError", file.ImageError);
        }

        json.WriteEndObject();
    }

    private static async Task<IResult> GenerateAsync(HttpContext context, DicomGenerateService service, DicomServicesOptions options, CancellationToken cancellationToken)
    {
        try
        {
            var form = await MultipartForm.ReadAsync(context.Request, options.MaxImageBytes, "Developer:MaxImageBytes", options, cancellationToken);
            var generated = service.Generate(form.Fields, form.Files);
            context.Response.Headers.ContentDisposition = $"attachment; filename=\"{generated.FileName}.dcm\"";
            return Results.Bytes(generated.Bytes, "application/dicom");
        }
        catch (DicomServiceException ex)
        {
            return ex.ToResult();
        }
    }
}
