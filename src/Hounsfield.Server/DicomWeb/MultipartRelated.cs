// The framing of every multipart/related response (RFC 2387, as PS3.18 §8.7.1 uses it).
using System.Globalization;
using System.Text;

namespace Hounsfield.Server.DicomWeb;

/// <summary>
/// One multipart/related response's framing: a random boundary, the response's Content-Type, each part's headers, the line
/// end after each part's content and the closing delimiter. Endpoints write their parts' content between them, through the
/// response's pipe or its stream as suits them; <see cref="FramedLength"/> lets one that knows its parts' lengths give the
/// response a Content-Length.
/// </summary>
internal sealed class MultipartRelated(string type)
{
    private readonly string boundary = Guid.NewGuid().ToString("N");

    /// <summary>The media type of the parts, the type parameter of the response's Content-Type.</summary>
    public string Type { get; } = type;

    public string ContentType => $"multipart/related; type=\"{Type}\"; boundary={boundary}";

    /// <summary>Ends each part's content.</summary>
    public static ReadOnlySpan<byte> PartEnd => "\r\n"u8;

    /// <summary>Follows the last part.</summary>
    public byte[] Closing => Encoding.ASCII.GetBytes($"--{boundary}--\r\n");

    /// <summary>
    /// The delimiter and headers that open a part: its Content-Type (<see cref="Type"/>, with <paramref name="parameters"/>
    /// appended, e.g. "; transfer-syntax=..."), then Content-Range and Content-Length when given.
    /// </summary>
    public byte[] PartHeader(long? contentLength = null, string? parameters = null, string? contentRange = null)
    {
        var header = new StringBuilder(128).Append(CultureInfo.InvariantCulture, $"--{boundary}\r\nContent-Type: {Type}{parameters}\r\n");
        if (contentRange is not null)
        {
            header.Append(CultureInfo.InvariantCulture, $"Content-Range: {contentRange}\r\n");
        }

        if (contentLength is { } length)
        {
            header.Append(CultureInfo.InvariantCulture, $"Content-Length: {length}\r\n");
        }

        return Encoding.ASCII.GetBytes(header.Append("\r\n").ToString());
    }

    /// <summary>The bytes a part takes on the wire: its header, its content and the line end after it.</summary>
    public static long FramedLength(byte[] partHeader, long contentLength) => partHeader.Length + contentLength + PartEnd.Length;
}
