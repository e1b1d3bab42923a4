using System.Diagnostics;
using System.Globalization;
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Encoders;
using Hounsfield.Imaging.Frames;
using Hounsfield.Imaging.Rendering;

namespace Hounsfield.Server.Developer;

/// <summary>The format of the rendered images: png, jpeg or gif.</summary>
internal enum ReadImageFormat
{
    Png,
    Jpeg,
    Gif,
}

/// <summary>One DICOM file read: its metadata, and its frames rendered (or why they could not be).</summary>
/// <param name="FileName">The zip entry's name, or null for a single uploaded file.</param>
/// <param name="Metadata">Keyword → text, in tag order, or in the requested order (null: the file has no such element).</param>
/// <param name="Images">One encoded image per frame, or one animated GIF.</param>
/// <param name="ImageError">Why the pixel data was not rendered, or null.</param>
internal sealed record DicomReadResult(
    string? FileName,
    IReadOnlyList<KeyValuePair<string, string?>> Metadata,
    ReadImageFormat ImageFormat,
    IReadOnlyList<byte[]> Images,
    string? ImageError);

/// <summary>What /api/dicom/read/file/ answers: one result for a .dcm, one per file for a .zip.</summary>
internal sealed record DicomReadResponse(bool IsArchive, IReadOnlyList<DicomReadResult> Files);

/// <summary>
/// Reads an uploaded DICOM file, or every file of an uploaded .zip, entirely in memory: the metadata as text, and every
/// frame through the imaging pipeline (<see cref="FrameRenderer"/> with the defaults of the render command and the
/// DICOMweb rendered resource: the frame's or data set's window, else min-max; overlays burnt in; full size).
/// Nothing is written anywhere.
/// </summary>
internal sealed class DicomReadService(DicomServicesOptions options, ILogger<DicomReadService> logger)
{
    public const string InvalidDicom = "Invalid DICOM file";

    /// <summary>
    /// Reads <paramref name="upload"/>. <paramref name="fields"/>: comma-separated keywords, or null/empty for every public
    /// element. <paramref name="returnFormat"/>: png (default), jpeg (jpg) or gif. Throws <see cref="DicomServiceException"/>.
    /// </summary>
    public DicomReadResponse Read(ReadOnlyMemory<byte> upload, string? fields, string? returnFormat, CancellationToken cancellationToken)
    {
        var format = ParseFormat(returnFormat);
        var keywords = ParseFields(fields);
        if (upload.IsEmpty)
        {
            throw DicomServiceException.Field("file", "The submitted file is empty.");
        }

        var clock = Stopwatch.StartNew();
        var budget = new RenderBudget(options.MaxFramesRendered, options.MaxRenderedPixels);
        var results = new List<DicomReadResult>();
        var isArchive = !HasDicomPreamble(upload.Span) && ZipUpload.IsZip(upload.Span);
        if (isArchive)
        {
            foreach (var (name, content) in ZipUpload.ReadEntries(upload, options, cancellationToken))
            {
                var file = TryRead(content) ?? throw DicomServiceException.Field("file", $"{InvalidDicom}: zip entry '{name}'");
                results.Add(ReadOne(name, file, keywords, format, budget, cancellationToken));
            }

            if (results.Count == 0)
            {
                throw DicomServiceException.Field("file", "The zip archive holds no files.");
            }
        }
        else
        {
            var file = TryRead(upload) ?? throw DicomServiceException.Field("file", InvalidDicom);
            results.Add(ReadOne(null, file, keywords, format, budget, cancellationToken));
        }

        logger.LogInformation(
            "Read {FileCount} DICOM file(s) of {UploadBytes} bytes, rendered {FrameCount} frame(s) as {ImageFormat} in {ElapsedMilliseconds} ms",
            results.Count, upload.Length, budget.FramesUsed, format, clock.ElapsedMilliseconds);
        return new DicomReadResponse(isArchive, results);
    }

    public static ReadImageFormat ParseFormat(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "png" => ReadImageFormat.Png,
        "jpeg" or "jpg" => ReadImageFormat.Jpeg,
        "gif" => ReadImageFormat.Gif,
        _ => throw DicomServiceException.Field("return_format", $"Invalid return format '{text}'. Choose png, jpeg or gif."),
    };

    /// <summary>The requested keywords in order without repeats, or null for all; unknown ones are refused together.</summary>
    public static List<string>? ParseFields(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var keywords = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).ToList();
        var unknown = keywords.Where(k => DicomFieldCatalog.Find(k) is null).ToList();
        if (unknown.Count > 0)
        {
            throw DicomServiceException.Field("fields", $"Invalid fields: {string.Join(", ", unknown)}");
        }

