using System.Runtime.InteropServices;

namespace Hounsfield.Imaging.Codecs.Native;

/// <summary>
/// An opj_stream_t over managed memory: a codestream to read, or a growing buffer to write. The callbacks are
/// static delegates (alive for the process), and the stream's user data is a GC handle to this object, freed on
/// dispose together with the native stream.
/// </summary>
internal sealed class OpenJpegStream : IDisposable
{
    private static readonly nuint EndOfStream = nuint.MaxValue;

    private static readonly OpenJpeg.StreamTransferFn ReadCallback = Read;
    private static readonly OpenJpeg.StreamTransferFn WriteCallback = Write;
    private static readonly OpenJpeg.StreamSkipFn SkipCallback = Skip;
    private static readonly OpenJpeg.StreamSeekFn SeekCallback = Seek;
    private static readonly nint ReadPointer = Marshal.GetFunctionPointerForDelegate(ReadCallback);
    private static readonly nint WritePointer = Marshal.GetFunctionPointerForDelegate(WriteCallback);
    private static readonly nint SkipPointer = Marshal.GetFunctionPointerForDelegate(SkipCallback);
    private static readonly nint SeekPointer = Marshal.GetFunctionPointerForDelegate(SeekCallback);

    private readonly OpenJpeg api;
    private readonly bool isInput;
    private GCHandle self;
    private byte[] data;
    private long length;
    private long position;

    private OpenJpegStream(OpenJpeg api, byte[] data, long length, bool input)
    {
        this.api = api;
        this.data = data;
        this.length = length;
        isInput = input;
        self = GCHandle.Alloc(this);
        var bufferSize = input ? (nuint)Math.Clamp(length, 1024, 1 << 20) : 1 << 20;
        Handle = api.StreamCreate(bufferSize, input ? 1 : 0);
        if (Handle == 0)
        {
            self.Free();
            throw new ImageCodecException("JPEG 2000: OpenJPEG could not create a stream (out of memory).");
        }

        if (input)
        {
            api.StreamSetReadFunction(Handle, ReadPointer);
            api.StreamSetUserDataLength(Handle, (ulong)length);
        }
        else
        {
            api.StreamSetWriteFunction(Handle, WritePointer);
        }

        api.StreamSetSkipFunction(Handle, SkipPointer);
        api.StreamSetSeekFunction(Handle, SeekPointer);
        api.StreamSetUserData(Handle, GCHandle.ToIntPtr(self), 0);
    }

    /// <summary>The opj_stream_t.</summary>
    public nint Handle { get; private set; }

    /// <summary>A stream that reads <paramref name="codestream"/>.</summary>
    public static OpenJpegStream ForReading(OpenJpeg api, byte[] codestream) => new(api, codestream, codestream.Length, input: true);

    /// <summary>A stream that collects what the encoder writes (see <see cref="ToArray"/>).</summary>
    public static OpenJpegStream ForWriting(OpenJpeg api, int initialCapacity) => new(api, new byte[Math.Max(initialCapacity, 1024)], 0, input: false);

    /// <summary>The bytes written.</summary>
    public byte[] ToArray() => data.AsSpan(0, (int)length).ToArray();

    public void Dispose()
    {
        if (Handle != 0)
        {
            api.StreamDestroy(Handle);
            Handle = 0;
            self.Free();
        }
    }

    private bool IsWriting => !isInput;

    private static OpenJpegStream From(nint userData) => (OpenJpegStream)GCHandle.FromIntPtr(userData).Target!;

    private static nuint Read(nint buffer, nuint count, nint userData)
    {
        var stream = From(userData);
        var available = stream.length - stream.position;
        if (available <= 0)
        {
            return EndOfStream;
        }

        var n = (int)Math.Min((ulong)available, count);
        Marshal.Copy(stream.data, (int)stream.position, buffer, n);
        stream.position += n;
        return (nuint)n;
    }

    private static nuint Write(nint buffer, nuint count, nint userData)
    {
        var stream = From(userData);
        var end = stream.position + (long)count;
        if (end > Array.MaxLength)
        {
            return EndOfStream;
        }

        stream.EnsureCapacity(end);
        Marshal.Copy(buffer, stream.data, (int)stream.position, (int)count);
        stream.position = end;
        stream.length = Math.Max(stream.length, end);
        return count;
    }

    private static long Skip(long count, nint userData)
    {
        var stream = From(userData);
        if (stream.Handle == 0)
        {
            return -1;
        }

        // Reading: never beyond the end of the codestream. Writing: skipping forward leaves zeros.
        var limit = stream.IsWriting ? Array.MaxLength : stream.length;
        var target = Math.Clamp(stream.position + count, 0, limit);
        if (target == stream.position && count != 0)
        {
            return -1;
        }

        var skipped = target - stream.position;
        stream.position = target;
        if (stream.IsWriting && target > stream.length)
        {
            stream.EnsureCapacity(target);
            stream.length = target;
        }

        return skipped;
    }

    private static int Seek(long position, nint userData)
    {
        var stream = From(userData);
        if (position < 0 || position > (stream.IsWriting ? Array.MaxLength : stream.length))
        {
            return 0;
        }

        stream.position = position;
        if (stream.IsWriting && position > stream.length)
        {
            stream.EnsureCapacity(position);
            stream.length = position;
        }

        return 1;
    }

    private void EnsureCapacity(long needed)
    {
        if (needed > data.Length)
        {
            Array.Resize(ref data, (int)Math.Min(Array.MaxLength, Math.Max(needed, (long)data.Length * 2)));
        }
    }
}
