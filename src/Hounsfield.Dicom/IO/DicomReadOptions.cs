namespace Hounsfield.Dicom.IO;

/// <summary>How a Part 10 stream is read, and the limits that protect the reader from hostile input.</summary>
public sealed record DicomReadOptions
{
    public static readonly DicomReadOptions Default = new();

    /// <summary>Stop at the top-level Pixel Data (or Float / Double Float Pixel Data) element without reading it. Default false.</summary>
    public bool StopBeforePixelData { get; init; }

    /// <summary>
    /// Values at least this long are not loaded but referenced by offset into the source, when the source can be
    /// reopened (a file) and is neither deflated nor big endian. Default 64 KiB; <see cref="long.MaxValue"/> loads everything.
    /// </summary>
    public long LazyValueThreshold { get; init; } = 64 * 1024;

    /// <summary>Deepest sequence nesting accepted. Default 64.</summary>
    public int MaxDepth { get; init; } = 64;

    /// <summary>Most elements, items and fragments in one file. Default 1 million (a large enhanced multi-frame file has about 200 000).</summary>
    public long MaxElementCount { get; init; } = 1_000_000;

    /// <summary>Largest value read into memory (larger ones must be lazy). Default 2 GiB minus a little (the array limit).</summary>
    public long MaxValueLength { get; init; } = Array.MaxLength;

    /// <summary>Largest inflated size of a deflated data set, a guard against zip bombs. Default 4 GiB.</summary>
    public long MaxInflatedLength { get; init; } = 4L * 1024 * 1024 * 1024;
}
