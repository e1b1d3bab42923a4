// WADO-RS bulk data, PS3.18 §10.4.1.1.5: a value addressed by the BulkDataURI the metadata gave for it.
using System.Globalization;
using System.Text;
using Hounsfield.Archive;
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;

namespace Hounsfield.Server.DicomWeb;

internal static class BulkDataEndpoint
{
    public static async Task<IResult> HandleAsync(HttpContext context, string study, string series, string instance, string path, CancellationToken cancellationToken)
    {
        var archive = context.RequestServices.GetRequiredService<ArchiveService>();
        var stored = (await archive.ListInstancesAsync(study, series, instance, cancellationToken)).SingleOrDefault();
        if (stored is null)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, "No such instance.");
        }

        DicomFile file;
        try
        {
            file = archive.ReadInstance(stored);
        }
        catch (DicomFormatException ex)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status500InternalServerError, $"The stored instance cannot be read: {ex.Message}");
        }

        var element = Resolve(file.Dataset, path);
        var buffer = element switch
        {
            DicomValueElement value => value.Buffer,
            DicomFragmentSequence fragments => DicomBuffer.FromBytes(ConcatenateFragments(fragments)),
            _ => null,
        };
        if (buffer is null)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, $"'{path}' names no bulk data value of this instance.");
        }

        var accept = context.Request.Headers.Accept.ToString();
        if (accept.Contains("multipart/related", StringComparison.OrdinalIgnoreCase))
        {
            var boundary = Guid.NewGuid().ToString("N");
            context.Response.ContentType = $"multipart/related; type=\"application/octet-stream\"; boundary={boundary}";
            context.Response.ContentLength = null;
            await context.Response.Body.WriteAsync(Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Length: {buffer.Length.ToString(CultureInfo.InvariantCulture)}\r\n\r\n"), cancellationToken);
            await buffer.CopyToAsync(context.Response.Body, cancellationToken);
            await context.Response.Body.WriteAsync(Encoding.ASCII.GetBytes($"\r\n--{boundary}--\r\n"), cancellationToken);
            return Results.Empty;
        }

        return Results.Stream(new DicomBufferStream(buffer), "application/octet-stream", enableRangeProcessing: true);
    }

    /// <summary>Follows "gggggggg[/item/gggggggg]..." through sequences; null when any step is missing.</summary>
    private static DicomElement? Resolve(DicomDataset dataset, string path)
    {
        var parts = path.Split('/');
        var current = dataset;
        for (var i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length != 8 || !DicomTag.TryParse(parts[i], out var tag))
            {
                return null;
            }

            var element = current.Find(tag);
            if (i == parts.Length - 1)
            {
                return element;
            }

            if (element is not DicomSequence sequence || i + 1 >= parts.Length - 1
                || !int.TryParse(parts[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var item) || item >= sequence.Items.Count)
            {
                return null;
            }

            current = sequence.Items[item];
            i++;
        }

        return null;
    }

    private static byte[] ConcatenateFragments(DicomFragmentSequence fragments)
    {
        using var memory = new MemoryStream();
        foreach (var fragment in fragments.Fragments)
        {
            fragment.CopyTo(memory);
        }

        return memory.ToArray();
    }

    /// <summary>A read-only seekable view of a value, so that HTTP Range requests read only the range.</summary>
    private sealed class DicomBufferStream(DicomBuffer buffer) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => buffer.Length;

        public override long Position { get; set; }

        public override int Read(byte[] destination, int offset, int count) => Read(destination.AsSpan(offset, count));

        public override int Read(Span<byte> destination)
        {
            var read = buffer.Read(Position, destination);
            Position += read;
            return read;
        }

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => Position + offset,
            _ => Length + offset,
        };

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] source, int offset, int count) => throw new NotSupportedException();
    }
}
