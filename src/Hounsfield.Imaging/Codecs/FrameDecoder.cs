namespace Hounsfield.Imaging.Codecs;

/// <summary>What every frame decoder shares: the array overload, sized by the frames the decoder produces.</summary>
public abstract class FrameDecoder : IFrameDecoder
{
    public abstract FrameInfo GetDecodedInfo(FrameInfo info);

    public abstract void Decode(ReadOnlySpan<byte> compressedFrame, FrameInfo info, Span<byte> destination);

    public byte[] Decode(ReadOnlySpan<byte> compressedFrame, FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        info.Validate();
        var frame = new byte[DecodedFrameLength(info)];
        Decode(compressedFrame, info, frame);
        return frame;
    }

    /// <summary>Bytes of one decoded frame: <c>GetDecodedInfo(info).FrameLength</c> unless a codec lays frames out otherwise.</summary>
    protected virtual long DecodedFrameLength(FrameInfo info) => GetDecodedInfo(info).FrameLength;
}
