// WADO-RS bulk data, PS3.18 §10.4.1.1.5: a value addressed by the BulkDataURI the metadata gave for it.
using System.Globalization;
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

        // Compressed Pixel Data is its fragments' octets without the item delimiters (PS3.18 §8.7.3.3.2).
        IReadOnlyList<DicomBuffer>? pieces = Resolve(file.Dataset, path) switch
        {
            DicomValueElement value => [value.Buffer],
            DicomFragmentSequence fragments => fragments.Fragments,
            _ => null,
        };
        if (pieces is null)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, $"'{path}' names no bulk data value of this instance.");
        }

        var content = new ConcatenatedBuffersStream(pieces);
        if (!context.Request.Headers.Accept.ToString().Contains("multipart/related", StringComparison.OrdinalIgnoreCase))
        {
            return Results.Stream(content, "application/octet-stream", enableRangeProcessing: true);
        }

        await using (content)
        {
            return await WriteMultipartAsync(context, content, cancellationToken);
        }
    }

    /// <summary>
    /// The value as one multipart/related part (what dicomweb-client asks for), or the byte range the Range header
    /// names with 206 and the part's Content-Range (RFC 9110 §14); a range outside the value is 416.
    /// </summary>
    private static async Task<IResult> WriteMultipartAsync(HttpContext context, ConcatenatedBuffersStream content, CancellationToken cancellationToken)
    {
        var length = content.Length;
        var (start, count) = (0L, length);
        string? contentRange = null;
        var range = context.Request.GetTypedHeaders().Range;
        if (range is not null)
        {
            if (!range.Unit.Equals("bytes", StringComparison.OrdinalIgnoreCase) || range.Ranges.Count != 1)
            {
                return DicomWebEndpoints.Problem(StatusCodes.Status416RangeNotSatisfiable, "Only a single byte range is supported on a multipart bulk data request.");
            }

            var (from, to) = (range.Ranges.First().From, range.Ranges.First().To);
            (start, var end) = from is { } f ? (f, Math.Min(to ?? length - 1, length - 1)) : (Math.Max(0, length - (to ?? 0)), length - 1);
            if (start >= length || end < start)
            {
                context.Response.Headers.ContentRange = $"bytes */{length.ToString(CultureInfo.InvariantCulture)}";
                return DicomWebEndpoints.Problem(StatusCodes.Status416RangeNotSatisfiable, $"The value has {length} bytes.");
            }

            count = end - start + 1;
            contentRange = $"bytes {start.ToString(CultureInfo.InvariantCulture)}-{end.ToString(CultureInfo.InvariantCulture)}/{length.ToString(CultureInfo.InvariantCulture)}";
        }

        var multipart = new MultipartRelated("application/octet-stream");
        context.Response.StatusCode = contentRange is null ? StatusCodes.Status200OK : StatusCodes.Status206PartialContent;
        context.Response.ContentType = multipart.ContentType;
        await context.Response.Body.WriteAsync(multipart.PartHeader(count, contentRange: contentRange), cancellationToken);
        content.Position = start;
        await CopyExactlyAsync(content, context.Response.Body, count, cancellationToken);
        await context.Response.Body.WriteAsync(MultipartRelated.PartEnd.ToArray(), cancellationToken);
        await context.Response.Body.WriteAsync(multipart.Closing, cancellationToken);
        return Results.Empty;
    }

    private static async Task CopyExactlyAsync(Stream source, Stream destination, long count, CancellationToken cancellationToken)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            while (count > 0)
            {
                var read = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count)), cancellationToken);
                if (read == 0)
                {
                    throw new IOException($"The stored value ended {count} bytes early.");
                }

                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                count -= read;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
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

    /// <summary>A read-only seekable view of values laid end to end, so that a range request reads only the range and nothing is held whole.</summary>
    private sealed class ConcatenatedBuffersStream(IReadOnlyList<DicomBuffer> pieces) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length { get; } = pieces.Sum(p => p.Length);

        public override long Position { get; set; }

        public override int Read(byte[] destination, int offset, int count) => Read(destination.AsSpan(offset, count));

        public override int Read(Span<byte> destination)
        {
            var start = 0L;
            foreach (var piece in pieces)
            {
                if (Position < start + piece.Length)
                {
                    var read = piece.Read(Position - start, destination[..(int)Math.Min(destination.Length, start + piece.Length - Position)]);
                    Position += read;
                    return read;
                }

                start += piece.Length;
            }

            return 0;
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
