// DICOMweb, PS3.18: STOW-RS (§10.5), QIDO-RS (§10.6), WADO-RS (§10.4). Thin adapters over ArchiveService.
using Hounsfield.Server.Accounts;

namespace Hounsfield.Server.DicomWeb;

internal static class DicomWebEndpoints
{
    private static readonly (string Key, string Name)[] RouteUids =
        [("study", "Study Instance UID"), ("series", "Series Instance UID"), ("instance", "SOP Instance UID")];

    /// <summary>Maps DICOMweb under /dicomweb, and the Sphere-style aliases /qidors and /wadors.</summary>
    public static void MapDicomWeb(this WebApplication app)
    {
        foreach (var prefix in new[] { "/dicomweb", "/qidors", "/wadors" })
        {
            // Retrieve and query need Read (readonly, user, admin); store and delete need Write (user, admin).
            var group = app.MapGroup(prefix).RequireAuthorization(AuthorizationPolicies.Read).AddEndpointFilter(RefuseMalformedUids).AddEndpointFilter(UseAcceptQueryParameter);
            var write = app.MapGroup(prefix).RequireAuthorization(AuthorizationPolicies.Write).AddEndpointFilter(RefuseMalformedUids).AddEndpointFilter(UseAcceptQueryParameter);
            write.MapPost("/studies", (HttpContext context, CancellationToken ct) => StowEndpoint.HandleAsync(context, null, ct)).DisableAntiforgery();
            write.MapPost("/studies/{study}", (HttpContext context, string study, CancellationToken ct) => StowEndpoint.HandleAsync(context, study, ct)).DisableAntiforgery();

            group.MapGet("/wado", (HttpContext context, CancellationToken ct) => WadoUriEndpoint.HandleAsync(context, ct));
            group.MapGet("/studies", (HttpContext context, CancellationToken ct) => QidoEndpoint.HandleAsync(context, Archive.Query.QueryLevel.Study, null, null, ct));
            group.MapGet("/series", (HttpContext context, CancellationToken ct) => QidoEndpoint.HandleAsync(context, Archive.Query.QueryLevel.Series, null, null, ct));
            group.MapGet("/instances", (HttpContext context, CancellationToken ct) => QidoEndpoint.HandleAsync(context, Archive.Query.QueryLevel.Instance, null, null, ct));
            group.MapGet("/studies/{study}/series", (HttpContext context, string study, CancellationToken ct) => QidoEndpoint.HandleAsync(context, Archive.Query.QueryLevel.Series, study, null, ct));
            group.MapGet("/studies/{study}/instances", (HttpContext context, string study, CancellationToken ct) => QidoEndpoint.HandleAsync(context, Archive.Query.QueryLevel.Instance, study, null, ct));
            group.MapGet("/studies/{study}/series/{series}/instances", (HttpContext context, string study, string series, CancellationToken ct) => QidoEndpoint.HandleAsync(context, Archive.Query.QueryLevel.Instance, study, series, ct));

            group.MapGet("/studies/{study}", (HttpContext context, string study, CancellationToken ct) => WadoEndpoint.RetrieveAsync(context, study, null, null, ct));
            group.MapGet("/studies/{study}/series/{series}", (HttpContext context, string study, string series, CancellationToken ct) => WadoEndpoint.RetrieveAsync(context, study, series, null, ct));
            group.MapGet("/studies/{study}/series/{series}/instances/{instance}", (HttpContext context, string study, string series, string instance, CancellationToken ct) => WadoEndpoint.RetrieveAsync(context, study, series, instance, ct));
            group.MapGet("/studies/{study}/metadata", (HttpContext context, string study, CancellationToken ct) => WadoEndpoint.MetadataAsync(context, study, null, null, ct));
            group.MapGet("/studies/{study}/series/{series}/metadata", (HttpContext context, string study, string series, CancellationToken ct) => WadoEndpoint.MetadataAsync(context, study, series, null, ct));
            group.MapGet("/studies/{study}/series/{series}/instances/{instance}/metadata", (HttpContext context, string study, string series, string instance, CancellationToken ct) => WadoEndpoint.MetadataAsync(context, study, series, instance, ct));

            group.MapGet("/studies/{study}/series/{series}/instances/{instance}/bulkdata/{**path}", (HttpContext context, string study, string series, string instance, string path, CancellationToken ct) => BulkDataEndpoint.HandleAsync(context, study, series, instance, path, ct));

            group.MapGet("/studies/{study}/series/{series}/instances/{instance}/frames/{frames}", (HttpContext context, string study, string series, string instance, string frames, CancellationToken ct) => RenderedEndpoint.FramesAsync(context, study, series, instance, frames, ct));
            group.MapGet("/studies/{study}/series/{series}/instances/{instance}/rendered", (HttpContext context, string study, string series, string instance, CancellationToken ct) => RenderedEndpoint.RenderedAsync(context, study, series, instance, null, false, ct));
            group.MapGet("/studies/{study}/series/{series}/instances/{instance}/frames/{frame:int}/rendered", (HttpContext context, string study, string series, string instance, int frame, CancellationToken ct) => RenderedEndpoint.RenderedAsync(context, study, series, instance, frame, false, ct));
            group.MapGet("/studies/{study}/series/{series}/rendered", (HttpContext context, string study, string series, CancellationToken ct) => RenderedEndpoint.RenderedAsync(context, study, series, null, null, false, ct));
            group.MapGet("/studies/{study}/rendered", (HttpContext context, string study, CancellationToken ct) => RenderedEndpoint.RenderedAsync(context, study, null, null, null, false, ct));
            group.MapGet("/studies/{study}/thumbnail", (HttpContext context, string study, CancellationToken ct) => RenderedEndpoint.RenderedAsync(context, study, null, null, null, true, ct));
            group.MapGet("/studies/{study}/series/{series}/thumbnail", (HttpContext context, string study, string series, CancellationToken ct) => RenderedEndpoint.RenderedAsync(context, study, series, null, null, true, ct));
            group.MapGet("/studies/{study}/series/{series}/instances/{instance}/thumbnail", (HttpContext context, string study, string series, string instance, CancellationToken ct) => RenderedEndpoint.RenderedAsync(context, study, series, instance, null, true, ct));
            group.MapGet("/studies/{study}/series/{series}/instances/{instance}/frames/{frame:int}/thumbnail", (HttpContext context, string study, string series, string instance, int frame, CancellationToken ct) => RenderedEndpoint.RenderedAsync(context, study, series, instance, frame, true, ct));

            write.MapDelete("/studies/{study}", (HttpContext context, string study, CancellationToken ct) => WadoEndpoint.DeleteAsync(context, study, null, null, ct));
            write.MapDelete("/studies/{study}/series/{series}", (HttpContext context, string study, string series, CancellationToken ct) => WadoEndpoint.DeleteAsync(context, study, series, null, ct));
            write.MapDelete("/studies/{study}/series/{series}/instances/{instance}", (HttpContext context, string study, string series, string instance, CancellationToken ct) => WadoEndpoint.DeleteAsync(context, study, series, instance, ct));
        }

        // WADO-URI also at the root, where most of its clients (and Orthanc) have it.
        app.MapGet("/wado", (HttpContext context, CancellationToken ct) => WadoUriEndpoint.HandleAsync(context, ct)).RequireAuthorization(AuthorizationPolicies.Read);
    }

