// WADO-URI, PS3.18 §9 (the URI service): GET ?requestType=WADO&studyUID=…&seriesUID=…&objectUID=…[&contentType=…]
// [&transferSyntax=…][&frameNumber=…][&windowCenter=…&windowWidth=…][&rows=…][&columns=…][&imageQuality=…].
// A thin adapter: application/dicom is the stored instance (converted as WADO-RS converts it), images are the
// rendered resource of WADO-RS with the parameters translated.
using System.Globalization;
using Hounsfield.Archive;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Transcoding;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Hounsfield.Server.DicomWeb;

internal static class WadoUriEndpoint
{
    private static readonly string[] ImageTypes = ["image/jpeg", "image/png", "image/gif"];

    public static async Task<IResult> HandleAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        if (query["requestType"] != "WADO")
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status400BadRequest, "requestType must be WADO.");
        }

        var missing = new[] { "studyUID", "seriesUID", "objectUID" }.Where(name => string.IsNullOrWhiteSpace(query[name])).ToList();
        if (missing.Count > 0)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status400BadRequest, $"Missing {string.Join(", ", missing)}.");
        }

        if (query.ContainsKey("anonymize"))
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status400BadRequest, "anonymize is not supported by this server.");
        }

        string study = query["studyUID"]!, series = query["seriesUID"]!, instance = query["objectUID"]!;
        var archive = context.RequestServices.GetRequiredService<ArchiveService>();
        var stored = (await archive.ListInstancesAsync(study, series, instance, cancellationToken)).SingleOrDefault();
        if (stored is null)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status404NotFound, "No such instance.");
        }

        var requested = query["contentType"].ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var contentType = requested.Length == 0
            ? "image/jpeg"
            : requested.Select(t => t.Split(';')[0].Trim().ToLowerInvariant()).FirstOrDefault(t => t == "application/dicom" || ImageTypes.Contains(t) || t is "*/*" or "image/*");
        if (contentType is null)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status406NotAcceptable, $"contentType {query["contentType"]} is not one of application/dicom, image/jpeg, image/png, image/gif.");
        }

        return contentType == "application/dicom"
            ? Instance(context, archive, stored, query["transferSyntax"])
            : await ImageAsync(context, study, series, instance, contentType is "*/*" or "image/*" ? "image/jpeg" : contentType, query, cancellationToken);
    }

    private static IResult Instance(HttpContext context, ArchiveService archive, Hounsfield.Archive.Index.StoredInstance stored, StringValues transferSyntax)
    {
        string syntax;
        if (StringValues.IsNullOrEmpty(transferSyntax))
        {
            syntax = WadoEndpoint.DefaultSyntaxFor(stored, archive.Options);
        }
        else if (DicomTransferSyntax.TryLookup(transferSyntax.ToString(), out var known))
        {
            syntax = known.Uid;
        }
        else
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status400BadRequest, $"transferSyntax {transferSyntax} is not a transfer syntax UID this server knows.");
        }

        if (syntax == stored.TransferSyntaxUid)
        {
            return Results.Stream(archive.OpenInstance(stored), "application/dicom");
        }

        if (WadoEndpoint.IsStreamedConversion(stored.TransferSyntaxUid, syntax))
        {
            // As WADO-RS does: a native-to-native conversion streams, whatever the instance's size.
            return Results.Stream(body =>
            {
                WadoEndpoint.WriteStreamedConversion(context, archive, stored, syntax, body);
                return Task.CompletedTask;
            }, "application/dicom");
        }

        var target = DicomTransferSyntax.Lookup(syntax);
        if (target.IsEncapsulated && FrameCodecs.GetEncoder(target.Uid) is null)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status406NotAcceptable, $"This server cannot encode {target.Name}.");
        }

        if (WadoEndpoint.IsOverConversionLimit(stored, syntax, archive.Options))
        {
            return WadoEndpoint.ConversionTooLarge(stored, target, archive.Options);
        }

        var converted = new MemoryStream();
        try
        {
            Transcoder.Transcode(archive.ReadInstance(stored), target).Write(converted);
        }
        catch (Exception ex) when (ex is NotSupportedException or ImageCodecException)
        {
            return StringValues.IsNullOrEmpty(transferSyntax)
                ? Results.Stream(archive.OpenInstance(stored), "application/dicom")
                : DicomWebEndpoints.Problem(StatusCodes.Status406NotAcceptable, $"The instance cannot be converted to {target.Name}: {ex.Message}");
        }

        converted.Position = 0;
        return Results.Stream(converted, "application/dicom");
    }

    private static Task<IResult> ImageAsync(HttpContext context, string study, string series, string instance, string mediaType, IQueryCollection query, CancellationToken cancellationToken)
    {
        var parameters = new Dictionary<string, StringValues>(StringComparer.Ordinal);
        var (center, width) = (query["windowCenter"].ToString(), query["windowWidth"].ToString());
        if (center.Length > 0 != width.Length > 0)
        {
            return Task.FromResult(DicomWebEndpoints.Problem(StatusCodes.Status400BadRequest, "windowCenter and windowWidth go together."));
        }

        if (center.Length > 0)
        {
            parameters["window"] = $"{center},{width}";
        }

        var (rows, columns) = (query["rows"].ToString(), query["columns"].ToString());
        if (rows.Length > 0 || columns.Length > 0)
        {
            // The viewport keeps the aspect ratio: a missing dimension does not constrain.
            parameters["viewport"] = $"{(columns.Length > 0 ? columns : "8192")},{(rows.Length > 0 ? rows : "8192")}";
        }

        if (query.TryGetValue("imageQuality", out var quality))
        {
            parameters["quality"] = quality;
        }

        int? frame = null;
        if (query.TryGetValue("frameNumber", out var frameText))
        {
            if (!int.TryParse(frameText, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < 1)
            {
                return Task.FromResult(DicomWebEndpoints.Problem(StatusCodes.Status400BadRequest, $"frameNumber must be a positive integer, not '{frameText}'."));
            }

            frame = number;
        }

        return RenderedEndpoint.RenderAsync(context, study, series, instance, frame, false, mediaType, new QueryCollection(parameters), cancellationToken);
    }
}
