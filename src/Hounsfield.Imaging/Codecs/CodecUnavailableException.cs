namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// The native library a codec needs (CharLS for JPEG-LS, OpenJPEG for JPEG 2000 and HTJ2K) is not installed or could
/// not be loaded. The message names the Debian package that provides it; every other codec keeps working.
/// </summary>
public sealed class CodecUnavailableException : ImageCodecException
{
    public CodecUnavailableException()
    {
    }

    public CodecUnavailableException(string message)
        : base(message)
    {
    }

    public CodecUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The Debian package that provides the missing library, when known.</summary>
    public string? PackageName { get; init; }
}
