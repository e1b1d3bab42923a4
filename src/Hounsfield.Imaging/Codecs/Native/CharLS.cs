using System.Runtime.InteropServices;

namespace Hounsfield.Imaging.Codecs.Native;

/// <summary>
/// Bindings to CharLS 2.x's C API (charls/charls_jpegls_decoder.h, charls_jpegls_encoder.h, public_types.h), resolved
/// from <see cref="NativeCodecLibrary.CharLS"/> on first use. Every function returns a charls_jpegls_errc (0 = success).
/// </summary>
internal sealed class CharLS
{
    public const int InterleaveNone = 0;
    public const int InterleaveLine = 1;
    public const int InterleaveSample = 2;

    /// <summary>charls_encoding_options: pad the output to an even size (a DICOM fragment must be even).</summary>
    public const int EncodingOptionEvenDestinationSize = 1;

    private const string Codec = "JPEG-LS";
    private static readonly Lazy<CharLS> Default = new(() => new CharLS(NativeCodecLibrary.CharLS));

    private readonly GetErrorMessageFn getErrorMessage;

    internal CharLS(NativeCodecLibrary library)
    {
        Library = library;
        DecoderCreate = library.GetFunction<CreateFn>(Codec, "charls_jpegls_decoder_create");
        DecoderDestroy = library.GetFunction<DestroyFn>(Codec, "charls_jpegls_decoder_destroy");
        DecoderSetSourceBuffer = library.GetFunction<SetBufferFn>(Codec, "charls_jpegls_decoder_set_source_buffer");
        DecoderReadHeader = library.GetFunction<ActionFn>(Codec, "charls_jpegls_decoder_read_header");
        DecoderGetFrameInfo = library.GetFunction<GetFrameInfoFn>(Codec, "charls_jpegls_decoder_get_frame_info");
        DecoderGetNearLossless = library.GetFunction<GetNearLosslessFn>(Codec, "charls_jpegls_decoder_get_near_lossless");
        DecoderGetInterleaveMode = library.GetFunction<GetInt32Fn>(Codec, "charls_jpegls_decoder_get_interleave_mode");
        DecoderGetDestinationSize = library.GetFunction<GetDestinationSizeFn>(Codec, "charls_jpegls_decoder_get_destination_size");
        DecoderDecodeToBuffer = library.GetFunction<DecodeToBufferFn>(Codec, "charls_jpegls_decoder_decode_to_buffer");
        EncoderCreate = library.GetFunction<CreateFn>(Codec, "charls_jpegls_encoder_create");
        EncoderDestroy = library.GetFunction<DestroyFn>(Codec, "charls_jpegls_encoder_destroy");
        EncoderSetFrameInfo = library.GetFunction<SetFrameInfoFn>(Codec, "charls_jpegls_encoder_set_frame_info");
        EncoderSetNearLossless = library.GetFunction<SetInt32Fn>(Codec, "charls_jpegls_encoder_set_near_lossless");
        EncoderSetInterleaveMode = library.GetFunction<SetInt32Fn>(Codec, "charls_jpegls_encoder_set_interleave_mode");
        EncoderSetEncodingOptions = library.GetFunction<SetInt32Fn>(Codec, "charls_jpegls_encoder_set_encoding_options");
        EncoderGetEstimatedDestinationSize = library.GetFunction<GetSizeFn>(Codec, "charls_jpegls_encoder_get_estimated_destination_size");
        EncoderSetDestinationBuffer = library.GetFunction<SetBufferFn>(Codec, "charls_jpegls_encoder_set_destination_buffer");
        EncoderEncodeFromBuffer = library.GetFunction<EncodeFromBufferFn>(Codec, "charls_jpegls_encoder_encode_from_buffer");
        EncoderGetBytesWritten = library.GetFunction<GetSizeFn>(Codec, "charls_jpegls_encoder_get_bytes_written");
        getErrorMessage = library.GetFunction<GetErrorMessageFn>(Codec, "charls_get_error_message");
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate nint CreateFn();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void DestroyFn(nint codec);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int ActionFn(nint codec);

    /// <summary>set_source_buffer / set_destination_buffer: CharLS keeps the pointer, so the buffer must stay pinned until the codec is done.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int SetBufferFn(nint codec, nint buffer, nuint size);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int GetFrameInfoFn(nint decoder, out FrameInfo frameInfo);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int SetFrameInfoFn(nint encoder, in FrameInfo frameInfo);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int GetNearLosslessFn(nint decoder, int component, out int nearLossless);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int GetInt32Fn(nint codec, out int value);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int SetInt32Fn(nint codec, int value);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int GetDestinationSizeFn(nint decoder, uint stride, out nuint size);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int GetSizeFn(nint encoder, out nuint size);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int DecodeToBufferFn(nint decoder, ref byte destination, nuint size, uint stride);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int EncodeFromBufferFn(nint encoder, ref byte source, nuint size, uint stride);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate nint GetErrorMessageFn(int error);

    public NativeCodecLibrary Library { get; }

    public CreateFn DecoderCreate { get; }

    public DestroyFn DecoderDestroy { get; }

    public SetBufferFn DecoderSetSourceBuffer { get; }

    public ActionFn DecoderReadHeader { get; }

    public GetFrameInfoFn DecoderGetFrameInfo { get; }

    public GetNearLosslessFn DecoderGetNearLossless { get; }

    public GetInt32Fn DecoderGetInterleaveMode { get; }

    public GetDestinationSizeFn DecoderGetDestinationSize { get; }

    public DecodeToBufferFn DecoderDecodeToBuffer { get; }

    public CreateFn EncoderCreate { get; }

    public DestroyFn EncoderDestroy { get; }

    public SetFrameInfoFn EncoderSetFrameInfo { get; }

    public SetInt32Fn EncoderSetNearLossless { get; }

    public SetInt32Fn EncoderSetInterleaveMode { get; }

    public SetInt32Fn EncoderSetEncodingOptions { get; }

    public GetSizeFn EncoderGetEstimatedDestinationSize { get; }

    public SetBufferFn EncoderSetDestinationBuffer { get; }

    public EncodeFromBufferFn EncoderEncodeFromBuffer { get; }

    public GetSizeFn EncoderGetBytesWritten { get; }

    /// <summary>Whether libcharls.so.2 can be loaded.</summary>
    public static bool IsAvailable => NativeCodecLibrary.CharLS.IsAvailable;

    /// <summary>The bindings to the installed CharLS; throws <see cref="CodecUnavailableException"/> when it is missing.</summary>
    public static CharLS Get()
    {
        if (!NativeCodecLibrary.CharLS.IsAvailable)
        {
            throw NativeCodecLibrary.CharLS.Unavailable(Codec);
        }

        return Default.Value;
    }

    /// <summary>Throws an <see cref="ImageCodecException"/> naming <paramref name="operation"/> and CharLS's message for a failed call.</summary>
    public void Check(int error, string operation)
    {
        if (error != 0)
        {
            throw new ImageCodecException($"JPEG-LS: {operation} failed: {ErrorMessage(error)} (CharLS error {error}).");
        }
    }

    public string ErrorMessage(int error)
    {
        var message = getErrorMessage(error);
        return message == 0 ? "unknown error" : Marshal.PtrToStringUTF8(message) ?? "unknown error";
    }

    /// <summary>charls_frame_info.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct FrameInfo
    {
        public uint Width;
        public uint Height;
        public int BitsPerSample;
        public int ComponentCount;
    }
}
