using System.Runtime.InteropServices;

namespace Hounsfield.Imaging.Codecs.Native;

/// <summary>
/// Bindings to OpenJPEG 2.x's C API (openjpeg.h of openjp2 2.5), resolved from <see cref="NativeCodecLibrary.OpenJpeg"/>
/// on first use. OPJ_BOOL is a C int; OPJ_OFF_T is int64; OPJ_SIZE_T is size_t.
/// </summary>
/// <remarks>
/// opj_dparameters_t and opj_cparameters_t are large (8 KB and 18 KB, mostly file-name buffers of the command-line
/// tools) and are handled as opaque blocks that the library initialises (opj_set_default_*_parameters); only the few
/// encoder fields we set are written, at their offsets in the LP64 layout of openjp2 2.5 (checked against the header
/// with offsetof, and at run time against the defaults the library writes there).
/// </remarks>
internal sealed class OpenJpeg
{
    public const int CodecJ2K = 0;
    public const int CodecJP2 = 2;

    public const int ColorSpaceUnspecified = 0;
    public const int ColorSpaceSrgb = 1;
    public const int ColorSpaceGray = 2;
    public const int ColorSpaceSycc = 3;

    public const int DecoderParametersSize = 8252;
    public const int EncoderParametersSize = 18720;
    public const int ImageComponentSize = 64;

    // opj_cparameters_t offsets (LP64).
    public const int OffsetDistoAlloc = 20;
    public const int OffsetNumLayers = 4796;
    public const int OffsetRates = 4800;
    public const int OffsetNumResolution = 5600;
    public const int OffsetCodeBlockWidth = 5604;
    public const int OffsetCodeBlockHeight = 5608;
    public const int OffsetIrreversible = 5616;
    public const int OffsetRoiComponent = 5620;
    public const int OffsetDecodeFormat = 18204;
    public const int OffsetCodeFormat = 18208;
    public const int OffsetMct = 18698;

    // opj_dparameters_t offsets (LP64), and the flag that keeps JP2 palette / channel boxes from being applied.
    public const int OffsetDecoderDecodeFormat = 8200;
    public const int OffsetDecoderCodeFormat = 8204;
    public const int OffsetDecoderFlags = 8248;
    public const int DecoderFlagIgnorePaletteAndChannels = 1;

    // opj_image_t offsets.
    public const int OffsetImageX0 = 0;
    public const int OffsetImageY0 = 4;
    public const int OffsetImageX1 = 8;
    public const int OffsetImageY1 = 12;
    public const int OffsetImageComps = 24;

    // opj_image_comp_t offset of the data pointer.
    public const int OffsetComponentData = 48;

    private const string Codec = "JPEG 2000";
    private static readonly Lazy<OpenJpeg> Default = new(() => new OpenJpeg(NativeCodecLibrary.OpenJpeg));

