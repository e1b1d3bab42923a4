using System.Runtime.InteropServices;

namespace Hounsfield.Imaging.Codecs.Native;

/// <summary>
/// A native codec library loaded at run time by its soname (never at build time, never through a -dev package):
/// loaded once on first use; when it is missing, every use raises a <see cref="CodecUnavailableException"/> that
/// names the Debian package to install, and the rest of the toolkit keeps working.
/// </summary>
internal sealed class NativeCodecLibrary
{
    private readonly Lazy<(nint Handle, string? Error)> handle;

    public NativeCodecLibrary(string displayName, string fileName, string packageName)
    {
        DisplayName = displayName;
        FileName = fileName;
        PackageName = packageName;
        handle = new Lazy<(nint, string?)>(Load, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>CharLS 2.x (JPEG-LS), Debian package libcharls2.</summary>
    public static NativeCodecLibrary CharLS { get; } = new("CharLS", "libcharls.so.2", "libcharls2");

    /// <summary>OpenJPEG 2.x (JPEG 2000 and, from 2.5, HTJ2K decoding), Debian package libopenjp2-7.</summary>
    public static NativeCodecLibrary OpenJpeg { get; } = new("OpenJPEG", "libopenjp2.so.7", "libopenjp2-7");

    public string DisplayName { get; }

    public string FileName { get; }

    public string PackageName { get; }

    /// <summary>Whether the library is loaded (loading it on first call).</summary>
    public bool IsAvailable => handle.Value.Error is null;

    /// <summary>The exception for a codec that needs this library when it could not be loaded.</summary>
    public CodecUnavailableException Unavailable(string codec, string? detail = null) =>
        new($"{codec} needs the native {DisplayName} library ({FileName}), which {detail ?? handle.Value.Error ?? "is unavailable"}: install the Debian package {PackageName} (apt-get install {PackageName}).")
        {
            PackageName = PackageName,
        };

    /// <summary>The exported function <paramref name="name"/> as a delegate of type <typeparamref name="T"/>.</summary>
    /// <exception cref="CodecUnavailableException">The library is missing or does not export the function.</exception>
    public T GetFunction<T>(string codec, string name)
        where T : Delegate
    {
        var (library, error) = handle.Value;
        if (error is not null)
        {
            throw Unavailable(codec);
        }

        if (!NativeLibrary.TryGetExport(library, name, out var address))
        {
            throw Unavailable(codec, $"does not export {name} (an incompatible version?)");
        }

        return Marshal.GetDelegateForFunctionPointer<T>(address);
    }

    private (nint, string?) Load()
    {
        if (!Environment.Is64BitProcess)
        {
            // The structure layouts in the bindings are those of the 64-bit (LP64) ABI.
            return (0, "is only bound for 64-bit processes");
        }

        return NativeLibrary.TryLoad(FileName, typeof(NativeCodecLibrary).Assembly, DllImportSearchPath.SafeDirectories, out var library)
            || NativeLibrary.TryLoad(FileName, out library)
            ? (library, null)
            : (0, "could not be loaded");
    }
}
