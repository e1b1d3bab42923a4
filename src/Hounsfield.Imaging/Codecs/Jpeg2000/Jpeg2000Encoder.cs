using System.Buffers;
using System.Runtime.InteropServices;
using Hounsfield.Imaging.Codecs.Native;

namespace Hounsfield.Imaging.Codecs;

/// <summary>Options of <see cref="Jpeg2000Encoder"/>.</summary>
public sealed record Jpeg2000EncoderOptions
{
    /// <summary>
    /// True (default): reversible 5/3 wavelet and RCT, every sample kept (1.2.840.10008.1.2.4.90). False: irreversible
    /// 9/7 wavelet and ICT at <see cref="CompressionRatio"/> (1.2.840.10008.1.2.4.91).
    /// </summary>
    public bool Lossless { get; init; } = true;

    /// <summary>Lossy only: the target ratio of native to compressed size (default 10, i.e. a tenth of the native frame). At least 1.</summary>
    public float CompressionRatio { get; init; } = 10;

    /// <summary>The number of resolution levels (wavelet decompositions + 1), reduced for small images. Default 6.</summary>
    public int Resolutions { get; init; } = 6;
}

/// <summary>
/// JPEG 2000 encoder (ITU-T T.800 codestream; DICOM 1.2.840.10008.1.2.4.90 lossless, .91 lossy) through the native
/// OpenJPEG library (Debian libopenjp2-7) loaded at run time. OpenJPEG 2.5 does not encode HTJ2K.
/// </summary>
/// <remarks>
/// One tile, one quality layer, LRCP. The component precision is Bits Stored when every sample fits it (unsigned, or
/// two's complement for a signed image), else Bits Allocated, so every stored bit survives a lossless round trip.
/// RGB frames get the colour transform (RCT lossless, ICT lossy) and are recorded as YBR_RCT / YBR_ICT (PS3.5
/// §8.2.4); the decoder returns RGB. Frames are recorded colour-by-pixel.
/// </remarks>
public sealed class Jpeg2000Encoder : IFrameEncoder
{
    private readonly Func<OpenJpeg> api;

    public Jpeg2000Encoder(Jpeg2000EncoderOptions? options = null)
        : this(options, OpenJpeg.Get)
    {
    }

    internal Jpeg2000Encoder(Jpeg2000EncoderOptions? options, NativeCodecLibrary library)
        : this(options, () => new OpenJpeg(library))
    {
    }

    private Jpeg2000Encoder(Jpeg2000EncoderOptions? options, Func<OpenJpeg> api)
    {
        Options = options ?? new Jpeg2000EncoderOptions();
        if (!Options.Lossless && !(Options.CompressionRatio >= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options), Options.CompressionRatio, "The compression ratio must be at least 1.");
        }

        if (Options.Resolutions is < 1 or > 33)
        {
            throw new ArgumentOutOfRangeException(nameof(options), Options.Resolutions, "The number of resolutions must be 1 to 33.");
        }

