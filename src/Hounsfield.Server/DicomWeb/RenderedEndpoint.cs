// WADO-RS frames (§10.4.1.1.4), rendered resources (§10.4.1.1.6, §8.3.5) and thumbnails (§10.4.1.1.7).
using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Hounsfield.Archive;
using Hounsfield.Archive.Index;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Encoders;
using Hounsfield.Imaging.Frames;
using Hounsfield.Imaging.Rendering;

namespace Hounsfield.Server.DicomWeb;

internal static class RenderedEndpoint
{
    private const int ThumbnailSize = 128;

    /// <summary>Frames (1-based list "1,3,5") as multipart/related application/octet-stream, decoded to native little-endian samples.</summary>
    public static async Task<IResult> FramesAsync(HttpContext context, string study, string series, string instance, string frameList, CancellationToken cancellationToken)
    {
        var numbers = ParseFrameList(frameList);
        if (numbers is null)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status400BadRequest, $"'{frameList}' is not a list of frame numbers such as 1 or 1,3,5.");
        }

        var (reader, problem) = await OpenAsync(context, study, series, instance, cancellationToken);
        if (reader is null)
        {
            return problem!;
        }

        if (numbers.Any(n => n > reader.FrameCount))
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, $"The instance has {reader.FrameCount} frame(s).");
        }

        var (asStored, mediaType) = NegotiateFrameMediaType(context.Request.Headers.Accept, reader);

        // Native frames are read into pooled buffers: a fresh array the size of a frame per request cost more in page faults
        // and collections of the large-object heap than the copy itself.
        (ReadOnlyMemory<byte> Bytes, IDisposable? Owner) Read(int number)
        {
            if (asStored)
            {
                return (reader.ReadCompressedFrame(number - 1), null);
            }

            var frame = reader.RentFrame(number - 1);
            return (frame.Data.AsMemory(0, checked((int)frame.Description.FrameLength)), frame);
        }

        // The first frame is read before the response starts, so that a codec we lack answers 406; the others stream one at a
        // time (a failure among them aborts the response, which leaves the multipart visibly unterminated, never silently short).
        (ReadOnlyMemory<byte> Bytes, IDisposable? Owner) first;
        try
        {
            first = Read(numbers[0]);
        }
        catch (Exception ex) when (ex is NotSupportedException or ImageCodecException)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status406NotAcceptable, $"The frames cannot be decoded here: {ex.Message}. Ask for transfer-syntax=* to get them as stored.");
        }

        var multipart = new MultipartRelated(mediaType);
        var syntax = asStored ? $"; transfer-syntax={reader.TransferSyntax.Uid}" : null;
        byte[] PartHeader(int length) => multipart.PartHeader(length, syntax);
        var closing = multipart.Closing;
        context.Response.ContentType = multipart.ContentType;
        if (numbers.Count == 1 || !reader.IsEncapsulated)
        {
            // Every part's length is known (native frames are all one length): a Content-Length rather than chunks.
            var length = first.Bytes.Length;
            context.Response.ContentLength = MultipartRelated.FramedLength(PartHeader(length), length) * numbers.Count + closing.Length;
        }

        var writer = context.Response.BodyWriter;
        for (var i = 0; i < numbers.Count; i++)
        {
            var (bytes, owner) = i == 0 ? first : Read(numbers[i]);
            using (owner)
            {
                writer.Write(PartHeader(bytes.Length));
                writer.Write(bytes.Span);
                writer.Write(MultipartRelated.PartEnd);
            }

            if (writer.UnflushedBytes >= 1024 * 1024)
            {
                await writer.FlushAsync(cancellationToken);
            }
        }

        writer.Write(closing);
        await writer.FlushAsync(cancellationToken);
        return Results.Empty;
    }

    /// <summary>A rendered image of a frame (frame null: the first, or every frame for an animated GIF).</summary>
    public static Task<IResult> RenderedAsync(HttpContext context, string study, string? series, string? instance, int? frame, bool thumbnail, CancellationToken cancellationToken) =>
        RenderAsync(context, study, series, instance, frame, thumbnail, ChooseMediaType(context.Request.Headers.Accept.ToString()), context.Request.Query, cancellationToken);

    /// <summary>
    /// Renders with an explicit media type (null: not acceptable) and rendering parameters in the DICOMweb form
    /// (window, viewport, quality), for WADO-RS and the WADO-URI adapter alike.
    /// </summary>
    internal static async Task<IResult> RenderAsync(HttpContext context, string study, string? series, string? instance, int? frame, bool thumbnail, string? mediaType, IQueryCollection parameters, CancellationToken cancellationToken)
    {
        var archive = context.RequestServices.GetRequiredService<ArchiveService>();
        var instances = await archive.ListInstancesAsync(study, series, instance, cancellationToken);
        if (instances.Count == 0)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, "No such study, series or instance.");
        }

        // A study or series is represented by its middle instance, as viewers pick a representative slice.
        var stored = instance is not null ? instances[0] : instances[instances.Count / 2];
        if (mediaType is null)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status406NotAcceptable, "Rendered resources are image/jpeg, image/png or image/gif.");
        }

        RenderOptions options;
        int quality;
        try
        {
            (options, quality) = ParseRenderParameters(parameters, thumbnail);
        }
        catch (FormatException ex)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status400BadRequest, ex.Message);
        }

        var etag = $"\"{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{stored.SopInstanceUid}:{stored.Length}:{frame}:{thumbnail}:{mediaType}:{string.Join('&', parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"))}")))[..32]}\"";
        context.Response.Headers.ETag = etag;
        if (context.Request.Headers.IfNoneMatch.Any(v => v == etag || v == "*"))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        var (file, reader, problem) = Open(archive, stored);
        if (reader is null)
        {
            return problem!;
        }

        if (frame is { } number && (number < 1 || number > reader.FrameCount))
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, $"The instance has {reader.FrameCount} frame(s).");
        }

        try
        {
            var dataset = file!.Dataset;
            var fitted = FitViewport(options, reader.Description.Columns, reader.Description.Rows);
            if (mediaType == "image/gif" && frame is null && !thumbnail && reader.FrameCount > 1)
            {
                // Every frame, rendered and written one at a time as the response goes out: a long cine is never held whole.
                // The first, middle and last frames are rendered first, for the palette of a colour cine. A frame that fails
                // after the first has been sent ends the response early.
                var samples = new[] { 0, reader.FrameCount / 2, reader.FrameCount - 1 }.Distinct()
                    .ToDictionary(i => i, i => FrameRenderer.Render(dataset, reader.ReadFrame(i), i, fitted));
                var gifOptions = new GifOptions { DelayCentiseconds = CineTiming.GetGifDelayCentiseconds(dataset) };
                return Results.Stream(body =>
                {
                    DicomWebEndpoints.AllowSynchronousBodyWrites(context);
                    var gif = GifEncoder.BeginAnimation(body, samples.Values.ToList(), gifOptions);
                    for (var i = 0; i < reader.FrameCount; i++)
                    {
                        gif.Write(samples.GetValueOrDefault(i) ?? FrameRenderer.Render(dataset, reader.ReadFrame(i), i, fitted));
                    }

                    gif.Finish();
                    return Task.CompletedTask;
                }, mediaType);
            }

            // One frame: the hot path of viewers, with pooled buffers so that a request allocates no large arrays.
            var index = (frame ?? 1) - 1;
            using var pixels = reader.RentFrame(index);
            using var image = FrameRenderer.RenderPooled(dataset, pixels, index, fitted);
            var bytes = mediaType switch
            {
                "image/png" => PngEncoder.Encode(image),
                "image/gif" => GifEncoder.Encode([image], new GifOptions()),
                _ => JpegEncoder.Encode(image, new JpegOptions { Quality = quality }),
            };
            return Results.Bytes(bytes, mediaType);
        }
        catch (Exception ex) when (ex is NotSupportedException or ImageCodecException or InvalidOperationException or DicomFormatException)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status406NotAcceptable, $"This instance cannot be rendered: {ex.Message}");
        }
    }

    private static async Task<(PixelDataReader? Reader, IResult? Problem)> OpenAsync(HttpContext context, string study, string series, string instance, CancellationToken cancellationToken)
    {
        var archive = context.RequestServices.GetRequiredService<ArchiveService>();
        var stored = (await archive.ListInstancesAsync(study, series, instance, cancellationToken)).SingleOrDefault();
        if (stored is null)
        {
            return (null, DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, "No such instance."));
        }

        var (_, reader, problem) = Open(archive, stored);
        return (reader, problem);
    }

    private static (DicomFile? File, PixelDataReader? Reader, IResult? Problem) Open(ArchiveService archive, StoredInstance stored)
    {
        try
        {
            var file = archive.ReadInstance(stored);
            var reader = PixelDataReader.Create(file);
            return reader is null ? (file, null, DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, "The instance has no pixel data.")) : (file, reader, null);
        }
        catch (DicomFormatException ex)
        {
            return (null, null, DicomWebEndpoints.Problem(StatusCodes.Status500InternalServerError, $"The stored instance cannot be read: {ex.Message}"));
        }
    }

    private static List<int>? ParseFrameList(string text)
    {
        var numbers = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < 1 || numbers.Count >= 10_000)
            {
                return null;
            }

            numbers.Add(number);
        }

        return numbers.Count == 0 ? null : numbers;
    }

    private static string? ChooseMediaType(string accept)
    {
        if (string.IsNullOrWhiteSpace(accept) || accept.Contains("*/*", StringComparison.Ordinal) || accept.Contains("image/*", StringComparison.Ordinal))
        {
            return "image/jpeg";
        }

        foreach (var type in new[] { "image/jpeg", "image/png", "image/gif" })
        {
            if (accept.Contains(type, StringComparison.OrdinalIgnoreCase))
            {
                return type;
            }
        }

        return null;
    }

    /// <summary>window=center,width[,function], viewport=vw,vh, quality=1..100 (PS3.18 §8.3.5.1).</summary>
    private static (RenderOptions Options, int Quality) ParseRenderParameters(IQueryCollection query, bool thumbnail)
    {
        var options = new RenderOptions { ShowOverlays = true };
        var quality = 90;
        if (query.TryGetValue("window", out var window))
        {
            var parts = window.ToString().Split(',', StringSplitOptions.TrimEntries);
            if (parts.Length is < 2 or > 3
                || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var center)
                || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var width) || width < 1)
            {
                throw new FormatException($"window must be center,width[,function] with width ≥ 1, not '{window}'.");
            }

            VoiFunction? function = parts.Length == 3 ? parts[2].ToLowerInvariant() switch
            {
                "linear" => VoiFunction.Linear,
                "linear-exact" => VoiFunction.LinearExact,
                "sigmoid" => VoiFunction.Sigmoid,
                _ => throw new FormatException($"window function must be linear, linear-exact or sigmoid, not '{parts[2]}'."),
            } : null;
            options = options with { Voi = VoiMode.Window, WindowCenter = center, WindowWidth = width, Function = function };
        }

        var viewport = thumbnail ? $"{ThumbnailSize},{ThumbnailSize}" : query.TryGetValue("viewport", out var v) ? v.ToString() : null;
        if (viewport is not null)
        {
            var parts = viewport.Split(',', StringSplitOptions.TrimEntries);
            if (parts.Length < 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var vw) || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var vh)
                || vw is < 1 or > 8192 || vh is < 1 or > 8192)
            {
                throw new FormatException($"viewport must be width,height between 1 and 8192, not '{viewport}'.");
            }

            options = options with { OutputWidth = vw, OutputHeight = vh };
        }

        if (query.TryGetValue("quality", out var q) && (!int.TryParse(q, NumberStyles.None, CultureInfo.InvariantCulture, out quality) || quality is < 1 or > 100))
        {
            throw new FormatException($"quality must be an integer from 1 to 100, not '{q}'.");
        }

        return (options, quality);
    }

    /// <summary>The viewport bounds the image; the aspect ratio is kept.</summary>
    private static RenderOptions FitViewport(RenderOptions options, int columns, int rows)
    {
        if (options.OutputWidth is not { } vw || options.OutputHeight is not { } vh)
        {
            return options;
        }

        var scale = Math.Min((double)vw / columns, (double)vh / rows);
        return options with { OutputWidth = Math.Max(1, (int)Math.Round(columns * scale)), OutputHeight = Math.Max(1, (int)Math.Round(rows * scale)) };
    }

    /// <summary>PS3.18 Table 8.7.3-5: the media types of compressed frames (the standard name first) and their transfer syntaxes (the default first).</summary>
    private static readonly (string[] MediaTypes, string[] Syntaxes)[] CompressedFrameTypes =
    [
        (["image/jpeg"], [FrameCodecs.JpegLosslessSV1, FrameCodecs.JpegBaseline, FrameCodecs.JpegExtended, FrameCodecs.JpegLossless]),
        (["image/dicom-rle", "image/x-dicom-rle"], [FrameCodecs.RleLossless]),
        (["image/jls", "image/x-jls"], [FrameCodecs.JpegLSLossless, FrameCodecs.JpegLSNearLossless]),
        (["image/jp2"], [FrameCodecs.Jpeg2000Lossless, FrameCodecs.Jpeg2000]),
        (["image/jphc", "image/jhc"], [FrameCodecs.HtJpeg2000Lossless, FrameCodecs.HtJpeg2000LosslessRpcl, FrameCodecs.HtJpeg2000]),
    ];

    /// <summary>
    /// How frames are sent (PS3.18 §8.7.3.3, §8.7.8): as stored when a media range names the stored compression — its media type
    /// with the stored transfer syntax, its default one, or '*' — else decoded as application/octet-stream, the default the
    /// standard falls back to when no acceptable media type is supported.
    /// </summary>
    private static (bool AsStored, string MediaType) NegotiateFrameMediaType(Microsoft.Extensions.Primitives.StringValues accept, PixelDataReader reader)
    {
        const string Decoded = "application/octet-stream";
        var stored = reader.TransferSyntax.Uid;
        var storedType = reader.IsEncapsulated ? Array.Find(CompressedFrameTypes, t => t.Syntaxes.Contains(stored)) : default;
        if (accept.Count == 0 || !Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParseList(accept, out var ranges))
        {
            return (false, Decoded);
        }

        foreach (var range in ranges.OrderByDescending(r => r.Quality ?? 1))
        {
            var media = range.MediaType.ToString();
            var inner = MediaRanges.IsMultipartRelated(range) ? MediaRanges.Parameter(range, "type") : media;
            var syntax = MediaRanges.Parameter(range, "transfer-syntax");
            if (inner.Equals(Decoded, StringComparison.OrdinalIgnoreCase) || inner == "*/*")
            {
                if (syntax == "*" && storedType.MediaTypes is not null)
                {
                    return (true, storedType.MediaTypes[0]);
                }

                if (syntax.Length == 0 || syntax == "*" || syntax == DicomTransferSyntax.ExplicitVRLittleEndian.Uid)
                {
                    return (false, Decoded);
                }
            }
            else if (storedType.MediaTypes is not null)
            {
                var named = Array.Find(storedType.MediaTypes, t => t.Equals(inner, StringComparison.OrdinalIgnoreCase));
                var wildcard = inner.Equals("image/*", StringComparison.OrdinalIgnoreCase);
                if ((named is not null && (syntax == "*" || syntax == stored || (syntax.Length == 0 && storedType.Syntaxes[0] == stored)))
                    || (wildcard && (syntax is "*" or "" || syntax == stored)))
                {
                    return (true, named ?? storedType.MediaTypes[0]);
                }
            }
        }

        return (false, Decoded);
    }
}
