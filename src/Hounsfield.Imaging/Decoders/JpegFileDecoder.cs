// JPEG interchange format files (ITU-T T.81 Annex B) as written by cameras and image editors: JFIF (APP0), Exif (APP1),
// Adobe (APP14). The frame header gives the size; the entropy-coded data is decoded by the DICOM JPEG codec.
using System.Buffers.Binary;
using Hounsfield.Imaging.Codecs;

namespace Hounsfield.Imaging.Decoders;

/// <summary>
/// Decodes a JPEG file (gray or three-component, baseline, extended or lossless sequential) with <see cref="JpegDecoder"/>,
/// so the pixels equal what the codec — and libjpeg's djpeg, which it reproduces — gives for the same stream. Three
/// components are YCbCr converted to RGB, unless an Adobe marker says they are untransformed RGB or, without JFIF and
/// Adobe markers, the component identifiers are 'R', 'G', 'B' (as libjpeg decides). CMYK and progressive files are refused.
/// </summary>
public static class JpegFileDecoder
{
    /// <summary>Whether <paramref name="data"/> starts with a JPEG SOI marker followed by another marker.</summary>
    public static bool IsJpeg(ReadOnlySpan<byte> data) => data.Length >= 4 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;

    public static DecodedImage Decode(ReadOnlyMemory<byte> jpeg, ImageDecodeLimits? limits = null)
    {
        limits ??= ImageDecodeLimits.Default;
        var data = jpeg.Span;
        if (!IsJpeg(data))
        {
            throw new ImageCodecException("JPEG: the data does not start with an SOI marker.");
        }

        var frame = ReadFrameHeader(data);
        limits.Check("JPEG", frame.Width, frame.Height);
        if (frame.Components is not (1 or 3))
        {
            throw new ImageCodecException($"JPEG: {frame.Components} components (CMYK or similar) are not supported; use a gray or colour (YCbCr/RGB) JPEG.");
        }

        var bitsAllocated = frame.Precision <= 8 ? 8 : 16;
        var photometric = frame.Components == 1 ? "MONOCHROME2" : frame.LooksRgb ? "RGB" : "YBR_FULL";
        var info = new FrameInfo(frame.Height, frame.Width, frame.Components, bitsAllocated, frame.Precision, 0, photometric, 0);
        var decoder = JpegDecoder.Instance;
        var samples = decoder.Decode(data, info);
        var channels = decoder.GetDecodedInfo(info).SamplesPerPixel;
        return new DecodedImage(frame.Width, frame.Height, channels, bitsAllocated, samples) { SignificantBits = frame.Precision };
    }

    private static FrameHeader ReadFrameHeader(ReadOnlySpan<byte> data)
    {
        var position = 2;
        var jfif = false;
        var adobe = false;
        while (true)
        {
            // Fill bytes (0xFF repeated) may precede a marker (T.81 B.1.1.2).
            while (position < data.Length && data[position] == 0xFF && position + 1 < data.Length && data[position + 1] == 0xFF)
            {
                position++;
            }

            if (position + 4 > data.Length || data[position] != 0xFF)
            {
                throw new ImageCodecException("JPEG: no frame header (SOF) before the end of the data, or a malformed marker.");
            }

            var marker = data[position + 1];
            var length = BinaryPrimitives.ReadUInt16BigEndian(data[(position + 2)..]);
            if (length < 2 || position + 2 + length > data.Length)
            {
                throw new ImageCodecException($"JPEG: marker segment 0xFF{marker:X2} of length {length} exceeds the data.");
            }

            var segment = data.Slice(position + 4, length - 2);
            switch (marker)
            {
                case 0xE0 when segment.StartsWith("JFIF\0"u8):
                    jfif = true;
                    break;
                case 0xEE when segment.StartsWith("Adobe"u8):
                    adobe = true;
                    break;
                case 0xC2 or 0xC6 or 0xCA or 0xCE:
                    throw new ImageCodecException("JPEG: progressive images are not supported; save the image as baseline JPEG or PNG.");
                case >= 0xC0 and <= 0xCF when marker is not (0xC4 or 0xC8 or 0xCC):
                    if (segment.Length < 6)
                    {
                        throw new ImageCodecException("JPEG: SOF segment too short.");
                    }

                    var components = segment[5];
                    var rgbIds = components == 3 && segment.Length >= 6 + 9
                        && segment[6] == 'R' && segment[9] == 'G' && segment[12] == 'B';
                    var height = BinaryPrimitives.ReadUInt16BigEndian(segment[1..]);
                    if (height == 0)
                    {
                        throw new ImageCodecException("JPEG: the height is defined by a DNL marker, which is not supported.");
                    }

                    return new FrameHeader(segment[0], BinaryPrimitives.ReadUInt16BigEndian(segment[3..]), height, components, rgbIds && !jfif && !adobe);
                case 0xDA:
                    throw new ImageCodecException("JPEG: a scan (SOS) before the frame header (SOF).");
            }

            position += 2 + length;
        }
    }

    private sealed record FrameHeader(int Precision, int Width, int Height, int Components, bool LooksRgb);
}
