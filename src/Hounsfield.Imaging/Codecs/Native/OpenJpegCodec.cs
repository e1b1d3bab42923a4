using System.Runtime.InteropServices;

namespace Hounsfield.Imaging.Codecs.Native;

/// <summary>
/// An opj_codec_t (decompressor or compressor) whose error and warning messages are collected, so that a failure
/// raises an <see cref="ImageCodecException"/> that says what OpenJPEG reported. Dispose destroys the codec.
/// </summary>
internal sealed class OpenJpegCodec : IDisposable
{
    private const int MaxMessages = 20;

    private static readonly OpenJpeg.MessageFn ErrorCallback = OnError;
    private static readonly OpenJpeg.MessageFn WarningCallback = OnWarning;
    private static readonly nint ErrorPointer = Marshal.GetFunctionPointerForDelegate(ErrorCallback);
    private static readonly nint WarningPointer = Marshal.GetFunctionPointerForDelegate(WarningCallback);

    private readonly OpenJpeg api;
    private readonly List<string> errors = [];
    private readonly List<string> warnings = [];
    private GCHandle self;

    private OpenJpegCodec(OpenJpeg api, nint handle)
    {
        this.api = api;
        Handle = handle;
        self = GCHandle.Alloc(this);
        api.SetErrorHandler(handle, ErrorPointer, GCHandle.ToIntPtr(self));
        api.SetWarningHandler(handle, WarningPointer, GCHandle.ToIntPtr(self));
    }

    public nint Handle { get; private set; }

    public static OpenJpegCodec CreateDecompressor(OpenJpeg api, int format) => Create(api, api.CreateDecompress(format), "decoder");

    public static OpenJpegCodec CreateCompressor(OpenJpeg api, int format) => Create(api, api.CreateCompress(format), "encoder");

    /// <summary>Throws when <paramref name="result"/> (an OPJ_BOOL) is false, with OpenJPEG's messages.</summary>
    public void Check(int result, string operation)
    {
        if (result == 0)
        {
            throw Failure(operation);
        }
    }

    public ImageCodecException Failure(string operation)
    {
        var reported = errors.Count > 0 ? errors : warnings;
        var detail = reported.Count > 0 ? ": " + string.Join("; ", reported) : string.Empty;
        return new ImageCodecException($"JPEG 2000: {operation} failed{detail}.");
    }

    public void Dispose()
    {
        if (Handle != 0)
        {
            api.DestroyCodec(Handle);
            Handle = 0;
            self.Free();
        }
    }

    private static OpenJpegCodec Create(OpenJpeg api, nint handle, string what) => handle == 0
        ? throw new ImageCodecException($"JPEG 2000: OpenJPEG could not create a {what}.")
        : new OpenJpegCodec(api, handle);

    private static void OnError(nint message, nint clientData) => Add(((OpenJpegCodec)GCHandle.FromIntPtr(clientData).Target!).errors, message);

    private static void OnWarning(nint message, nint clientData) => Add(((OpenJpegCodec)GCHandle.FromIntPtr(clientData).Target!).warnings, message);

    private static void Add(List<string> list, nint message)
    {
        if (list.Count < MaxMessages && message != 0)
        {
            list.Add((Marshal.PtrToStringUTF8(message) ?? string.Empty).Trim());
        }
    }
}