        return keywords.Count == 0 ? null : keywords;
    }

    /// <summary>
    /// The data set, or null when the bytes are not DICOM: a Part 10 file (preamble and "DICM", or meta information first),
    /// or a bare data set whose first element is in group 0008, that reads without error.
    /// </summary>
    internal DicomFile? TryRead(ReadOnlyMemory<byte> bytes)
    {
        var span = bytes.Span;
        if (span.Length < 8)
        {
            return null;
        }

        var group = (ushort)(span[0] | (span[1] << 8));
        var looksLikeDicom = HasDicomPreamble(span) || group == 0x0002 || group == 0x0008 || group == 0x0800;
        if (!looksLikeDicom)
        {
            return null;
        }

        try
        {
            var file = DicomFile.Read(bytes, new DicomReadOptions { MaxInflatedLength = options.MaxZipEntryBytes });
            return file.Dataset.Count > 0 ? file : null;
        }
        catch (DicomFormatException)
        {
            return null;
        }
    }

    private static bool HasDicomPreamble(ReadOnlySpan<byte> data) => data.Length >= 132 && data.Slice(128, 4).SequenceEqual("DICM"u8);

    private DicomReadResult ReadOne(string? name, DicomFile file, List<string>? keywords, ReadImageFormat format, RenderBudget budget, CancellationToken cancellationToken)
    {
        var metadata = keywords is null ? DicomMetadataText.All(file.Dataset) : keywords.Select(k => new KeyValuePair<string, string?>(k, Lookup(file, k))).ToList();
        var (images, error) = Render(file, format, budget, cancellationToken);
        return new DicomReadResult(name, metadata, format, images, error);
    }

    /// <summary>A requested keyword's text from the data set, else from the file meta information, else null.</summary>
    private static string? Lookup(DicomFile file, string keyword)
    {
        var tag = DicomFieldCatalog.Find(keyword)!.Tag;
        if (file.Dataset.Find(tag) is { } element)
        {
            return DicomMetadataText.Format(file.Dataset, element);
        }

        return file.Meta.Find(tag) is { } meta ? DicomMetadataText.Format(file.Meta, meta) : null;
    }

    private (IReadOnlyList<byte[]> Images, string? Error) Render(DicomFile file, ReadImageFormat format, RenderBudget budget, CancellationToken cancellationToken)
    {
        PixelDataReader? reader;
        try
        {
            reader = PixelDataReader.Create(file);
        }
        catch (Exception ex) when (ex is DicomFormatException or InvalidOperationException or NotSupportedException)
        {
            return ([], $"The pixel data cannot be read: {ex.Message}");
        }

        if (reader is null)
        {
            return ([], null);
        }

        var description = reader.Description;
        var framePixels = (long)description.Rows * description.Columns;
        if (framePixels > options.MaxFramePixels)
        {
            return ([], string.Create(CultureInfo.InvariantCulture, $"Frames of {description.Columns}x{description.Rows} pixels are larger than the {options.MaxFramePixels} pixels rendered (Developer:MaxFramePixels)."));
        }

        if (budget.Take(reader.FrameCount, framePixels) is { } refused)
        {
            return ([], refused);
        }

        try
        {
            var dataset = file.Dataset;
            if (format == ReadImageFormat.Gif)
            {
                var frames = new List<RenderedImage>(reader.FrameCount);
                for (var i = 0; i < reader.FrameCount; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    frames.Add(FrameRenderer.Render(dataset, reader.ReadFrame(i), i, RenderOptions.Default));
                }

                return ([GifEncoder.Encode(frames, new GifOptions { DelayCentiseconds = CineTiming.GetGifDelayCentiseconds(dataset) })], null);
            }

            var images = new List<byte[]>(reader.FrameCount);
            for (var i = 0; i < reader.FrameCount; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var image = FrameRenderer.Render(dataset, reader.ReadFrame(i), i, RenderOptions.Default);
                images.Add(format == ReadImageFormat.Png ? PngEncoder.Encode(image) : JpegEncoder.Encode(image));
            }

            return (images, null);
        }
        catch (Exception ex) when (ex is NotSupportedException or ImageCodecException or InvalidOperationException or DicomFormatException or ArgumentException or OverflowException)
        {
            return ([], $"The pixel data cannot be rendered: {ex.Message}");
        }
    }

    /// <summary>The frames and pixels still to render for this request, shared by the files of a .zip.</summary>
    private sealed class RenderBudget(int frames, long pixels)
    {
        private readonly int frameLimit = frames;
        private readonly long pixelLimit = pixels;
        private int framesLeft = frames;
        private long pixelsLeft = pixels;

        public int FramesUsed => frameLimit - framesLeft;

        /// <summary>Reserves <paramref name="count"/> frames of <paramref name="framePixels"/> each, or says why not.</summary>
        public string? Take(int count, long framePixels)
        {
            if (count > framesLeft)
            {
                return string.Create(CultureInfo.InvariantCulture, $"The file has {count} frame(s); {framesLeft} of the {frameLimit} frames rendered per request are left (Developer:MaxFramesRendered).");
            }

            if (count * framePixels > pixelsLeft)
            {
                return string.Create(CultureInfo.InvariantCulture, $"The file's {count} frame(s) hold {count * framePixels} pixels; {pixelsLeft} of the {pixelLimit} pixels rendered per request are left (Developer:MaxRenderedPixels).");
            }

            framesLeft -= count;
            pixelsLeft -= count * framePixels;
            return null;
        }
    }
}
