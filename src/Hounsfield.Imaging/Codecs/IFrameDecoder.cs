namespace Hounsfield.Imaging.Codecs;

/// <summary>Decodes one compressed frame of encapsulated pixel data to a native frame.</summary>
public interface IFrameDecoder
{
    /// <summary>
    /// The attributes of the native frames this decoder produces from frames described by <paramref name="info"/>:
    /// a codec may change the photometric interpretation (JPEG: YBR_* to RGB) and the planar configuration.
    /// </summary>
    FrameInfo GetDecodedInfo(FrameInfo info);

    /// <summary>
    /// Decodes <paramref name="compressedFrame"/> into <paramref name="destination"/>, which must hold at least
    /// <c>GetDecodedInfo(info).FrameLength</c> bytes. Throws <see cref="ImageCodecException"/> for any malformed stream.
    /// </summary>
    void Decode(ReadOnlySpan<byte> compressedFrame, FrameInfo info, Span<byte> destination);

    /// <summary>Decodes <paramref name="compressedFrame"/> into a new array of <c>GetDecodedInfo(info).FrameLength</c> bytes.</summary>
    byte[] Decode(ReadOnlySpan<byte> compressedFrame, FrameInfo info);
}

/// <summary>Encodes one native frame to a compressed frame (one or more fragments' worth of bytes).</summary>
public interface IFrameEncoder
{
    /// <summary>The attributes to record in the data set for frames this encoder produces from frames described by <paramref name="info"/>.</summary>
    FrameInfo GetEncodedInfo(FrameInfo info);

    /// <summary>Encodes the native frame <paramref name="frame"/> (laid out as <paramref name="info"/> says).</summary>
    byte[] Encode(ReadOnlySpan<byte> frame, FrameInfo info);
}
