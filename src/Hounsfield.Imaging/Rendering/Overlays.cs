using Hounsfield.Dicom;

namespace Hounsfield.Imaging.Rendering;

/// <summary>
/// Overlay Planes (PS3.3 C.9.2) burnt into a rendered image: each set bit of Overlay Data (60xx,3000) of the groups
/// 6000-601E paints its pixel white. Multi-frame overlays follow Image Frame Origin (60xx,0051).
/// </summary>
internal static class Overlays
{
    public static void Burn(DicomDataset dataset, int frameIndex, PixelRegion region, RenderedImage image)
    {
        for (ushort group = 0x6000; group <= 0x601E; group += 2)
        {
            if (dataset[new DicomTag(group, 0x3000)] is not DicomValueElement data || data.Length == 0)
            {
                continue;
            }

            var rows = ReadInt(dataset, new DicomTag(group, 0x0010));
            var columns = ReadInt(dataset, new DicomTag(group, 0x0011));
            var bitsAllocated = ReadInt(dataset, new DicomTag(group, 0x0100)) ?? 1;
            if (rows is not > 0 || columns is not > 0 || bitsAllocated != 1)
            {
                continue;
            }

            var frames = ReadInt(dataset, new DicomTag(group, 0x0015)) ?? 1;
            var frameOrigin = ReadInt(dataset, new DicomTag(group, 0x0051)) ?? 1;
            var overlayFrame = frameIndex + 1 - frameOrigin;
            if (overlayFrame < 0 || overlayFrame >= Math.Max(1, frames))
            {
                continue;
            }

            // Overlay Origin (60xx,0050): row\column of the overlay's first pixel, 1-based (SS: may be negative).
            var origin = dataset.Find(new DicomTag(group, 0x0050)) is DicomValueElement originElement
                ? dataset.GetValues<int>(new DicomValueElement(originElement.Tag, DicomVR.SS, originElement.Buffer))
                : [];
            var originRow = origin.Length >= 2 ? origin[0] : 1;
            var originColumn = origin.Length >= 2 ? origin[1] : 1;

            var bits = data.Span;
            var planeBits = (long)rows.Value * columns.Value;
            var frameStart = planeBits * overlayFrame;
            for (var r = 0; r < rows.Value; r++)
            {
                var imageRow = r + originRow - 1 - region.Y;
                if (imageRow < 0 || imageRow >= region.Height)
                {
                    continue;
                }

                for (var c = 0; c < columns.Value; c++)
                {
                    var imageColumn = c + originColumn - 1 - region.X;
                    if (imageColumn < 0 || imageColumn >= region.Width)
                    {
                        continue;
                    }

                    var bit = frameStart + ((long)r * columns.Value) + c;
                    if ((bit >> 3) >= bits.Length || ((bits[(int)(bit >> 3)] >> (int)(bit & 7)) & 1) == 0)
                    {
                        continue;
                    }

                    var offset = ((imageRow * region.Width) + imageColumn) * image.Channels;
                    image.Pixels.AsSpan(offset, image.Channels).Fill(255);
                }
            }
        }
    }

    private static int? ReadInt(DicomDataset dataset, DicomTag tag)
    {
        try
        {
            return dataset.TryGetValue<int>(tag, out var value) ? value : null;
        }
        catch (Exception ex) when (ex is DicomFormatException or InvalidOperationException or OverflowException)
        {
            return null;
        }
    }
}
