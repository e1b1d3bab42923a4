namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// The frame codecs by transfer syntax UID: managed (RLE, JPEG, deflated frames) and native (JPEG-LS through CharLS,
/// JPEG 2000 and HTJ2K through OpenJPEG). A native codec is returned even when its library is missing: using it then
/// raises <see cref="CodecUnavailableException"/> naming the Debian package (see <see cref="IsAvailable"/>).
/// </summary>
public static class FrameCodecs
{
    public const string RleLossless = "1.2.840.10008.1.2.5";
    public const string JpegBaseline = "1.2.840.10008.1.2.4.50";
    public const string JpegExtended = "1.2.840.10008.1.2.4.51";
    public const string JpegLossless = "1.2.840.10008.1.2.4.57";
    public const string JpegLosslessSV1 = "1.2.840.10008.1.2.4.70";
    public const string JpegLSLossless = "1.2.840.10008.1.2.4.80";
    public const string JpegLSNearLossless = "1.2.840.10008.1.2.4.81";
    public const string Jpeg2000Lossless = "1.2.840.10008.1.2.4.90";
    public const string Jpeg2000 = "1.2.840.10008.1.2.4.91";
    public const string HtJpeg2000Lossless = "1.2.840.10008.1.2.4.201";
    public const string HtJpeg2000LosslessRpcl = "1.2.840.10008.1.2.4.202";
    public const string HtJpeg2000 = "1.2.840.10008.1.2.4.203";
    public const string DeflatedImageFrameCompression = "1.2.840.10008.1.2.8.1";

    /// <summary>The decoder for frames of <paramref name="transferSyntaxUid"/>, or null when no codec handles it.</summary>
    public static IFrameDecoder? GetDecoder(string transferSyntaxUid) => transferSyntaxUid switch
    {
        RleLossless => RleDecoder.Instance,
        JpegBaseline or JpegExtended or JpegLossless or JpegLosslessSV1 => JpegDecoder.Instance,
        JpegLSLossless or JpegLSNearLossless => JpegLsDecoder.Instance,
        Jpeg2000Lossless or Jpeg2000 or HtJpeg2000Lossless or HtJpeg2000LosslessRpcl or HtJpeg2000 => Jpeg2000Decoder.Instance,
        DeflatedImageFrameCompression => DeflatedFrameCodec.Instance,
        _ => null,
    };

    /// <summary>
    /// The encoder producing frames of <paramref name="transferSyntaxUid"/> with default options (JPEG lossless:
    /// predictor 1, valid for both lossless syntaxes; JPEG baseline: quality 90, 4:2:2; JPEG-LS near-lossless: NEAR 2;
    /// JPEG 2000 (.91): irreversible at a ratio of 10), or null when no codec encodes it (HTJ2K: OpenJPEG 2.5 only decodes).
    /// </summary>
    public static IFrameEncoder? GetEncoder(string transferSyntaxUid) => transferSyntaxUid switch
    {
        RleLossless => RleEncoder.Instance,
        JpegLosslessSV1 or JpegLossless => JpegLosslessEncoder.SV1,
        JpegBaseline => JpegBaselineEncoder.Default,
        JpegLSLossless => JpegLsEncoder.Lossless,
        JpegLSNearLossless => JpegLsEncoder.NearLossless,
        Jpeg2000Lossless => Jpeg2000Encoder.Lossless,
        Jpeg2000 => Jpeg2000Encoder.Lossy,
        DeflatedImageFrameCompression => DeflatedFrameCodec.Instance,
        _ => null,
    };

    /// <summary>
    /// Whether frames of <paramref name="transferSyntaxUid"/> can be decoded here and now: a codec exists and, for a
    /// native one, its library is installed.
    /// </summary>
    public static bool IsAvailable(string transferSyntaxUid) => transferSyntaxUid switch
    {
        JpegLSLossless or JpegLSNearLossless => JpegLsDecoder.IsAvailable,
        Jpeg2000Lossless or Jpeg2000 or HtJpeg2000Lossless or HtJpeg2000LosslessRpcl or HtJpeg2000 => Jpeg2000Decoder.IsAvailable,
        _ => GetDecoder(transferSyntaxUid) is not null,
    };
}
