// WADO-RS frames (§10.4.1.1.4), rendered resources (§10.4.1.1.6, §8.3.5) and thumbnails (§10.4.1.1.7).
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

        var asStored = context.Request.Headers.Accept.ToString().Contains("transfer-syntax=*", StringComparison.Ordinal) && reader.IsEncapsulated;
        var mediaType = asStored ? CompressedMediaType(reader.TransferSyntax) : "application/octet-stream";
        var parts = new List<byte[]>(numbers.Count);
        try
        {
            foreach (var number in numbers)
            {
                parts.Add(asStored ? reader.ReadCompressedFrame(number - 1) : reader.ReadFrame(number - 1).Data);
            }
        }
        catch (Exception ex) when (ex is NotSupportedException or ImageCodecException)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status406NotAcceptable, $"The frames cannot be decoded here: {ex.Message}. Ask for transfer-syntax=* to get them as stored.");
        }

        var boundary = Guid.NewGuid().ToString("N");
        context.Response.ContentType = $"multipart/related; type=\"{mediaType}\"; boundary={boundary}";
        var syntax = asStored ? $"; transfer-syntax={reader.TransferSyntax.Uid}" : string.Empty;
        foreach (var part in parts)
        {
            await context.Response.Body.WriteAsync(Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Type: {mediaType}{syntax}\r\nContent-Length: {part.Length}\r\n\r\n"), cancellationToken);
            await context.Response.Body.WriteAsync(part, cancellationToken);
            await context.Response.Body.WriteAsync("\r\n"u8.ToArray(), cancellationToken);
        }

        await context.Response.Body.WriteAsync(Encoding.ASCII.GetBytes($"--{boundary}--\r\n"), cancellationToken);
        return Results.Empty;
    }

    /// <summary>A rendered image of a frame (frame null: the first, or every frame for an animated GIF).</summary>
    public static async Task<IResult> RenderedAsync(HttpContext context, string study, string? series, string? instance, int? frame, bool thumbnail, CancellationToken cancellationToken)
    {
        var archive = context.RequestServices.GetRequiredService<ArchiveService>();
        var instances = await archive.ListInstancesAsync(study, series, instance, cancellationToken);
        if (instances.Count == 0)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, "No such study, series or instance.");
        }

        // A study or series is represented by its middle instance, as viewers pick a representative slice.
        var stored = instance is not null ? instances[0] : instances[instances.Count / 2];
        var mediaType = ChooseMediaType(context.Request.Headers.Accept.ToString());
        if (mediaType is null)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status406NotAcceptable, "Rendered resources are image/jpeg, image/png or image/gif.");
        }

        RenderOptions options;
        int quality;
        try
        {
            (options, quality) = ParseRenderParameters(context.Request.Query, thumbnail);
        }
        catch (FormatException ex)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status400BadRequest, ex.Message);
        }

        var etag = $"\"{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{stored.SopInstanceUid}:{stored.Length}:{frame}:{thumbnail}:{mediaType}:{context.Request.QueryString}")))[..32]}\"";
        context.Response.Headers.ETag = etag;
        if (context.Request.Headers.IfNoneMatch.Any(v => v == etag || v == "*"))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        var (reader, problem) = Open(archive, stored);
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
            var dataset = archive.ReadInstance(stored).Dataset;
            var indices = mediaType == "image/gif" && frame is null && !thumbnail ? Enumerable.Range(0, reader.FrameCount) : [(frame ?? 1) - 1];
            var images = indices.Select(i => FrameRenderer.Render(dataset, reader.ReadFrame(i), i, FitViewport(options, reader.Description.Columns, reader.Description.Rows))).ToList();
            var bytes = mediaType switch
            {
                "image/png" => PngEncoder.Encode(images[0]),
                "image/gif" => GifEncoder.Encode(images, new GifOptions { DelayCentiseconds = CineTiming.GetGifDelayCentiseconds(dataset) }),
                _ => JpegEncoder.Encode(images[0], new JpegOptions { Quality = quality }),
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
        return stored is null ? (null, DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, "No such instance.")) : Open(archive, stored);
    }

    private static (PixelDataReader? Reader, IResult? Problem) Open(ArchiveService archive, StoredInstance stored)
    {
        try
        {
            var reader = PixelDataReader.Create(archive.ReadInstance(stored));
            return reader is null ? (null, DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, "The instance has no pixel data.")) : (reader, null);
        }
        catch (DicomFormatException ex)
        {
            return (null, DicomWebEndpoints.Problem(StatusCodes.Status500InternalServerError, $"The stored instance cannot be read: {ex.Message}"));
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

    private static string CompressedMediaType(DicomTransferSyntax syntax) => syntax.Uid switch
    {
        FrameCodecs.JpegBaseline or FrameCodecs.JpegExtended or FrameCodecs.JpegLossless or FrameCodecs.JpegLosslessSV1 => "image/jpeg",
        FrameCodecs.JpegLSLossless or FrameCodecs.JpegLSNearLossless => "image/jls",
        FrameCodecs.Jpeg2000Lossless or FrameCodecs.Jpeg2000 => "image/jp2",
        FrameCodecs.HtJpeg2000Lossless or FrameCodecs.HtJpeg2000LosslessRpcl or FrameCodecs.HtJpeg2000 => "image/jphc",
        FrameCodecs.RleLossless => "image/x-dicom-rle",
        _ => "application/octet-stream",
    };
}