    /// <summary>
    /// A study, series or instance UID in the path that no stored instance can have (see
    /// <see cref="Archive.ArchiveService.IsStorableUid"/>) is a malformed request (400), not an unknown resource (404).
    /// </summary>
    private static async ValueTask<object?> RefuseMalformedUids(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var route = invocation.HttpContext.Request.RouteValues;
        foreach (var (key, name) in RouteUids)
        {
            if (route.TryGetValue(key, out var value) && value is string uid && !Archive.ArchiveService.IsStorableUid(uid))
            {
                var shown = uid.Length > 80 ? $"{uid[..80]}... ({uid.Length} characters)" : uid;
                return Problem(StatusCodes.Status400BadRequest, $"'{shown}' is not a valid {name}: a UID is 1 to 64 digits and dots.");
            }
        }

        return await next(invocation);
    }

    /// <summary>
    /// PS3.18 §8.3.3.1: the accept query parameter names the acceptable media types for a user agent that cannot set the
    /// Accept header (a hyperlink), in its place; every endpoint then negotiates from the header as usual.
    /// </summary>
    private static ValueTask<object?> UseAcceptQueryParameter(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var request = invocation.HttpContext.Request;
        if (request.Query.TryGetValue("accept", out var accept))
        {
            if (string.IsNullOrWhiteSpace(accept.ToString()) || !Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParseStrictList(accept, out _))
            {
                return ValueTask.FromResult<object?>(Problem(StatusCodes.Status400BadRequest, $"The accept query parameter '{Echo(accept.ToString())}' is not a list of media types."));
            }

            request.Headers.Accept = accept;
        }

        return next(invocation);
    }

    /// <summary>Lets a synchronous writer (the toolkit's, the GIF encoder) write the response body, which Kestrel refuses by default.</summary>
    internal static void AllowSynchronousBodyWrites(HttpContext context)
    {
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpBodyControlFeature>() is { } bodyControl)
        {
            bodyControl.AllowSynchronousIO = true;
        }
    }

    /// <summary>The DICOMweb root of this request, e.g. http://host:8080/dicomweb, for RetrieveURLs and BulkDataURIs.</summary>
    public static string Root(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? string.Empty;
        var prefix = path.StartsWith("/qidors", StringComparison.Ordinal) ? "/qidors" : path.StartsWith("/wadors", StringComparison.Ordinal) ? "/wadors" : "/dicomweb";
        return $"{request.Scheme}://{request.Host}{request.PathBase}{prefix}";
    }

    public static IResult Problem(int status, string detail) => Results.Json(new { detail }, statusCode: status);

    /// <summary>What the client sent, as an error message repeats it: its first 80 characters.</summary>
    internal static string Echo(string text) => text.Length > 80 ? text[..80] + "..." : text;
}
