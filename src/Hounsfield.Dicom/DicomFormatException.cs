namespace Hounsfield.Dicom;

/// <summary>Malformed or truncated DICOM input, or input beyond a configured limit. Says what, where and at which tag.</summary>
public class DicomFormatException : Exception
{
    public DicomFormatException(string message)
        : base(message)
    {
    }

    public DicomFormatException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    public DicomFormatException(string problem, long offset, DicomTag? tag, Exception? innerException = null)
        : base(Describe(problem, offset, tag), innerException)
    {
        Offset = offset;
        Tag = tag;
    }

    /// <summary>Byte offset in the input where the problem was found, or -1 when not tied to a position.</summary>
    public long Offset { get; } = -1;

    public DicomTag? Tag { get; }

    private static string Describe(string problem, long offset, DicomTag? tag) =>
        tag is { } t ? $"{problem} (at offset {offset}, tag {t})" : $"{problem} (at offset {offset})";
}

/// <summary>Input that exceeds a limit of <see cref="IO.DicomReadOptions"/>; the message names the limit.</summary>
public sealed class DicomLimitExceededException : DicomFormatException
{
    public DicomLimitExceededException(string limitName, long limit, long offset, DicomTag? tag)
        : base($"{limitName} of {limit} exceeded", offset, tag)
    {
        LimitName = limitName;
    }

    public string LimitName { get; }
}
