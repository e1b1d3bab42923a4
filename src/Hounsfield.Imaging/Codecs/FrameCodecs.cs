namespace Hounsfield.Imaging.Codecs;

/// <summary>The managed frame codecs by transfer syntax UID.</summary>
public static class FrameCodecs
{
    public const string RleLossless = "1.2.840.10008.1.2.5";
    public const string JpegBaseline = "1.2.840.10008.1.2.4.50";
    public const string JpegExtended = "1.2.840.10008.1.2.4.51";
    public const string JpegLossless = "1.2.840.10008.1.2.4.57";
    public const string JpegLosslessSV1 = "1.2.840.10008.1.2.4.70";

    /// <summary>The decoder for frames of <paramref name="transferSyntaxUid"/>, or null when no managed codec handles it.</summary>
    public static IFrameDecoder? GetDecoder(string transferSyntaxUid) => transferSyntaxUid switch
    {
        RleLossless => RleDecoder.Instance,
        JpegBaseline or JpegExtended or JpegLossless or JpegLosslessSV1 => JpegDecoder.Instance,
        _ => null,
    };

    /// <summary>
    /// The encoder producing frames of <paramref name="transferSyntaxUid"/> with default options (JPEG lossless:
    /// predictor 1, valid for both lossless syntaxes; JPEG baseline: quality 90, 4:2:2), or null when no managed codec handles it.
    /// </summary>
    public static IFrameEncoder? GetEncoder(string transferSyntaxUid) => transferSyntaxUid switch
    {
        RleLossless => RleEncoder.Instance,
        JpegLosslessSV1 or JpegLossless => JpegLosslessEncoder.SV1,
        JpegBaseline => JpegBaselineEncoder.Default,
        _ => null,
    };
}
