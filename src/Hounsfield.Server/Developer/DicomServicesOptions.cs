using System.ComponentModel.DataAnnotations;

namespace Hounsfield.Server.Developer;

/// <summary>
/// Limits of the developer DICOM services (configuration section "Developer", e.g. HOUNSFIELD__Developer__MaxUploadBytes).
/// Uploads are held in memory only, so these bound the memory and time one request can take.
/// </summary>
internal sealed class DicomServicesOptions
{
    public const string SectionName = "Developer";

    /// <summary>Largest file accepted by /api/dicom/read/file/ (a .dcm or a .zip), in bytes; larger ones get 413. Default 256 MiB.</summary>
    [Range(typeof(long), "1", "9223372036854775807")]
    public long MaxUploadBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Most entries a .zip may hold (directories included). Default 10 000.</summary>
    [Range(1, int.MaxValue)]
    public int MaxZipEntries { get; set; } = 10_000;

    /// <summary>Largest inflated size of one .zip entry, in bytes, counted while inflating. Default 512 MiB.</summary>
    [Range(typeof(long), "1", "9223372036854775807")]
    public long MaxZipEntryBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>Largest inflated size of all entries of a .zip together, in bytes. Default 1 GiB.</summary>
    [Range(typeof(long), "1", "9223372036854775807")]
    public long MaxZipTotalBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>
    /// Highest ratio of inflated to compressed size of an entry, checked once the entry has inflated past
    /// <see cref="ZipRatioThresholdBytes"/> (small, very uniform files such as blank images compress better). Default 200.
    /// </summary>
    [Range(1.0, double.MaxValue)]
    public double MaxZipCompressionRatio { get; set; } = 200;

    /// <summary>Inflated size from which <see cref="MaxZipCompressionRatio"/> applies, in bytes. Default 1 MiB.</summary>
    [Range(typeof(long), "0", "9223372036854775807")]
    public long ZipRatioThresholdBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Most frames rendered for one request (all files of a .zip together). A file beyond the budget is answered with its
    /// metadata, no images and an "ImageError" saying so. Default 500.
    /// </summary>
    [Range(0, int.MaxValue)]
    public int MaxFramesRendered { get; set; } = 500;

    /// <summary>Largest frame rendered, in pixels (rows × columns); larger ones get an "ImageError". Default 64 Mi (8192 × 8192).</summary>
    [Range(typeof(long), "1", "9223372036854775807")]
    public long MaxFramePixels { get; set; } = 64L * 1024 * 1024;

    /// <summary>Most pixels rendered for one request (frames × rows × columns, all files together). Default 128 Mi.</summary>
    [Range(typeof(long), "0", "9223372036854775807")]
    public long MaxRenderedPixels { get; set; } = 128L * 1024 * 1024;

    /// <summary>Largest image accepted by /api/dicom/generate/, in bytes; larger ones get 413. Default 32 MiB.</summary>
    [Range(typeof(long), "1", "9223372036854775807")]
    public long MaxImageBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>Largest image decoded by /api/dicom/generate/, in pixels (width × height). Default 40 million.</summary>
    [Range(typeof(long), "1", "9223372036854775807")]
    public long MaxImagePixels { get; set; } = 40_000_000;

    /// <summary>Widest or tallest image decoded by /api/dicom/generate/, in pixels. Default 16384.</summary>
    [Range(1, int.MaxValue)]
    public int MaxImageDimension { get; set; } = 16384;

    /// <summary>Most parts of one multipart form (files and fields together); more gives 400. Default 500.</summary>
    [Range(1, int.MaxValue)]
    public int MaxFormFields { get; set; } = 500;

    /// <summary>Largest total size of the text fields of one form, in bytes. Default 4 MiB.</summary>
    [Range(typeof(long), "0", "9223372036854775807")]
    public long MaxFormTextBytes { get; set; } = 4L * 1024 * 1024;

    /// <summary>Time the fields__regex filter may take over the whole keyword list, in milliseconds. Default 100.</summary>
    [Range(1, int.MaxValue)]
    public int RegexTimeoutMilliseconds { get; set; } = 100;

    /// <summary>Longest fields__regex pattern accepted, in characters. Default 1000.</summary>
    [Range(1, int.MaxValue)]
    public int MaxRegexLength { get; set; } = 1000;
}
