using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.Extensions.Options;

namespace Hounsfield.Server;

/// <summary>
/// Compresses JSON and XML answers as configured, and DICOM XML sent as multipart/related (search results, metadata),
/// except answers whose length is known and below <see cref="MinimumLength"/>: a STOW-RS result or a small search result
/// gains a few hundred bytes at most, and costs a compressor's set-up on the server and an inflate on the client.
/// </summary>
internal sealed class LengthAwareCompressionProvider(IServiceProvider services, IOptions<ResponseCompressionOptions> options)
    : ResponseCompressionProvider(services, options)
{
    public const int MinimumLength = 1024;

    public override bool ShouldCompressResponse(HttpContext context)
    {
        var response = context.Response;
        if (response.ContentLength is < MinimumLength)
        {
            return false;
        }

        // The configured types are matched without parameters, and other multipart/related answers hold DICOM files.
        return IsMultipartXml(response.ContentType) && !response.Headers.ContainsKey("Content-Encoding") && !response.Headers.ContainsKey("Content-Range")
            || base.ShouldCompressResponse(context);
    }

    private static bool IsMultipartXml(string? contentType) =>
        Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var mediaType)
        && DicomWeb.MediaRanges.IsMultipartRelated(mediaType)
        && DicomWeb.MediaRanges.Parameter(mediaType, "type").Equals("application/dicom+xml", StringComparison.OrdinalIgnoreCase);
}
