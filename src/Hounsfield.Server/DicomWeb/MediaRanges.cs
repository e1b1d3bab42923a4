// Reading the media types of Accept and Content-Type headers (PS3.18 §8.7), one place for every DICOMweb endpoint.
using Hounsfield.Dicom;
using Hounsfield.Dicom.Json;
using Hounsfield.Dicom.Xml;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Hounsfield.Server.DicomWeb;

/// <summary>How a list of data sets (QIDO-RS results, WADO-RS metadata) is sent.</summary>
internal enum DatasetRepresentation
{
    /// <summary>One application/dicom+json array (PS3.18 §8.7.3.2).</summary>
    Json,

    /// <summary>multipart/related; type="application/dicom+xml", one Native DICOM Model per part (PS3.18 §8.7.3.3).</summary>
    Xml,
}

internal static class MediaRanges
{
    /// <summary>The unquoted value of a media type's parameter (case-insensitive name), or "" when it has none.</summary>
    public static string Parameter(MediaTypeHeaderValue mediaType, string name) =>
        HeaderUtilities.RemoveQuotes(mediaType.Parameters.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))?.Value ?? default).ToString();

    /// <summary>Whether <paramref name="mediaType"/> is multipart/related (whatever its parameters).</summary>
    public static bool IsMultipartRelated(MediaTypeHeaderValue mediaType) =>
        mediaType.MediaType.Equals("multipart/related", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The representation of data sets an Accept header prefers (by quality, then order), or null when it takes neither
    /// (a 406). No header, or one that does not parse, takes JSON, the default; so do wildcards (browsers send */*).
    /// XML is application/dicom+xml, bare or as the type of multipart/related: each resource sends it in its own form
    /// (a STOW-RS response is one document, search results and metadata one document per part).
    /// </summary>
    public static DatasetRepresentation? ChooseDatasetRepresentation(StringValues accept)
    {
        if (StringValues.IsNullOrEmpty(accept) || string.IsNullOrWhiteSpace(accept.ToString()) || !MediaTypeHeaderValue.TryParseList(accept, out var ranges))
        {
            return DatasetRepresentation.Json;
        }

        foreach (var range in ranges.Where(r => (r.Quality ?? 1) > 0).OrderByDescending(r => r.Quality ?? 1))
        {
            var type = IsMultipartRelated(range) ? Parameter(range, "type") : range.MediaType.ToString();
            if (type.Equals("application/dicom+xml", StringComparison.OrdinalIgnoreCase))
            {
                return DatasetRepresentation.Xml;
            }

            if (!IsMultipartRelated(range) && (type is "*/*" || type.Equals("application/*", StringComparison.OrdinalIgnoreCase)
                || type.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.Equals("application/dicom+json", StringComparison.OrdinalIgnoreCase)))
            {
                return DatasetRepresentation.Json;
            }
        }

        return null;
    }

    /// <summary>The 406 for an Accept header that takes neither DICOM JSON nor DICOM XML, sent as <paramref name="xmlMediaType"/>.</summary>
    public static IResult NeitherJsonNorXml(StringValues accept, string xmlMediaType = "multipart/related; type=\"application/dicom+xml\"") =>
        DicomWebEndpoints.Problem(StatusCodes.Status406NotAcceptable,
            $"Not acceptable: '{DicomWebEndpoints.Echo(accept.ToString())}'. This resource is served as application/dicom+json or {xmlMediaType}.");

    /// <summary>
    /// Writes data sets as multipart/related; type="application/dicom+xml", one part each, as they are enumerated:
    /// <see cref="Start"/> once, then <see cref="WritePartAsync"/> per data set, then <see cref="EndAsync"/>. Parts are
    /// gathered in one buffer, reused, and sent when it holds <see cref="SendThreshold"/> bytes or at the end.
    /// </summary>
    internal sealed class MultipartXmlWriter(HttpResponse response)
    {
        private const int SendThreshold = 64 * 1024;
        private readonly MultipartRelated multipart = new("application/dicom+xml");
        private readonly MemoryStream pending = new();
        private byte[]? partHeader;

        public void Start()
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = multipart.ContentType;
        }

        public async Task WritePartAsync(DicomDataset dataset, DicomJsonOptions? options, CancellationToken cancellationToken)
        {
            pending.Write(partHeader ??= multipart.PartHeader());
            DicomXmlWriter.Write(pending, dataset, options);
            pending.Write(MultipartRelated.PartEnd);
            if (pending.Length >= SendThreshold)
            {
                await SendPendingAsync(cancellationToken);
            }
        }

        public async Task EndAsync(CancellationToken cancellationToken)
        {
            pending.Write(multipart.Closing);
            await SendPendingAsync(cancellationToken);
        }

        private async Task SendPendingAsync(CancellationToken cancellationToken)
        {
            await response.Body.WriteAsync(pending.GetBuffer().AsMemory(0, (int)pending.Length), cancellationToken);
            pending.SetLength(0);
        }
    }
}
