using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;

namespace Hounsfield.Imaging.Frames;

/// <summary>How the samples of a pixel data element are represented.</summary>
public enum PixelSampleFormat
{
    /// <summary>Integer samples of Pixel Data (7FE0,0010), unsigned or two's complement.</summary>
    Integer,

    /// <summary>IEEE 754 32-bit samples of Float Pixel Data (7FE0,0008).</summary>
    Float32,

    /// <summary>IEEE 754 64-bit samples of Double Float Pixel Data (7FE0,0009).</summary>
    Float64,
}

/// <summary>
/// The Image Pixel module attributes (PS3.3 C.7.6.3) that lay out the frames of a data set's pixel data, and
/// which of the three pixel data elements holds them.
/// </summary>
public sealed record PixelDataDescription
{
    public required int Rows { get; init; }

    public required int Columns { get; init; }

    public int SamplesPerPixel { get; init; } = 1;

    public required int BitsAllocated { get; init; }

    public required int BitsStored { get; init; }

    /// <summary>High Bit (0028,0102); when absent, Bits Stored - 1.</summary>
    public required int HighBit { get; init; }

    /// <summary>Pixel Representation (0028,0103): 0 unsigned, 1 two's complement.</summary>
    public int PixelRepresentation { get; init; }

    public string PhotometricInterpretation { get; init; } = "MONOCHROME2";

    /// <summary>Planar Configuration (0028,0006): 0 colour-by-pixel, 1 colour-by-plane.</summary>
    public int PlanarConfiguration { get; init; }

    public int NumberOfFrames { get; init; } = 1;

    public PixelSampleFormat SampleFormat { get; init; } = PixelSampleFormat.Integer;

    /// <summary>The element holding the pixels: (7FE0,0010), (7FE0,0008) or (7FE0,0009).</summary>
    public DicomTag PixelDataTag { get; init; } = DicomTag.PixelData;

    public bool IsSigned => PixelRepresentation == 1;

    public int BytesPerSample => (BitsAllocated + 7) / 8;

    /// <summary>YBR_FULL_422 / YBR_PARTIAL_422 as stored natively: two luminance and one pair of chrominance samples per two pixels.</summary>
    public bool IsSubsampled422 =>
        SamplesPerPixel == 3 && PhotometricInterpretation is "YBR_FULL_422" or "YBR_PARTIAL_422";

    /// <summary>Samples in one native frame (for YBR_*_422: two per pixel, PS3.3 C.7.6.3.1.2).</summary>
    public long SamplesPerFrame => IsSubsampled422
        ? (long)Rows * (((Columns + 1) / 2) * 4)
        : (long)Rows * Columns * SamplesPerPixel;

    /// <summary>Bits of one native frame; frames of 1-bit data follow each other without padding (PS3.5 §8.1.1).</summary>
    public long BitsPerFrame => SamplesPerFrame * BitsAllocated;

    /// <summary>Bytes of one native frame (1-bit frames: rounded up to whole bytes, re-packed from bit 0).</summary>
    public long FrameLength => (BitsPerFrame + 7) / 8;

    /// <summary>Reads the attributes from <paramref name="dataset"/>; null when it has no pixel data or no usable image size.</summary>
    public static PixelDataDescription? FromDataset(DicomDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var tag = dataset.Contains(DicomTag.PixelData) ? DicomTag.PixelData
            : dataset.Contains(DicomTag.FloatPixelData) ? DicomTag.FloatPixelData
            : dataset.Contains(DicomTag.DoubleFloatPixelData) ? DicomTag.DoubleFloatPixelData
            : (DicomTag?)null;
        if (tag is null)
        {
            return null;
        }

        var rows = ReadInt(dataset, DicomTag.Rows) ?? 0;
        var columns = ReadInt(dataset, DicomTag.Columns) ?? 0;
        if (rows <= 0 || columns <= 0)
        {
            return null;
        }

        var format = tag == DicomTag.FloatPixelData ? PixelSampleFormat.Float32
            : tag == DicomTag.DoubleFloatPixelData ? PixelSampleFormat.Float64
            : PixelSampleFormat.Integer;
        var bitsAllocated = ReadInt(dataset, DicomTag.BitsAllocated)
            ?? format switch { PixelSampleFormat.Float32 => 32, PixelSampleFormat.Float64 => 64, _ => 0 };
        if (format == PixelSampleFormat.Float32)
        {
            bitsAllocated = 32;
        }
        else if (format == PixelSampleFormat.Float64)
        {
            bitsAllocated = 64;
        }

        if (bitsAllocated is < 1 or > 64)
        {
            return null;
        }

        var bitsStored = ReadInt(dataset, DicomTag.BitsStored) ?? bitsAllocated;
        if (bitsStored < 1 || bitsStored > bitsAllocated || format != PixelSampleFormat.Integer)
        {
            bitsStored = bitsAllocated;
        }

        var highBit = ReadInt(dataset, DicomTag.HighBit) ?? (bitsStored - 1);
        if (highBit < bitsStored - 1 || highBit >= bitsAllocated)
        {
            highBit = bitsStored - 1;
        }

        var samples = ReadInt(dataset, DicomTag.SamplesPerPixel) ?? 1;
        var photometric = dataset.GetString(DicomTag.PhotometricInterpretation)?.Trim();
        if (string.IsNullOrEmpty(photometric))
        {
            photometric = samples == 3 ? "RGB" : "MONOCHROME2";
        }

        return new PixelDataDescription
        {
            Rows = rows,
            Columns = columns,
            SamplesPerPixel = samples is >= 1 and <= 4 ? samples : 1,
            BitsAllocated = bitsAllocated,
            BitsStored = bitsStored,
            HighBit = highBit,
            PixelRepresentation = format == PixelSampleFormat.Integer && ReadInt(dataset, DicomTag.PixelRepresentation) == 1 ? 1 : 0,
            PhotometricInterpretation = photometric,
            PlanarConfiguration = samples > 1 && ReadInt(dataset, DicomTag.PlanarConfiguration) == 1 ? 1 : 0,
            NumberOfFrames = Math.Max(1, ReadInt(dataset, DicomTag.NumberOfFrames) ?? 1),
            SampleFormat = format,
            PixelDataTag = tag.Value,
        };
    }

    /// <summary>The codec view of these attributes (what an <see cref="IFrameDecoder"/> needs).</summary>
    public FrameInfo ToFrameInfo() => new(Rows, Columns, SamplesPerPixel, BitsAllocated, BitsStored, PixelRepresentation, PhotometricInterpretation, PlanarConfiguration);

    /// <summary>An integer attribute, or null when absent or not a number (a malformed IS such as "1A" is ignored).</summary>
    internal static int? ReadInt(DicomDataset dataset, DicomTag tag)
    {
        try
        {
            return dataset.TryGetValue<long>(tag, out var value) && value is >= int.MinValue and <= int.MaxValue ? (int)value : null;
        }
        catch (DicomFormatException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
        catch (OverflowException)
        {
            return null;
        }
    }
}
