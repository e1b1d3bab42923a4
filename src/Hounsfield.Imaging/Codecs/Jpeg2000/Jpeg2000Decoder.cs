using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Hounsfield.Imaging.Codecs.Native;

namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// JPEG 2000 (1.2.840.10008.1.2.4.90 lossless, .91) and High-Throughput JPEG 2000 (.201, .202, .203), PS3.5 §8.2.4
/// and §8.2.15, decoded by the native OpenJPEG library (Debian libopenjp2-7; 2.5 decodes HTJ2K) loaded at run time.
/// </summary>
/// <remarks>
/// <para>The frame produced is native little-endian, colour-by-pixel. When the codestream applies a multi-component
/// transform (YBR_RCT, YBR_ICT) OpenJPEG inverts it, so those frames come out RGB; other photometric interpretations are
/// kept. A raw codestream (what PS3.5 requires) and a JP2 file (what some writers put in the fragments) are both read.</para>
/// <para>Signedness follows the data set (PS3.5 §8.2.4: Pixel Representation describes the decoded pixels): when the data
/// set says signed but the codestream says unsigned, each sample is read as a two's complement value of the codestream's
/// precision and sign-extended (what pydicom and GDCM do; the corpus file j2k_pixelrep_mismatch, a CT whose unsigned
/// 13-bit codestream holds 6192 for -2000). A signed codestream in an unsigned data set keeps its bit patterns.</para>
/// </remarks>
public sealed class Jpeg2000Decoder : FrameDecoder
{
    private static readonly byte[] Jp2Signature = [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A];
    private readonly Func<OpenJpeg> api;

    private Jpeg2000Decoder(Func<OpenJpeg> api) => this.api = api;

    /// <summary>A decoder bound to another copy of the library (tests use a missing one).</summary>
    internal Jpeg2000Decoder(NativeCodecLibrary library)
        : this(() => new OpenJpeg(library))
    {
    }

    public static Jpeg2000Decoder Instance { get; } = new(OpenJpeg.Get);

    /// <summary>Whether the OpenJPEG library is installed (decoding raises <see cref="CodecUnavailableException"/> when not).</summary>
    public static bool IsAvailable => OpenJpeg.IsAvailable;

    public override FrameInfo GetDecodedInfo(FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return info.PhotometricInterpretation is "YBR_RCT" or "YBR_ICT"
            ? info with { PhotometricInterpretation = "RGB", PlanarConfiguration = 0 }
            : info with { PlanarConfiguration = 0 };
    }

    public override void Decode(ReadOnlySpan<byte> compressedFrame, FrameInfo info, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(info);
        info.Validate();
        var openJpeg = api();
        if (info.BitsAllocated is not (8 or 16 or 32))
        {
            throw new ImageCodecException($"JPEG 2000: Bits Allocated {info.BitsAllocated} is not supported (8, 16 or 32).");
        }

        if (destination.Length < info.FrameLength)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; the frame needs {info.FrameLength}.", nameof(destination));
        }

