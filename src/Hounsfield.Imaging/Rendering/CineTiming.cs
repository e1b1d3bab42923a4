using Hounsfield.Dicom;

namespace Hounsfield.Imaging.Rendering;

/// <summary>The playback time of multi-frame images (PS3.3 C.7.6.5 Cine module).</summary>
public static class CineTiming
{
    /// <summary>
    /// Milliseconds between frames: Frame Time (0018,1063), else the mean of the non-zero Frame Time Vector (0018,1065)
    /// entries, else 1000 / Cine Rate (0018,0040), else 1000 / Recommended Display Frame Rate (0008,2144); null when none is usable.
    /// </summary>
    public static double? GetFrameTimeMilliseconds(DicomDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (ModalityTransform.ReadDouble(dataset, DicomTag.FrameTime) is > 0 and var frameTime && double.IsFinite(frameTime))
        {
            return frameTime;
        }

        try
        {
            var vector = dataset.GetValues<double>(DicomTag.FrameTimeVector).Where(v => v > 0 && double.IsFinite(v)).ToArray();
            if (vector.Length > 0)
            {
                return vector.Average();
            }
        }
        catch (Exception ex) when (ex is DicomFormatException or InvalidOperationException or FormatException)
        {
        }

        foreach (var rateTag in new[] { DicomTag.CineRate, DicomTag.RecommendedDisplayFrameRate })
        {
            if (ModalityTransform.ReadDouble(dataset, rateTag) is > 0 and var rate && double.IsFinite(rate))
            {
                return 1000 / rate;
            }
        }

        return null;
    }

    /// <summary>The delay between animated GIF frames for this data set's frame time, in hundredths of a second (1 to 65535; 10 when it has none).</summary>
    public static int GetGifDelayCentiseconds(DicomDataset dataset)
    {
        var milliseconds = GetFrameTimeMilliseconds(dataset) ?? 100;
        return (int)Math.Clamp(Math.Round(milliseconds / 10), 1, ushort.MaxValue);
    }
}
