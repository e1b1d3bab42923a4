// multipart/form-data, RFC 7578, read section by section from the request body.
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Hounsfield.Server.Developer;

/// <summary>A file part of a form, held in memory only.</summary>
internal sealed record UploadedFile(string FieldName, string FileName, ReadOnlyMemory<byte> Content);

/// <summary>
/// A multipart/form-data body read into bounded memory. Unlike <c>HttpRequest.ReadFormAsync</c>, which spools files
/// above 64 KiB to temporary files, nothing here touches the disk: each file part is copied into one array of at most
/// the caller's limit (413 beyond it), text parts count against <see cref="DicomServicesOptions.MaxFormTextBytes"/>,
/// and the number of parts against <see cref="DicomServicesOptions.MaxFormFields"/>.
/// </summary>
internal sealed class MultipartForm
{
    private const int HeadersLengthLimit = 8 * 1024;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private MultipartForm(List<KeyValuePair<string, string>> fields, List<UploadedFile> files)
    {
        Fields = fields;
        Files = files;
    }

    /// <summary>The text fields in the order sent (a name may repeat).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Fields { get; }

    public IReadOnlyList<UploadedFile> Files { get; }

    /// <summary>An empty form, for a request without a body.</summary>
    public static MultipartForm Empty { get; } = new([], []);

    /// <summary>The last value of a text field, or null.</summary>
    public string? Field(string name) => Fields.LastOrDefault(f => f.Key == name).Value;

    /// <summary>
    /// Reads the form of <paramref name="request"/>: a body without Content-Type gives an empty form; any other type than
    /// multipart/form-data gives 415. Each file may hold at most <paramref name="maxFileBytes"/> bytes.
    /// </summary>
    public static async Task<MultipartForm> ReadAsync(HttpRequest request, long maxFileBytes, string limitSetting, DicomServicesOptions options, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.ContentType))
        {
            return Empty;
        }

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType)
            || !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            throw DicomServiceException.Request($"Unsupported media type \"{request.ContentType}\" in request; send multipart/form-data.", StatusCodes.Status415UnsupportedMediaType);
        }

        var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).ToString();
        if (string.IsNullOrEmpty(boundary) || boundary.Length > 200)
        {
            throw DicomServiceException.Request("The multipart/form-data Content-Type has no valid boundary.");
        }

        // The whole body: the file, the text fields and the framing of every part. Kestrel refuses more with 413.
        var maxBody = maxFileBytes + options.MaxFormTextBytes + ((long)options.MaxFormFields * (HeadersLengthLimit + boundary.Length + 8));
        if (request.ContentLength > maxBody)
        {
            throw TooLarge(maxFileBytes, limitSetting);
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize
            && (bodySize.MaxRequestBodySize is null || bodySize.MaxRequestBodySize > maxBody))
        {
            bodySize.MaxRequestBodySize = maxBody;
        }

        var reader = new MultipartReader(boundary, request.Body, 64 * 1024)
        {
            HeadersCountLimit = 16,
            HeadersLengthLimit = HeadersLengthLimit,
        };
        var fields = new List<KeyValuePair<string, string>>();
        var files = new List<UploadedFile>();
        var textBytes = 0L;
        try
        {
            MultipartSection? section;
            while ((section = await reader.ReadNextSectionAsync(cancellationToken)) is not null)
            {
                if (fields.Count + files.Count >= options.MaxFormFields)
                {
                    throw DicomServiceException.Request(string.Create(
                        CultureInfo.InvariantCulture, $"The form has more than {options.MaxFormFields} fields (Developer:MaxFormFields)."));
                }

                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase)
                    || HeaderUtilities.RemoveQuotes(disposition.Name).ToString() is not { Length: > 0 } name)
                {
                    throw DicomServiceException.Request("A part of the multipart/form-data body has no Content-Disposition: form-data with a name.");
                }

                var fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar).ToString();
                if (string.IsNullOrEmpty(fileName))
                {
                    fileName = HeaderUtilities.RemoveQuotes(disposition.FileName).ToString();
                }

                if (disposition.FileName.HasValue || disposition.FileNameStar.HasValue)
                {
                    files.Add(new UploadedFile(name, fileName, await ReadFileAsync(section.Body, name, request.ContentLength, maxFileBytes, limitSetting, cancellationToken)));
                }
                else
                {
                    var (value, length) = await ReadTextAsync(section.Body, name, options.MaxFormTextBytes - textBytes, cancellationToken);
                    textBytes += length;
                    fields.Add(new(name, value));
                }
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(maxFileBytes, limitSetting);
        }
        catch (InvalidDataException ex)
        {
            throw DicomServiceException.Request($"Malformed multipart/form-data body: {ex.Message}");
        }
        catch (IOException ex) when (!cancellationToken.IsCancellationRequested && ex is not BadHttpRequestException)
        {
            throw DicomServiceException.Request($"Malformed multipart/form-data body: {ex.Message}");
        }

        return new MultipartForm(fields, files);
    }

    private static async Task<ReadOnlyMemory<byte>> ReadFileAsync(Stream body, string name, long? contentLength, long maxBytes, string limitSetting, CancellationToken cancellationToken)
    {
        // One array sized from Content-Length when known (no copies while growing), at most the limit plus one byte.
        var capacity = (int)Math.Clamp(Math.Min(contentLength ?? 64 * 1024, maxBytes + 1), 1, Array.MaxLength);
        var buffer = new byte[capacity];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                var grown = (int)Math.Min(Math.Min((long)buffer.Length * 2, maxBytes + 1), Array.MaxLength);
                if (grown <= buffer.Length)
                {
                    throw TooLarge(maxBytes, limitSetting, name);
                }

                Array.Resize(ref buffer, grown);
            }

            var read = await body.ReadAsync(buffer.AsMemory(length), cancellationToken);
            if (read == 0)
            {
                return buffer.AsMemory(0, length);
            }

            length += read;
            if (length > maxBytes)
            {
                throw TooLarge(maxBytes, limitSetting, name);
            }
        }
    }

    private static async Task<(string Value, long Length)> ReadTextAsync(Stream body, string name, long remaining, CancellationToken cancellationToken)
    {
        using var memory = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            memory.Write(buffer, 0, read);
            if (memory.Length > remaining)
            {
                throw DicomServiceException.Request("The text fields of the form are larger than the limit (Developer:MaxFormTextBytes).", StatusCodes.Status413PayloadTooLarge);
            }
        }

        try
        {
            return (StrictUtf8.GetString(memory.GetBuffer(), 0, (int)memory.Length), memory.Length);
        }
        catch (DecoderFallbackException)
        {
            throw DicomServiceException.Field(name, "The value is not valid UTF-8 text.");
        }
    }

    private static DicomServiceException TooLarge(long maxBytes, string limitSetting, string? field = null)
    {
        var message = string.Create(CultureInfo.InvariantCulture, $"The upload is larger than the limit of {maxBytes} bytes ({limitSetting}).");
        return field is null
            ? DicomServiceException.Request(message, StatusCodes.Status413PayloadTooLarge)
            : DicomServiceException.Field(field, message, StatusCodes.Status413PayloadTooLarge);
    }
}
