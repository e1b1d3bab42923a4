namespace Hounsfield.Imaging.Codecs;

/// <summary>
/// A compressed frame could not be decoded (or a frame could not be encoded): the stream is malformed,
/// truncated, inconsistent with the data set's image attributes, or uses a feature this codec does not support.
/// The message names the problem.
/// </summary>
public class ImageCodecException : Exception
{
    public ImageCodecException()
    {
    }

    public ImageCodecException(string message)
        : base(message)
    {
    }

    public ImageCodecException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
