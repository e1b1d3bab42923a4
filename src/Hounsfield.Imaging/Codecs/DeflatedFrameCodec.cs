using System.IO.Compression;

namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// Deflated Image Frame Compression (1.2.840.10008.1.2.8.1, PS3.5 §8.2.16 and A.4.13): each frame is the native frame
/// (PS3.5 §8.1; 1-bit frames start on a byte boundary) compressed with raw Deflate (RFC 1951, no zlib or gzip header).
/// Decoder and encoder in one, with System.IO.Compression.
/// </summary>
public sealed class DeflatedFrameCodec : FrameDecoder, IFrameEncoder
{
    public DeflatedFrameCodec(CompressionLevel level = CompressionLevel.Optimal) => Level = level;

    public static DeflatedFrameCodec Instance { get; } = new();

    public CompressionLevel Level { get; }

    public override FrameInfo GetDecodedInfo(FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return info;
    }

    public FrameInfo GetEncodedInfo(FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return info;
    }

    public override void Decode(ReadOnlySpan<byte> compressedFrame, FrameInfo info, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(info);
        info.Validate();
        var length = (int)NativeFrameLength(info);
        if (destination.Length < length)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; the frame needs {length}.", nameof(destination));
        }

        if (compressedFrame.IsEmpty)
        {
            throw new ImageCodecException("Deflated frame: the frame is empty.");
        }

        using var input = new MemoryStream(compressedFrame.ToArray(), writable: false);
        using var inflater = new DeflateStream(input, CompressionMode.Decompress);
        var total = 0;
        try
        {
            while (total < length)
            {
                var read = inflater.Read(destination[total..length]);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }
        }
        catch (InvalidDataException ex)
        {
            throw new ImageCodecException($"Deflated frame: the Deflate stream is invalid after {total} of {length} bytes ({ex.Message}).", ex);
        }

        if (total < length)
        {
            throw new ImageCodecException($"Deflated frame: the Deflate stream ends after {total} of the frame's {length} bytes.");
        }

        // Anything the stream holds beyond the frame (a pad byte of an odd-length frame) is ignored.
    }

    public byte[] Encode(ReadOnlySpan<byte> frame, FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        info.Validate();
        var length = NativeFrameLength(info);
        if (frame.Length < length)
        {
            throw new ImageCodecException($"Deflated frame: the native frame has {frame.Length} bytes; {length} are expected.");
        }

        using var output = new MemoryStream();
        using (var deflater = new DeflateStream(output, Level, leaveOpen: true))
        {
            deflater.Write(frame[..(int)length]);
        }

        return output.ToArray();
    }

    protected override long DecodedFrameLength(FrameInfo info) => NativeFrameLength(info);

    /// <summary>The native frame's length: <see cref="FrameInfo.FrameLength"/>, except for YBR_FULL_422 / YBR_PARTIAL_422, stored natively with two samples per pixel (PS3.3 C.7.6.3.1.2).</summary>
    internal static long NativeFrameLength(FrameInfo info) =>
        info.SamplesPerPixel == 3 && info.PhotometricInterpretation is "YBR_FULL_422" or "YBR_PARTIAL_422"
            ? (long)info.Rows * ((info.Columns + 1) / 2) * 4 * info.BytesPerSample
            : info.FrameLength;
}
