// WADO-RS, PS3.18 §10.4: instances as multipart/related application/dicom, metadata as DICOM JSON or XML.
using System.Buffers;
using System.Text;
using Hounsfield.Archive;
using Hounsfield.Archive.Index;
using Hounsfield.Archive.Ingest;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Transcoding;
using Microsoft.Net.Http.Headers;

namespace Hounsfield.Server.DicomWeb;

internal static class WadoEndpoint
{
    public static async Task<IResult> RetrieveAsync(HttpContext context, string study, string? series, string? instance, CancellationToken cancellationToken)
    {
        var requested = RequestedTransferSyntax(context.Request.Headers.Accept);
        if (requested.Error is { } error)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status406NotAcceptable, error);
        }

        var archive = context.RequestServices.GetRequiredService<ArchiveService>();
        var instances = await archive.ListInstancesAsync(study, series, instance, cancellationToken);
        if (instances.Count == 0)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, "No such study, series or instance.");
        }

        var target = requested.Syntax;
        if (target is not null && target.IsEncapsulated && FrameCodecs.GetEncoder(target.Uid) is null
            && instances.Any(i => i.TransferSyntaxUid != target.Uid))
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status406NotAcceptable, $"This server cannot encode {target.Name}; ask for transfer-syntax=* or 1.2.840.10008.1.2.1.");
        }

        if (target is not null && instances.FirstOrDefault(i => !requested.AsStored && IsOverConversionLimit(i, target.Uid, archive.Options)) is { } tooLarge)
        {
            return ConversionTooLarge(tooLarge, target, archive.Options);
        }

        var multipart = new MultipartRelated("application/dicom");
        context.Response.ContentType = multipart.ContentType;
        var body = context.Response.Body;
        var writer = context.Response.BodyWriter;
        string SyntaxOf(StoredInstance stored) =>
            requested.AsStored ? stored.TransferSyntaxUid : target?.Uid ?? DefaultSyntaxFor(stored, archive.Options);

        byte[] PartHeader(string syntax) => multipart.PartHeader(parameters: $"; transfer-syntax={syntax}");
        var closing = multipart.Closing;
        if (instances.All(i => SyntaxOf(i) == i.TransferSyntaxUid))
        {
            // Every instance goes as stored: the length is known, so the response has a Content-Length (no chunking, and
            // clients see their progress).
            context.Response.ContentLength = instances.Sum(i => MultipartRelated.FramedLength(PartHeader(i.TransferSyntaxUid), i.Length)) + closing.Length;
        }

        foreach (var stored in instances)
        {
            var syntax = SyntaxOf(stored);

            if (syntax != stored.TransferSyntaxUid && IsStreamedConversion(stored.TransferSyntaxUid, syntax))
            {
                // No codec runs between little-endian native syntaxes: the writer streams the lazily read Pixel Data.
                writer.Write(PartHeader(syntax));
                await writer.FlushAsync(cancellationToken);
                WriteStreamedConversion(context, archive, stored, syntax, body);
                writer.Write(MultipartRelated.PartEnd);
                continue;
            }

            // Any other conversion happens before its part starts, so that a codec failure never leaves half a part behind.
            var converted = syntax == stored.TransferSyntaxUid ? null : new MemoryStream();
            if (converted is not null)
            {
                try
                {
                    Transcoder.Transcode(archive.ReadInstance(stored), DicomTransferSyntax.Lookup(syntax)).Write(converted);
                    converted.Position = 0;
                }
                catch (Exception ex) when (ex is NotSupportedException or ImageCodecException && target is null)
                {
                    // The default syntax was not asked for: an instance we cannot decode goes as stored rather than not at all.
                    await converted.DisposeAsync();
                    converted = null;
                    syntax = stored.TransferSyntaxUid;
                }
                catch (Exception ex) when ((ex is NotSupportedException or ImageCodecException) && !context.Response.HasStarted)
                {
                    return DicomWebEndpoints.Problem(StatusCodes.Status406NotAcceptable, $"Instance {stored.SopInstanceUid} cannot be converted to {syntax}: {ex.Message}");
                }
            }

            writer.Write(PartHeader(syntax));
            if (!context.Response.HasStarted)
            {
                // The response is committed with its first part: a later failure can no longer become a 406 body.
                await writer.FlushAsync(cancellationToken);
            }

            if (converted is null)
            {
                await using var blob = archive.OpenInstance(stored);
                await CopyToAsync(blob, writer, cancellationToken);
            }
            else
            {
                await using (converted)
                {
                    await CopyToAsync(converted, writer, cancellationToken);
                }
            }

            writer.Write(MultipartRelated.PartEnd);
        }

        writer.Write(closing);
        await writer.FlushAsync(cancellationToken);
        return Results.Empty;
    }

    public static async Task<IResult> MetadataAsync(HttpContext context, string study, string? series, string? instance, CancellationToken cancellationToken)
    {
        if (MediaRanges.ChooseDatasetRepresentation(context.Request.Headers.Accept) is not { } representation)
        {
            return MediaRanges.NeitherJsonNorXml(context.Request.Headers.Accept);
        }

        var archive = context.RequestServices.GetRequiredService<ArchiveService>();
        var instances = await archive.ListInstancesAsync(study, series, instance, cancellationToken);
        if (instances.Count == 0)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, "No such study, series or instance.");
        }

        // The metadata of a set of instances changes only when an instance is added, replaced or removed; the
        // representation is part of the tag, as the response varies with Accept.
        var etag = $"\"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(representation + "|" + string.Join('|', instances.Select(i => $"{i.SopInstanceUid}:{i.Length}:{i.TransferSyntaxUid}")))))[..32]}\"";
        context.Response.Headers.ETag = etag;
        context.Response.Headers.Append("Vary", "Accept");
        if (context.Request.Headers.IfNoneMatch.Any(value => value is not null && (value == etag || value == "*" || value.Split(',').Any(v => v.Trim() == etag))))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        var stored = archive.ReadMetadataAsync(study, series, instance, cancellationToken);
        var written = representation == DatasetRepresentation.Xml
            ? await WriteMetadataAsXmlAsync(context, stored, cancellationToken)
            : await WriteMetadataAsJsonAsync(context, stored, cancellationToken);
        return written ? Results.Empty : DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, "No such study, series or instance.");
    }

    /// <returns>Whether any instance was written (none: the instances went between the listing and the read).</returns>
    private static async Task<bool> WriteMetadataAsJsonAsync(HttpContext context, IAsyncEnumerable<byte[]> stored, CancellationToken cancellationToken)
    {
        var baseUri = MetadataBuilder.BaseUri(DicomWebEndpoints.Root(context));
        var first = true;
        await foreach (var metadata in stored)
        {
            if (first)
            {
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = "application/dicom+json";
                await context.Response.Body.WriteAsync("["u8.ToArray(), cancellationToken);
                first = false;
            }
            else
            {
                await context.Response.Body.WriteAsync(","u8.ToArray(), cancellationToken);
            }

            await MetadataBuilder.WriteWithBaseAsync(context.Response.Body, metadata, baseUri, cancellationToken);
        }

        if (!first)
        {
            await context.Response.Body.WriteAsync("]"u8.ToArray(), cancellationToken);
        }

        return !first;
    }

    /// <returns>Whether any instance was written.</returns>
    private static async Task<bool> WriteMetadataAsXmlAsync(HttpContext context, IAsyncEnumerable<byte[]> stored, CancellationToken cancellationToken)
    {
        var root = DicomWebEndpoints.Root(context);
        var writer = new MediaRanges.MultipartXmlWriter(context.Response);
        var first = true;
        await foreach (var metadata in stored)
        {
            if (first)
            {
                writer.Start();
                first = false;
            }

            var (dataset, options) = MetadataBuilder.ReadWithBase(metadata, root);
            await writer.WritePartAsync(dataset, options, cancellationToken);
        }

        if (!first)
        {
            await writer.EndAsync(cancellationToken);
        }

        return !first;
    }

    public static async Task<IResult> DeleteAsync(HttpContext context, string study, string? series, string? instance, CancellationToken cancellationToken)
    {
        var archive = context.RequestServices.GetRequiredService<ArchiveService>();
        var deleted = await archive.DeleteAsync(study, series, instance, cancellationToken);
        return deleted == 0 ? DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, "No such study, series or instance.") : Results.NoContent();
    }

    /// <summary>Between native little-endian syntaxes values are read lazily and written as they are, so nothing is held whole.</summary>
    /// <summary>
    /// Copies a stored blob into the response pipe, flushing each megabyte rather than each read: a series goes out in
    /// large writes (a flush per 80 KiB read made a 25-instance series wait on the socket ~40 times).
    /// Blob reads are synchronous: local files, mostly in the page cache, where an asynchronous read only adds a thread hop.
    /// </summary>
    private static async Task CopyToAsync(Stream source, System.IO.Pipelines.PipeWriter writer, CancellationToken cancellationToken)
    {
        while (true)
        {
            var memory = writer.GetMemory(64 * 1024);
            var read = source.Read(memory.Span);
            if (read == 0)
            {
                return;
            }

            writer.Advance(read);
            if (writer.UnflushedBytes >= 1024 * 1024)
            {
                await writer.FlushAsync(cancellationToken);
            }
        }
    }

    /// <summary>
    /// The syntax an instance is sent in when the request names none: <see cref="DefaultTransferSyntax"/>, except that a
    /// conversion held in memory is not done for an instance over Archive:MaxDefaultConversionLength (it goes as stored).
    /// </summary>
    internal static string DefaultSyntaxFor(StoredInstance stored, ArchiveOptions options)
    {
        var syntax = DefaultTransferSyntax(stored.TransferSyntaxUid);
        return IsOverConversionLimit(stored, syntax, options) ? stored.TransferSyntaxUid : syntax;
    }

    /// <summary>
    /// Whether converting <paramref name="stored"/> to <paramref name="syntax"/> would run a codec over an instance longer than
    /// Archive:MaxDefaultConversionLength: such a conversion is held in memory, so a request naming that syntax is refused.
    /// </summary>
    internal static bool IsOverConversionLimit(StoredInstance stored, string syntax, ArchiveOptions options) =>
        syntax != stored.TransferSyntaxUid && !IsStreamedConversion(stored.TransferSyntaxUid, syntax) && stored.Length > options.MaxDefaultConversionLength;

    internal static IResult ConversionTooLarge(StoredInstance stored, DicomTransferSyntax target, ArchiveOptions options) =>
        DicomWebEndpoints.Problem(StatusCodes.Status406NotAcceptable,
            $"Instance {stored.SopInstanceUid} ({stored.Length} bytes) is longer than Archive:MaxDefaultConversionLength ({options.MaxDefaultConversionLength} bytes), " +
            $"the longest instance converted to {target.Name} in memory; ask for transfer-syntax=* to receive it as stored.");

    /// <summary>Writes <paramref name="stored"/> converted to <paramref name="syntax"/> (see <see cref="IsStreamedConversion"/>) to <paramref name="body"/> as the value is read.</summary>
    internal static void WriteStreamedConversion(HttpContext context, ArchiveService archive, StoredInstance stored, string syntax, Stream body)
    {
        DicomWebEndpoints.AllowSynchronousBodyWrites(context);
        Transcoder.Transcode(archive.ReadInstance(stored), DicomTransferSyntax.Lookup(syntax)).Write(body);
    }

    /// <summary>Between little-endian native syntaxes no codec runs: the writer streams the lazily read Pixel Data.</summary>
    internal static bool IsStreamedConversion(string storedUid, string targetUid) =>
        DicomTransferSyntax.TryLookup(storedUid, out var stored) && DicomTransferSyntax.TryLookup(targetUid, out var target)
        && stored.IsNative && !stored.IsBigEndian && !stored.IsDeflated
        && target.IsNative && !target.IsBigEndian && !target.IsDeflated;

    /// <summary>
    /// The transfer syntax an instance is sent in when the request names none: Explicit VR Little Endian, except for
    /// lossy compressed pixel data, which goes as received (PS3.18 §8.7.3.4), and syntaxes this server does not know.
    /// </summary>
    internal static string DefaultTransferSyntax(string storedUid) =>
        DicomTransferSyntax.TryLookup(storedUid, out var stored) && !stored.IsLossy
            ? DicomTransferSyntax.ExplicitVRLittleEndian.Uid
            : storedUid;

    /// <summary>
    /// The transfer syntax an Accept header asks for (PS3.18 §8.7.8.2): a syntax, '*' (as stored), or neither
    /// (the default, <see cref="DefaultTransferSyntax"/>).
    /// </summary>
    private static (DicomTransferSyntax? Syntax, bool AsStored, string? Error) RequestedTransferSyntax(Microsoft.Extensions.Primitives.StringValues accept)
    {
        if (accept.Count == 0 || !MediaTypeHeaderValue.TryParseList(accept, out var types))
        {
            return (null, false, null);
        }

        string? unsupported = null;
        foreach (var type in types.OrderByDescending(t => t.Quality ?? 1))
        {
            var media = type.MediaType.ToString();
            var inner = MediaRanges.IsMultipartRelated(type) ? MediaRanges.Parameter(type, "type") : media;
            if (!(inner.Equals("application/dicom", StringComparison.OrdinalIgnoreCase) || inner == "*/*" || media == "*/*"))
            {
                unsupported ??= media;
                continue;
            }

            var syntax = MediaRanges.Parameter(type, "transfer-syntax");
            if (string.IsNullOrEmpty(syntax))
            {
                return (null, false, null);
            }

            if (syntax == "*")
            {
                return (null, true, null);
            }

            if (DicomTransferSyntax.TryLookup(syntax, out var known))
            {
                return (known, false, null);
            }

            unsupported = $"transfer-syntax={syntax}";
        }

        return (null, false, $"Not acceptable: {unsupported}. This resource is served as multipart/related; type=\"application/dicom\".");
    }
}
