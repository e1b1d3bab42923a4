// STOW-RS, PS3.18 §10.5: multipart/related; type="application/dicom", streamed part by part; the response in DICOM JSON or XML.
using Hounsfield.Archive;
using Hounsfield.Archive.Ingest;
using Hounsfield.Dicom;
using Hounsfield.Dicom.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Hounsfield.Server.DicomWeb;

internal static class StowEndpoint
{
    private static readonly DicomTag FailedSOPSequence = new(0x0008, 0x1198);
    private static readonly DicomTag ReferencedSOPSequence = new(0x0008, 0x1199);
    private static readonly DicomTag FailureReason = new(0x0008, 0x1197);
    private static readonly DicomTag RetrieveURL = new(0x0008, 0x1190);

    public static async Task<IResult> HandleAsync(HttpContext context, string? study, CancellationToken cancellationToken)
    {
        var archive = context.RequestServices.GetRequiredService<ArchiveService>();
        if (!MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var contentType)
            || !MediaRanges.IsMultipartRelated(contentType))
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status415UnsupportedMediaType, "STOW-RS takes multipart/related; type=\"application/dicom\".");
        }

        var type = MediaRanges.Parameter(contentType, "type");
        if (!type.Equals("application/dicom", StringComparison.OrdinalIgnoreCase))
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status415UnsupportedMediaType, $"Only type=\"application/dicom\" parts are accepted, not \"{type}\".");
        }

        var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).ToString();
        if (string.IsNullOrEmpty(boundary) || boundary.Length > 200)
        {
            return DicomWebEndpoints.Problem(StatusCodes.Status400BadRequest, "The multipart/related Content-Type has no valid boundary.");
        }

        // The response's representation is settled before any part is stored: a 406 stores nothing.
        if (MediaRanges.ChooseDatasetRepresentation(context.Request.Headers.Accept) is not { } representation)
        {
            return MediaRanges.NeitherJsonNorXml(context.Request.Headers.Accept, "application/dicom+xml");
        }

        var root = DicomWebEndpoints.Root(context);
        var stored = new DicomSequence(ReferencedSOPSequence);
        var failed = new DicomSequence(FailedSOPSequence);
        var reader = new MultipartReader(boundary, context.Request.Body, 64 * 1024)
        {
            HeadersCountLimit = 32,
            HeadersLengthLimit = 16 * 1024,
            // No part length limit here: the archive counts each instance's bytes as they arrive and refuses one over
            // Archive:MaxInstanceLength as too large (413); the request as a whole is bounded by Archive:MaxRequestLength,
            // its number of parts by Archive:MaxPartsPerRequest.
        };

        // Parts are received one after the other while earlier ones are made durable (IngestBatch); the response, which
        // acknowledges them, waits for every commit. Their index rows are written a moment after, together with other
        // ingests' (every read of the archive before that writes them first).
        await using var batch = archive.BeginBatch(IngestCompletion.Durable);
        context.Response.OnCompleted(() => archive.AfterAcknowledgedAsync().AsTask());
        var unreadableParts = 0;
        var parts = 0;
        IResult? problem = null;
        try
        {
            MultipartSection? section;
            while ((section = await reader.ReadNextSectionAsync(cancellationToken)) is not null)
            {
                if (++parts > archive.Options.MaxPartsPerRequest)
                {
                    unreadableParts++;
                    problem = DicomWebEndpoints.Problem(StatusCodes.Status413PayloadTooLarge,
                        $"The request holds more than {archive.Options.MaxPartsPerRequest} parts (Archive:MaxPartsPerRequest); send the instances in several requests.");
                    break;
                }

                var partType = section.ContentType is null ? "application/dicom" : MediaTypeHeaderValue.Parse(section.ContentType).MediaType.ToString();
                if (!partType.Equals("application/dicom", StringComparison.OrdinalIgnoreCase))
                {
                    unreadableParts++;
                    await section.Body.CopyToAsync(Stream.Null, cancellationToken);
                    continue;
                }

                await batch.AddAsync(section.Body, study, cancellationToken);
            }
        }
        catch (InstanceTooLargeException ex)
        {
            unreadableParts++;
            problem = DicomWebEndpoints.Problem(StatusCodes.Status413PayloadTooLarge, ex.Message);
        }
        catch (BadHttpRequestException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Kestrel's own refusals of the body (over Archive:MaxRequestLength, shorter than its Content-Length): the
            // client's error, answered with its status rather than logged as the application's.
            unreadableParts++;
            problem = DicomWebEndpoints.Problem(ex.StatusCode, ex.Message);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException && !cancellationToken.IsCancellationRequested)
        {
            // Malformed multipart framing; the instances stored before it stay stored and are reported.
            unreadableParts++;
            problem = DicomWebEndpoints.Problem(StatusCodes.Status400BadRequest, $"Malformed multipart body: {FramingError(ex, boundary)}");
        }

        var results = await batch.CompleteAsync();
        if (results.Count == 0 && unreadableParts == 0)
        {
            // RFC 2046 §5.1.1: a multipart body holds at least one part.
            return DicomWebEndpoints.Problem(StatusCodes.Status400BadRequest, $"The multipart body holds no parts (none between '--{boundary}' delimiters).");
        }

        foreach (var result in results)
        {
            if (result.Stored)
            {
                stored.Items.Add(new DicomDataset()
                    .AddOrUpdate(DicomTag.ReferencedSOPClassUID, DicomVR.UI, result.SopClassUid!)
                    .AddOrUpdate(DicomTag.ReferencedSOPInstanceUID, DicomVR.UI, result.SopInstanceUid!)
                    .AddOrUpdate(RetrieveURL, DicomVR.UR, $"{root}/studies/{result.StudyInstanceUid}/series/{result.SeriesInstanceUid}/instances/{result.SopInstanceUid}"));
            }
            else
            {
                failed.Items.Add(FailureItem(result.SopClassUid, result.SopInstanceUid, result.FailureReason ?? IngestResult.CannotUnderstand));
            }
        }

        for (var i = 0; i < unreadableParts; i++)
        {
            failed.Items.Add(FailureItem(null, null, IngestResult.CannotUnderstand));
        }

        if (problem is not null && stored.Items.Count == 0)
        {
            return problem;
        }

        var response = new DicomDataset();
        if (study is not null)
        {
            response.AddOrUpdate(RetrieveURL, DicomVR.UR, $"{root}/studies/{study}");
        }

        if (failed.Items.Count > 0)
        {
            response.Add(failed);
        }

        if (stored.Items.Count > 0)
        {
            response.Add(stored);
        }

        var status = failed.Items.Count == 0 ? StatusCodes.Status200OK
            : stored.Items.Count == 0 ? StatusCodes.Status409Conflict
            : StatusCodes.Status202Accepted;
        return representation == DatasetRepresentation.Xml
            ? Results.Text(Dicom.Xml.DicomXmlWriter.Serialize(response), "application/dicom+xml", statusCode: status)
            : Results.Text(DicomJsonWriter.Serialize(response), "application/dicom+json", statusCode: status);
    }

    /// <summary>The multipart reader's complaint in the sender's terms: it reports a body cut short as an "unexpected end of stream".</summary>
    private static string FramingError(Exception error, string boundary) =>
        error is IOException && error.Message.StartsWith("Unexpected end of Stream", StringComparison.Ordinal)
            ? $"the body ended before its closing delimiter '--{boundary}--'."
            : error.Message;

    private static DicomDataset FailureItem(string? sopClass, string? sopInstance, ushort reason)
    {
        var item = new DicomDataset();
        if (sopClass is not null)
        {
            item.AddOrUpdate(DicomTag.ReferencedSOPClassUID, DicomVR.UI, sopClass);
        }

        if (sopInstance is not null)
        {
            item.AddOrUpdate(DicomTag.ReferencedSOPInstanceUID, DicomVR.UI, sopInstance);
        }

        return item.AddOrUpdate(FailureReason, DicomVR.US, reason);
    }
}