        this.api = api;
    }

    /// <summary>The lossless encoder: 1.2.840.10008.1.2.4.90.</summary>
    public static Jpeg2000Encoder Lossless { get; } = new();

    /// <summary>The lossy encoder at a compression ratio of 10: 1.2.840.10008.1.2.4.91.</summary>
    public static Jpeg2000Encoder Lossy { get; } = new(new Jpeg2000EncoderOptions { Lossless = false });

    /// <summary>Whether the OpenJPEG library is installed (encoding raises <see cref="CodecUnavailableException"/> when not).</summary>
    public static bool IsAvailable => OpenJpeg.IsAvailable;

    public Jpeg2000EncoderOptions Options { get; }

    /// <summary>The transfer syntax of the frames this encoder produces.</summary>
    public string TransferSyntaxUid => Options.Lossless ? FrameCodecs.Jpeg2000Lossless : FrameCodecs.Jpeg2000;

    public FrameInfo GetEncodedInfo(FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return UsesColorTransform(info)
            ? info with { PhotometricInterpretation = Options.Lossless ? "YBR_RCT" : "YBR_ICT", PlanarConfiguration = 0 }
            : info with { PlanarConfiguration = 0 };
    }

    public byte[] Encode(ReadOnlySpan<byte> frame, FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        info.Validate();
        var openJpeg = api();
        if (info.BitsAllocated is not (8 or 16))
        {
            throw new ImageCodecException($"JPEG 2000: Bits Allocated {info.BitsAllocated} is not supported for encoding (8 or 16).");
        }

        if (info.PhotometricInterpretation is "YBR_FULL_422" or "YBR_PARTIAL_422")
        {
            throw new ImageCodecException($"JPEG 2000: native {info.PhotometricInterpretation} (subsampled) frames are not supported; convert them to YBR_FULL or RGB first.");
        }

        if (frame.Length < info.FrameLength)
        {
            throw new ImageCodecException($"JPEG 2000: the native frame has {frame.Length} bytes; {info.FrameLength} are expected.");
        }

        frame = frame[..(int)info.FrameLength];
        var bytes = info.BytesPerSample;
        var signed = info.PixelRepresentation == 1;
        var fits = signed ? SampleLayout.FitsSigned(frame, bytes, info.BitsStored) : SampleLayout.FitsUnsigned(frame, bytes, info.BitsStored);
        var precision = fits ? info.BitsStored : info.BitsAllocated;
        var components = info.SamplesPerPixel;
        var colorTransform = UsesColorTransform(info);

        var parameters = new OpenJpeg.ComponentParameters[components];
        for (var c = 0; c < components; c++)
        {
            parameters[c] = new OpenJpeg.ComponentParameters
            {
                Dx = 1,
                Dy = 1,
                Width = (uint)info.Columns,
                Height = (uint)info.Rows,
                Precision = (uint)precision,
                Bpp = (uint)precision,
                Signed = signed ? 1u : 0u,
            };
        }

        var colorSpace = components == 1 ? OpenJpeg.ColorSpaceGray
            : info.PhotometricInterpretation == "RGB" ? OpenJpeg.ColorSpaceSrgb
            : info.IsYbr ? OpenJpeg.ColorSpaceSycc
            : OpenJpeg.ColorSpaceUnspecified;
        var image = openJpeg.ImageCreate((uint)components, parameters, colorSpace);
        if (image == 0)
        {
            throw new ImageCodecException("JPEG 2000: OpenJPEG could not create the image (out of memory).");
        }

        var encoderParameters = Marshal.AllocHGlobal(OpenJpeg.EncoderParametersSize);
        try
        {
            Marshal.WriteInt32(image, OpenJpeg.OffsetImageX0, 0);
            Marshal.WriteInt32(image, OpenJpeg.OffsetImageY0, 0);
            Marshal.WriteInt32(image, OpenJpeg.OffsetImageX1, info.Columns);
            Marshal.WriteInt32(image, OpenJpeg.OffsetImageY1, info.Rows);
            CopySamples(frame, info, signed, image);
            SetParameters(openJpeg, encoderParameters, info, colorTransform);

            using var codec = OpenJpegCodec.CreateCompressor(openJpeg, OpenJpeg.CodecJ2K);
            codec.Check(openJpeg.SetupEncoder(codec.Handle, encoderParameters, image), "setting up the encoder");
            using var stream = OpenJpegStream.ForWriting(openJpeg, (int)Math.Min(info.FrameLength / 2, 1 << 24));
            codec.Check(openJpeg.StartCompress(codec.Handle, image, stream.Handle), "starting the encoding");
            codec.Check(openJpeg.Encode(codec.Handle, stream.Handle), "encoding");
            codec.Check(openJpeg.EndCompress(codec.Handle, stream.Handle), "ending the encoding");
            return stream.ToArray();
        }
        finally
        {
            Marshal.FreeHGlobal(encoderParameters);
            openJpeg.ImageDestroy(image);
        }
    }

    /// <summary>The three samples of an RGB frame are decorrelated with the component transform (RCT/ICT).</summary>
    private static bool UsesColorTransform(FrameInfo info) => info.SamplesPerPixel == 3 && info.PhotometricInterpretation == "RGB";

    private void SetParameters(OpenJpeg openJpeg, nint parameters, FrameInfo info, bool colorTransform)
    {
        var zeros = new byte[OpenJpeg.EncoderParametersSize];
        Marshal.Copy(zeros, 0, parameters, zeros.Length);
        openJpeg.SetDefaultEncoderParameters(parameters);

        // The defaults OpenJPEG writes at the offsets we rely on: a different layout means a library we are not bound to.
        if (Marshal.ReadInt32(parameters, OpenJpeg.OffsetNumResolution) != 6
            || Marshal.ReadInt32(parameters, OpenJpeg.OffsetCodeBlockWidth) != 64
            || Marshal.ReadInt32(parameters, OpenJpeg.OffsetCodeBlockHeight) != 64
            || Marshal.ReadInt32(parameters, OpenJpeg.OffsetRoiComponent) != -1
            || Marshal.ReadInt32(parameters, OpenJpeg.OffsetDecodeFormat) != -1
            || Marshal.ReadInt32(parameters, OpenJpeg.OffsetCodeFormat) != -1)
        {
            throw openJpeg.Library.Unavailable("JPEG 2000 encoding", "has an opj_cparameters_t layout these bindings do not know");
        }

        // Each decomposition halves the image; OpenJPEG refuses more levels than the smaller side allows.
        var smaller = Math.Min(info.Rows, info.Columns);
        var resolutions = Math.Min(Options.Resolutions, 1 + (int)Math.Floor(Math.Log2(smaller)));
        Marshal.WriteInt32(parameters, OpenJpeg.OffsetNumResolution, Math.Max(1, resolutions));
        Marshal.WriteInt32(parameters, OpenJpeg.OffsetNumLayers, 1);
        Marshal.WriteInt32(parameters, OpenJpeg.OffsetDistoAlloc, 1);
        Marshal.WriteInt32(parameters, OpenJpeg.OffsetRates, BitConverter.SingleToInt32Bits(Options.Lossless ? 0f : Options.CompressionRatio));
        Marshal.WriteInt32(parameters, OpenJpeg.OffsetIrreversible, Options.Lossless ? 0 : 1);
        Marshal.WriteByte(parameters, OpenJpeg.OffsetMct, colorTransform ? (byte)1 : (byte)0);
    }

    private static void CopySamples(ReadOnlySpan<byte> frame, FrameInfo info, bool signed, nint image)
    {
        var pixels = info.Rows * info.Columns;
        var components = info.SamplesPerPixel;
        var bytes = info.BytesPerSample;
        var planar = components > 1 && info.PlanarConfiguration == 1;
        var componentsPointer = Marshal.ReadIntPtr(image, OpenJpeg.OffsetImageComps);
        var samples = ArrayPool<int>.Shared.Rent(pixels);
        try
        {
            for (var c = 0; c < components; c++)
            {
                for (var p = 0; p < pixels; p++)
                {
                    var index = planar ? (c * pixels) + p : (p * components) + c;
                    var raw = SampleLayout.Read(frame, index, bytes);
                    samples[p] = signed ? (int)SampleLayout.SignExtend(raw, bytes * 8) : (int)raw;
                }

                var data = Marshal.ReadIntPtr(componentsPointer + (c * OpenJpeg.ImageComponentSize), OpenJpeg.OffsetComponentData);
                if (data == 0)
                {
                    throw new ImageCodecException("JPEG 2000: OpenJPEG did not allocate the component data (out of memory).");
                }

                Marshal.Copy(samples, 0, data, pixels);
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(samples);
        }
    }
}
