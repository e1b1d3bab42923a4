using Hounsfield.Imaging.Codecs.Native;

namespace Hounsfield.Imaging.Codecs;

/// <summary>Options of <see cref="JpegLsEncoder"/>.</summary>
public sealed record JpegLsEncoderOptions
{
    /// <summary>
    /// The NEAR parameter (ISO/IEC 14495-1): 0 is lossless (1.2.840.10008.1.2.4.80); n &gt; 0 allows every sample to
    /// differ from the original by at most n (near-lossless, 1.2.840.10008.1.2.4.81). Default 0.
    /// </summary>
    public int NearLossless { get; init; }
}

/// <summary>
/// JPEG-LS encoder (ISO/IEC 14495-1; DICOM 1.2.840.10008.1.2.4.80 lossless, .81 near-lossless) through the native
/// CharLS library (Debian libcharls2) loaded at run time.
/// </summary>
/// <remarks>
/// The sample precision P is Bits Stored when no sample has a bit set above Bits Stored, else Bits Allocated, so that
/// every stored bit survives a lossless round trip (sign-extended negative values of a signed image with Bits Stored
/// &lt; Bits Allocated, overlay bits). Colour frames are coded sample-interleaved and recorded with Planar
/// Configuration 0. Output is padded to an even length (CharLS writes a fill byte before EOI), as a fragment must be.
/// </remarks>
public sealed class JpegLsEncoder : IFrameEncoder
{
    private readonly Func<CharLS> api;

    public JpegLsEncoder(JpegLsEncoderOptions? options = null)
        : this(options, CharLS.Get)
    {
    }

    internal JpegLsEncoder(JpegLsEncoderOptions? options, NativeCodecLibrary library)
        : this(options, () => new CharLS(library))
    {
    }

    private JpegLsEncoder(JpegLsEncoderOptions? options, Func<CharLS> api)
    {
        Options = options ?? new JpegLsEncoderOptions();
        if (Options.NearLossless is < 0 or > 255)
        {
            throw new ArgumentOutOfRangeException(nameof(options), Options.NearLossless, "NEAR must be 0 to 255.");
        }

        this.api = api;
    }

    /// <summary>The lossless encoder (NEAR 0): 1.2.840.10008.1.2.4.80.</summary>
    public static JpegLsEncoder Lossless { get; } = new();

    /// <summary>The near-lossless encoder with NEAR 2: 1.2.840.10008.1.2.4.81.</summary>
    public static JpegLsEncoder NearLossless { get; } = new(new JpegLsEncoderOptions { NearLossless = 2 });

    /// <summary>Whether the CharLS library is installed (encoding raises <see cref="CodecUnavailableException"/> when not).</summary>
    public static bool IsAvailable => CharLS.IsAvailable;

    public JpegLsEncoderOptions Options { get; }

    /// <summary>The transfer syntax of the frames this encoder produces.</summary>
    public string TransferSyntaxUid => Options.NearLossless == 0 ? FrameCodecs.JpegLSLossless : FrameCodecs.JpegLSNearLossless;

    public FrameInfo GetEncodedInfo(FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return info with { PlanarConfiguration = 0 };
    }

    public byte[] Encode(ReadOnlySpan<byte> frame, FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        info.Validate();
        var charls = api();
        if (info.BitsAllocated is not (8 or 16))
        {
            throw new ImageCodecException($"JPEG-LS: Bits Allocated {info.BitsAllocated} is not supported (8 or 16).");
        }

        if (info.SamplesPerPixel is not (1 or 3))
        {
            throw new ImageCodecException($"JPEG-LS: Samples per Pixel {info.SamplesPerPixel} is not supported (1 or 3).");
        }

        if (info.PhotometricInterpretation is "YBR_FULL_422" or "YBR_PARTIAL_422")
        {
            throw new ImageCodecException($"JPEG-LS: native {info.PhotometricInterpretation} (subsampled) frames are not supported; convert them to YBR_FULL or RGB first.");
        }

        if (frame.Length < info.FrameLength)
        {
            throw new ImageCodecException($"JPEG-LS: the native frame has {frame.Length} bytes; {info.FrameLength} are expected.");
        }

        if (info.Rows > ushort.MaxValue || info.Columns > ushort.MaxValue)
        {
            // Larger sizes need the LSE size extension, which few decoders read.
            throw new ImageCodecException($"JPEG-LS: {info.Columns}x{info.Rows} exceeds 65535 lines or columns.");
        }

        frame = frame[..(int)info.FrameLength];
        var bytesPerSample = info.BytesPerSample;
        var precision = Math.Max(2, SampleLayout.FitsUnsigned(frame, bytesPerSample, info.BitsStored) ? info.BitsStored : info.BitsAllocated);
        var maximum = (1 << precision) - 1;
        if (Options.NearLossless > maximum / 2)
        {
            throw new ImageCodecException($"JPEG-LS: NEAR {Options.NearLossless} is too large for {precision}-bit samples (at most {maximum / 2}).");
        }

        // CharLS reads sample-interleaved input as colour-by-pixel, samples of up to 8 bits as single bytes.
        var codedBytes = precision <= 8 ? 1 : 2;
        var pixels = info.Rows * info.Columns;
        var components = info.SamplesPerPixel;
        var planar = components > 1 && info.PlanarConfiguration == 1;
        byte[]? converted = null;
        if (planar || codedBytes != bytesPerSample)
        {
            converted = new byte[pixels * components * codedBytes];
            SampleLayout.Convert(frame, bytesPerSample, planar, converted, codedBytes, false, pixels, components);
            frame = converted;
        }

        var encoder = charls.EncoderCreate();
        if (encoder == 0)
        {
            throw new ImageCodecException("JPEG-LS: CharLS could not create an encoder (out of memory).");
        }

        try
        {
            var frameInfo = new CharLS.FrameInfo
            {
                Width = (uint)info.Columns,
                Height = (uint)info.Rows,
                BitsPerSample = precision,
                ComponentCount = components,
            };
            charls.Check(charls.EncoderSetFrameInfo(encoder, frameInfo), "setting the frame");
            charls.Check(charls.EncoderSetNearLossless(encoder, Options.NearLossless), "setting NEAR");
            charls.Check(charls.EncoderSetInterleaveMode(encoder, components > 1 ? CharLS.InterleaveSample : CharLS.InterleaveNone), "setting the interleave mode");
            charls.Check(charls.EncoderSetEncodingOptions(encoder, CharLS.EncodingOptionEvenDestinationSize), "setting the options");
            charls.Check(charls.EncoderGetEstimatedDestinationSize(encoder, out var estimate), "estimating the size");
            if (estimate > (nuint)Array.MaxLength)
            {
                throw new ImageCodecException($"JPEG-LS: the frame may need {estimate} bytes, more than an array holds.");
            }

            using var destination = PinnedBuffer.Rent((int)estimate);
            charls.Check(charls.EncoderSetDestinationBuffer(encoder, destination.Address, (nuint)destination.Length), "setting the destination");
            charls.Check(charls.EncoderEncodeFromBuffer(encoder, ref System.Runtime.InteropServices.MemoryMarshal.GetReference(frame), (nuint)frame.Length, 0), "encoding");
            charls.Check(charls.EncoderGetBytesWritten(encoder, out var written), "reading the size");
            return destination.Span[..(int)written].ToArray();
        }
        finally
        {
            charls.EncoderDestroy(encoder);
        }
    }
}
