namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// JPEG decoder for the DICOM JPEG transfer syntaxes (PS3.5 §8.2.1, A.4.1): baseline (process 1, 1.2.840.10008.1.2.4.50),
/// extended (processes 2 and 4, 8 and 12 bits, 1.2.840.10008.1.2.4.51) and lossless (process 14, any predictor,
/// 1.2.840.10008.1.2.4.57 and SV1 1.2.840.10008.1.2.4.70), all Huffman-coded sequential (ITU-T T.81 Annexes F and H),
/// with one to four components, interleaved or not, restart intervals and any sampling factors.
/// Progressive, hierarchical and arithmetic-coded streams are refused with an <see cref="ImageCodecException"/>.
/// </summary>
/// <remarks>
/// Output: one native frame, colour-by-pixel, samples little-endian in BitsAllocated (8 or 16) bits. Lossy output
/// reproduces the Independent JPEG Group's library (islow IDCT, fancy upsampling, fixed-point colour conversion),
/// which DCMTK uses, so lossy frames equal DCMTK's decode. YCbCr is converted to RGB as DCMTK does by default: when
/// the data set's photometric interpretation is YBR_* (unless an Adobe APP14 marker says the stream is untransformed
/// RGB), and also when an Adobe APP14 marker says a stream labelled RGB is in fact YCbCr.
/// </remarks>
public sealed class JpegDecoder : FrameDecoder
{
    public JpegDecoder(JpegDecoderOptions? options = null)
    {
        Options = options ?? new JpegDecoderOptions();
    }

    public static JpegDecoder Instance { get; } = new();

    public JpegDecoderOptions Options { get; }

    public override FrameInfo GetDecodedInfo(FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        var decoded = info with { PlanarConfiguration = 0 };
        if (info.SamplesPerPixel == 3 && info.IsYbr)
        {
            if (Options.ConvertYbrToRgb)
            {
                decoded = decoded with { PhotometricInterpretation = "RGB" };
            }
            else if (info.PhotometricInterpretation == "YBR_FULL_422")
            {
                // Upsampled to full resolution: no longer the subsampled native layout YBR_FULL_422 describes.
                decoded = decoded with { PhotometricInterpretation = "YBR_FULL" };
            }
        }

        return decoded;
    }

    public override void Decode(ReadOnlySpan<byte> compressedFrame, FrameInfo info, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(info);
        info.Validate();
        if (info.BitsAllocated is not (8 or 16))
        {
            throw new ImageCodecException($"JPEG: Bits Allocated {info.BitsAllocated} is not supported (8 or 16).");
        }

        if (destination.Length < info.FrameLength)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; the frame needs {info.FrameLength}.", nameof(destination));
        }

        using var decoding = new JpegDecoding(Options, info);
        decoding.Decode(compressedFrame, destination);
    }
}

/// <summary>Options of the <see cref="JpegDecoder"/>.</summary>
public sealed record JpegDecoderOptions
{
    /// <summary>
    /// Convert YCbCr streams to RGB (default true, as DCMTK's dcmdjpeg does by default). When false, components are
    /// returned as coded (upsampled to full resolution).
    /// </summary>
    public bool ConvertYbrToRgb { get; init; } = true;

    /// <summary>
    /// Decode lossless predictor 6 the way a known faulty encoder computed it for 16-bit images (the difference
    /// Ra - Rc overflowing 16 bits), as DCMTK's <c>+w6</c> option does. Off by default: correct streams decode wrongly with it.
    /// </summary>
    public bool Predictor6Workaround { get; init; }
}