        var format = DetectFormat(compressedFrame);
        var image = nint.Zero;
        using var codec = OpenJpegCodec.CreateDecompressor(openJpeg, format);
        using var stream = OpenJpegStream.ForReading(openJpeg, compressedFrame.ToArray());
        var parameters = Marshal.AllocHGlobal(OpenJpeg.DecoderParametersSize);
        try
        {
            SetParameters(openJpeg, parameters);
            codec.Check(openJpeg.SetupDecoder(codec.Handle, parameters), "setting up the decoder");
            codec.Check(openJpeg.ReadHeader(stream.Handle, codec.Handle, out image), "reading the header");
            CheckHeader(image, info);
            codec.Check(openJpeg.Decode(codec.Handle, stream.Handle, image), "decoding");
            codec.Check(openJpeg.EndDecompress(codec.Handle, stream.Handle), "ending the decoding");
            CopySamples(image, info, destination);
        }
        finally
        {
            Marshal.FreeHGlobal(parameters);
            if (image != 0)
            {
                openJpeg.ImageDestroy(image);
            }
        }
    }

    private static void SetParameters(OpenJpeg openJpeg, nint parameters)
    {
        Marshal.Copy(new byte[OpenJpeg.DecoderParametersSize], 0, parameters, OpenJpeg.DecoderParametersSize);
        openJpeg.SetDefaultDecoderParameters(parameters);
        if (Marshal.ReadInt32(parameters, OpenJpeg.OffsetDecoderDecodeFormat) != -1 || Marshal.ReadInt32(parameters, OpenJpeg.OffsetDecoderCodeFormat) != -1)
        {
            throw openJpeg.Library.Unavailable("JPEG 2000 decoding", "has an opj_dparameters_t layout these bindings do not know");
        }

        // The samples as coded: a JP2 wrapper's palette or channel definitions are not for DICOM to apply (PS3.5 A.4.4).
        Marshal.WriteInt32(parameters, OpenJpeg.OffsetDecoderFlags, OpenJpeg.DecoderFlagIgnorePaletteAndChannels);
    }

    private static int DetectFormat(ReadOnlySpan<byte> data)
    {
        // A codestream starts with SOC then SIZ (ITU-T T.800 A.4.1, A.5.1); a JP2 file with its signature box (I.5.1).
        if (data.Length >= 4 && BinaryPrimitives.ReadUInt32BigEndian(data) == 0xFF4FFF51)
        {
            return OpenJpeg.CodecJ2K;
        }

        if (data.Length >= Jp2Signature.Length && data.StartsWith(Jp2Signature))
        {
            return OpenJpeg.CodecJP2;
        }

        throw new ImageCodecException($"JPEG 2000: the frame ({data.Length} bytes) starts with neither a codestream (SOC, SIZ) nor a JP2 signature.");
    }

    private static void CheckHeader(nint imagePointer, FrameInfo info)
    {
        if (imagePointer == 0)
        {
            throw new ImageCodecException("JPEG 2000: the header produced no image.");
        }

        var image = Marshal.PtrToStructure<OpenJpeg.Image>(imagePointer);
        var width = (long)image.X1 - image.X0;
        var height = (long)image.Y1 - image.Y0;
        if (width != info.Columns || height != info.Rows)
        {
            throw new ImageCodecException($"JPEG 2000: the codestream is {width}x{height}; the data set says {info.Columns}x{info.Rows}.");
        }

        if (image.ComponentCount != info.SamplesPerPixel || image.Components == 0)
        {
            throw new ImageCodecException($"JPEG 2000: the codestream has {image.ComponentCount} component(s); the data set says {info.SamplesPerPixel} sample(s) per pixel.");
        }

        for (var c = 0; c < info.SamplesPerPixel; c++)
        {
            var component = ReadComponent(image, c);
            if (component.Dx != 1 || component.Dy != 1)
            {
                throw new ImageCodecException($"JPEG 2000: component {c + 1} is subsampled ({component.Dx}x{component.Dy}); DICOM frames are not.");
            }

            if (component.Precision < 1 || component.Precision > info.BitsAllocated || component.Precision > 31)
            {
                throw new ImageCodecException($"JPEG 2000: component {c + 1} has {component.Precision}-bit samples, which do not fit Bits Allocated {info.BitsAllocated}.");
            }
        }
    }

    private static OpenJpeg.ImageComponent ReadComponent(OpenJpeg.Image image, int index) =>
        Marshal.PtrToStructure<OpenJpeg.ImageComponent>(image.Components + (index * OpenJpeg.ImageComponentSize));

    private static void CopySamples(nint imagePointer, FrameInfo info, Span<byte> destination)
    {
        var image = Marshal.PtrToStructure<OpenJpeg.Image>(imagePointer);
        var pixels = info.Rows * info.Columns;
        var components = info.SamplesPerPixel;
        var bytes = info.BytesPerSample;
        var samples = ArrayPool<int>.Shared.Rent(pixels);
        try
        {
            for (var c = 0; c < components; c++)
            {
                var component = ReadComponent(image, c);
                if (component.Data == 0 || component.Width != info.Columns || component.Height != info.Rows)
                {
                    throw new ImageCodecException($"JPEG 2000: component {c + 1} was not decoded at full resolution.");
                }

                Marshal.Copy(component.Data, samples, 0, pixels);
                var extend = info.PixelRepresentation == 1 && component.Signed == 0 ? 32 - (int)component.Precision : 0;
                var index = c * bytes;
                var stride = components * bytes;
                switch (bytes)
                {
                    case 1:
                        for (var p = 0; p < pixels; p++, index += stride)
                        {
                            destination[index] = (byte)((samples[p] << extend) >> extend);
                        }

                        break;
                    case 2:
                        for (var p = 0; p < pixels; p++, index += stride)
                        {
                            BinaryPrimitives.WriteInt16LittleEndian(destination[index..], (short)((samples[p] << extend) >> extend));
                        }

                        break;
                    default:
                        for (var p = 0; p < pixels; p++, index += stride)
                        {
                            BinaryPrimitives.WriteInt32LittleEndian(destination[index..], (samples[p] << extend) >> extend);
                        }

                        break;
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(samples);
        }
    }
}
