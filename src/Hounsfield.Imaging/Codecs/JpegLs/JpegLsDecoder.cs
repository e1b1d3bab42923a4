using Hounsfield.Imaging.Codecs.Native;

namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// JPEG-LS Lossless (1.2.840.10008.1.2.4.80) and Near-Lossless (1.2.840.10008.1.2.4.81), PS3.5 §8.2.3 and
/// ISO/IEC 14495-1, decoded by the native CharLS library (Debian libcharls2) loaded at run time.
/// </summary>
/// <remarks>
/// The frame produced is native little-endian, Bits Allocated wide, with the samples exactly as coded (JPEG-LS has no
/// notion of sign: a signed image's two's complement bit patterns come back as coded). Colour frames are laid out as
/// the data set's Planar Configuration says, whatever the stream's interleave mode (what DCMTK's dcmdjpls does by
/// default: "restore the original planar configuration").
/// </remarks>
public sealed class JpegLsDecoder : FrameDecoder
{
    private const int MaxPrecision = 16;
    private static readonly byte[] EndOfImage = [0xFF, 0xD9];
    private readonly Func<CharLS> api;

    private JpegLsDecoder(Func<CharLS> api) => this.api = api;

    /// <summary>A decoder bound to another copy of the library (tests use a missing one).</summary>
    internal JpegLsDecoder(NativeCodecLibrary library)
        : this(() => new CharLS(library))
    {
    }

    public static JpegLsDecoder Instance { get; } = new(CharLS.Get);

    /// <summary>Whether the CharLS library is installed (decoding raises <see cref="CodecUnavailableException"/> when not).</summary>
    public static bool IsAvailable => CharLS.IsAvailable;

    public override FrameInfo GetDecodedInfo(FrameInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return info.SamplesPerPixel > 1 ? info : info with { PlanarConfiguration = 0 };
    }

    public override void Decode(ReadOnlySpan<byte> compressedFrame, FrameInfo info, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(info);
        info.Validate();
        var charls = api();
        if (info.BitsAllocated is not (8 or 16))
        {
            throw new ImageCodecException($"JPEG-LS: Bits Allocated {info.BitsAllocated} is not supported (8 or 16).");
        }

        if (destination.Length < info.FrameLength)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; the frame needs {info.FrameLength}.", nameof(destination));
        }

        // SOI, then at least one marker: anything shorter is not a JPEG-LS stream, and CharLS is never handed it.
        if (compressedFrame.Length < 4 || compressedFrame[0] != 0xFF || compressedFrame[1] != 0xD8)
        {
            throw new ImageCodecException($"JPEG-LS: the frame ({compressedFrame.Length} bytes) does not start with an SOI marker.");
        }

        // CharLS 2.4 spends seconds of CPU on a scan that ends without a marker (a 4 KB truncated stream: 10-20 s)
        // before failing: a stream must end with EOI, which entropy-coded data cannot contain (ISO/IEC 14495-1 A.1:
        // an FF byte is followed by a 0 bit). What follows the last EOI (fragment padding) is not passed on.
        var end = compressedFrame.LastIndexOf(EndOfImage);
        if (end < 2)
        {
            throw new ImageCodecException($"JPEG-LS: the frame ({compressedFrame.Length} bytes) has no EOI marker: it is truncated.");
        }

        compressedFrame = compressedFrame[..(end + 2)];

        using var source = PinnedBuffer.CopyOf(compressedFrame);
        var decoder = charls.DecoderCreate();
        if (decoder == 0)
        {
            throw new ImageCodecException("JPEG-LS: CharLS could not create a decoder (out of memory).");
        }

        try
        {
            charls.Check(charls.DecoderSetSourceBuffer(decoder, source.Address, (nuint)source.Length), "setting the source");
            charls.Check(charls.DecoderReadHeader(decoder), "reading the header");
            charls.Check(charls.DecoderGetFrameInfo(decoder, out var frameInfo), "reading the frame header");
            CheckFrame(frameInfo, info);
            charls.Check(charls.DecoderGetInterleaveMode(decoder, out var interleave), "reading the interleave mode");

            var pixels = info.Rows * info.Columns;
            var components = info.SamplesPerPixel;
            var codedBytes = frameInfo.BitsPerSample <= 8 ? 1 : 2;
            var codedLength = pixels * components * codedBytes;
            charls.Check(charls.DecoderGetDestinationSize(decoder, 0, out var size), "computing the decoded size");
            if (size != (nuint)codedLength)
            {
                throw new ImageCodecException($"JPEG-LS: CharLS would decode {size} bytes; {codedLength} are expected.");
            }

            var codedPlanar = components > 1 && interleave == CharLS.InterleaveNone;
            var wantedPlanar = components > 1 && info.PlanarConfiguration == 1;
            if (codedBytes == info.BytesPerSample && (components == 1 || codedPlanar == wantedPlanar))
            {
                charls.Check(charls.DecoderDecodeToBuffer(decoder, ref destination[0], (nuint)codedLength, 0), "decoding");
                return;
            }

            using var decoded = PinnedBuffer.Rent(codedLength);
            charls.Check(charls.DecoderDecodeToBuffer(decoder, ref decoded.Array[0], (nuint)codedLength, 0), "decoding");
            SampleLayout.Convert(decoded.Span, codedBytes, codedPlanar, destination, info.BytesPerSample, wantedPlanar, pixels, components);
        }
        finally
        {
            charls.DecoderDestroy(decoder);
        }
    }

    private static void CheckFrame(CharLS.FrameInfo coded, FrameInfo info)
    {
        if (coded.Width != (uint)info.Columns || coded.Height != (uint)info.Rows)
        {
            throw new ImageCodecException($"JPEG-LS: the stream is {coded.Width}x{coded.Height}; the data set says {info.Columns}x{info.Rows}.");
        }

        if (coded.ComponentCount != info.SamplesPerPixel)
        {
            throw new ImageCodecException($"JPEG-LS: the stream has {coded.ComponentCount} component(s); the data set says {info.SamplesPerPixel} sample(s) per pixel.");
        }

        if (coded.BitsPerSample is < 2 or > MaxPrecision || coded.BitsPerSample > info.BitsAllocated)
        {
            throw new ImageCodecException($"JPEG-LS: a sample precision of {coded.BitsPerSample} bits does not fit Bits Allocated {info.BitsAllocated}.");
        }
    }
}