    internal OpenJpeg(NativeCodecLibrary library)
    {
        Library = library;
        CreateDecompress = library.GetFunction<CreateCodecFn>(Codec, "opj_create_decompress");
        CreateCompress = library.GetFunction<CreateCodecFn>(Codec, "opj_create_compress");
        DestroyCodec = library.GetFunction<DestroyFn>(Codec, "opj_destroy_codec");
        SetDefaultDecoderParameters = library.GetFunction<SetDefaultParametersFn>(Codec, "opj_set_default_decoder_parameters");
        SetDefaultEncoderParameters = library.GetFunction<SetDefaultParametersFn>(Codec, "opj_set_default_encoder_parameters");
        SetupDecoder = library.GetFunction<SetupDecoderFn>(Codec, "opj_setup_decoder");
        SetupEncoder = library.GetFunction<SetupEncoderFn>(Codec, "opj_setup_encoder");
        SetErrorHandler = library.GetFunction<SetHandlerFn>(Codec, "opj_set_error_handler");
        SetWarningHandler = library.GetFunction<SetHandlerFn>(Codec, "opj_set_warning_handler");
        SetInfoHandler = library.GetFunction<SetHandlerFn>(Codec, "opj_set_info_handler");
        ReadHeader = library.GetFunction<ReadHeaderFn>(Codec, "opj_read_header");
        Decode = library.GetFunction<DecodeFn>(Codec, "opj_decode");
        EndDecompress = library.GetFunction<StreamActionFn>(Codec, "opj_end_decompress");
        StartCompress = library.GetFunction<DecodeFn>(Codec, "opj_start_compress");
        Encode = library.GetFunction<StreamActionFn>(Codec, "opj_encode");
        EndCompress = library.GetFunction<StreamActionFn>(Codec, "opj_end_compress");
        ImageCreate = library.GetFunction<ImageCreateFn>(Codec, "opj_image_create");
        ImageDestroy = library.GetFunction<DestroyFn>(Codec, "opj_image_destroy");
        StreamCreate = library.GetFunction<StreamCreateFn>(Codec, "opj_stream_create");
        StreamDestroy = library.GetFunction<DestroyFn>(Codec, "opj_stream_destroy");
        StreamSetReadFunction = library.GetFunction<SetFunctionFn>(Codec, "opj_stream_set_read_function");
        StreamSetWriteFunction = library.GetFunction<SetFunctionFn>(Codec, "opj_stream_set_write_function");
        StreamSetSkipFunction = library.GetFunction<SetFunctionFn>(Codec, "opj_stream_set_skip_function");
        StreamSetSeekFunction = library.GetFunction<SetFunctionFn>(Codec, "opj_stream_set_seek_function");
        StreamSetUserData = library.GetFunction<SetUserDataFn>(Codec, "opj_stream_set_user_data");
        StreamSetUserDataLength = library.GetFunction<SetUserDataLengthFn>(Codec, "opj_stream_set_user_data_length");
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate nint CreateCodecFn(int format);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void DestroyFn(nint handle);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void SetDefaultParametersFn(nint parameters);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int SetupDecoderFn(nint codec, nint parameters);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int SetupEncoderFn(nint codec, nint parameters, nint image);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int SetHandlerFn(nint codec, nint callback, nint clientData);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int ReadHeaderFn(nint stream, nint codec, out nint image);

    /// <summary>opj_decode(codec, stream, image) and opj_start_compress(codec, image, stream) — both take two pointers after the codec.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int DecodeFn(nint codec, nint first, nint second);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int StreamActionFn(nint codec, nint stream);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate nint ImageCreateFn(uint componentCount, [In] ComponentParameters[] parameters, int colorSpace);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate nint StreamCreateFn(nuint bufferSize, int isInput);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void SetFunctionFn(nint stream, nint function);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void SetUserDataFn(nint stream, nint userData, nint freeFunction);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void SetUserDataLengthFn(nint stream, ulong length);

    /// <summary>opj_stream_read_fn / opj_stream_write_fn: bytes transferred, or (OPJ_SIZE_T)-1 at the end.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate nuint StreamTransferFn(nint buffer, nuint count, nint userData);

    /// <summary>opj_stream_skip_fn: bytes skipped, or -1.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate long StreamSkipFn(long count, nint userData);

    /// <summary>opj_stream_seek_fn: OPJ_TRUE when the position was set.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int StreamSeekFn(long position, nint userData);

    /// <summary>opj_msg_callback.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void MessageFn(nint message, nint clientData);

    public NativeCodecLibrary Library { get; }

    public CreateCodecFn CreateDecompress { get; }

    public CreateCodecFn CreateCompress { get; }

    public DestroyFn DestroyCodec { get; }

    public SetDefaultParametersFn SetDefaultDecoderParameters { get; }

    public SetDefaultParametersFn SetDefaultEncoderParameters { get; }

    public SetupDecoderFn SetupDecoder { get; }

    public SetupEncoderFn SetupEncoder { get; }

    public SetHandlerFn SetErrorHandler { get; }

    public SetHandlerFn SetWarningHandler { get; }

    public SetHandlerFn SetInfoHandler { get; }

    public ReadHeaderFn ReadHeader { get; }

    public DecodeFn Decode { get; }

    public StreamActionFn EndDecompress { get; }

    public DecodeFn StartCompress { get; }

    public StreamActionFn Encode { get; }

    public StreamActionFn EndCompress { get; }

    public ImageCreateFn ImageCreate { get; }

    public DestroyFn ImageDestroy { get; }

    public StreamCreateFn StreamCreate { get; }

    public DestroyFn StreamDestroy { get; }

    public SetFunctionFn StreamSetReadFunction { get; }

    public SetFunctionFn StreamSetWriteFunction { get; }

    public SetFunctionFn StreamSetSkipFunction { get; }

    public SetFunctionFn StreamSetSeekFunction { get; }

    public SetUserDataFn StreamSetUserData { get; }

    public SetUserDataLengthFn StreamSetUserDataLength { get; }

    /// <summary>Whether libopenjp2.so.7 can be loaded.</summary>
    public static bool IsAvailable => NativeCodecLibrary.OpenJpeg.IsAvailable;

    /// <summary>The bindings to the installed OpenJPEG; throws <see cref="CodecUnavailableException"/> when it is missing.</summary>
    public static OpenJpeg Get()
    {
        if (!NativeCodecLibrary.OpenJpeg.IsAvailable)
        {
            throw NativeCodecLibrary.OpenJpeg.Unavailable(Codec);
        }

        return Default.Value;
    }

    /// <summary>opj_image_t (the fields up to the component array).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Image
    {
        public uint X0;
        public uint Y0;
        public uint X1;
        public uint Y1;
        public uint ComponentCount;
        public int ColorSpace;
        public nint Components;
        public nint IccProfile;
        public uint IccProfileLength;
    }

    /// <summary>opj_image_comp_t.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ImageComponent
    {
        public uint Dx;
        public uint Dy;
        public uint Width;
        public uint Height;
        public uint X0;
        public uint Y0;
        public uint Precision;
        public uint Bpp;
        public uint Signed;
        public uint ResolutionsDecoded;
        public uint Factor;
        public nint Data;
        public ushort Alpha;
    }

    /// <summary>opj_image_cmptparm_t.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ComponentParameters
    {
        public uint Dx;
        public uint Dy;
        public uint Width;
        public uint Height;
        public uint X0;
        public uint Y0;
        public uint Precision;
        public uint Bpp;
        public uint Signed;
    }
}
