// The DICOM nodes API under /api/dicom_nodes: peers managed by admins (stored in the database, beside the configured
// Dimse:Nodes), and used as an SCU: C-ECHO, C-FIND, and C-STORE / C-MOVE / C-GET as jobs (PS3.4 Annexes A, B, C).
using System.Diagnostics;
using System.Globalization;
using System.Security.Claims;
using System.Text.Json.Serialization;
using Hounsfield.Dicom;
using Hounsfield.Dicom.Json;
using Hounsfield.Network;
using Hounsfield.Server.Accounts;
using Hounsfield.Server.Dimse;

namespace Hounsfield.Server.Nodes;

internal sealed record DicomNodeResponse(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("aet_title")] string AETitle,
    [property: JsonPropertyName("peer_aet_title")] string PeerAETitle,
    [property: JsonPropertyName("peer_host")] string PeerHost,
    [property: JsonPropertyName("peer_port")] int PeerPort,
    [property: JsonPropertyName("tls")] bool Tls)
{
    public static DicomNodeResponse From(DicomNode node) => new(node.Id, node.Name, node.AETitle, node.PeerAETitle, node.PeerHost, node.PeerPort, node.Tls);
}

internal sealed record DicomNodeRequest(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("aet_title")] string? AETitle,
    [property: JsonPropertyName("peer_aet_title")] string PeerAETitle,
    [property: JsonPropertyName("peer_host")] string PeerHost,
    [property: JsonPropertyName("peer_port")] int PeerPort,
    [property: JsonPropertyName("tls")] bool? Tls);

internal sealed record EchoResponse(
    [property: JsonPropertyName("success")] bool Success,
    [property: JsonPropertyName("status")] string? Status,
    [property: JsonPropertyName("elapsed_ms")] long ElapsedMilliseconds,
    [property: JsonPropertyName("detail"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Detail);

internal sealed record QueryRequest(
    [property: JsonPropertyName("level")] string Level,
    [property: JsonPropertyName("query")] Dictionary<string, string?>? Query);

internal sealed record StoreRequest(
    [property: JsonPropertyName("studies")] string[]? Studies,
    [property: JsonPropertyName("series")] string[]? Series,
    [property: JsonPropertyName("instances")] string[]? Instances);

internal sealed record JobAccepted([property: JsonPropertyName("job_id")] string JobId);

internal sealed record JobResponse(
    [property: JsonPropertyName("job_id")] string JobId,
    [property: JsonPropertyName("node_id")] long NodeId,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("completed")] int Completed,
    [property: JsonPropertyName("failed")] int Failed,
    [property: JsonPropertyName("remaining")] int Remaining,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTimeOffset UpdatedAt,
    [property: JsonPropertyName("created_by")] long? CreatedBy)
{
    public static JobResponse From(DicomNodeJob job) =>
        new(job.Id, job.NodeId, job.Kind, job.State, job.Completed, job.Failed, job.Remaining, job.Error, job.CreatedAt, job.UpdatedAt, job.CreatedBy);
}

internal static class DicomNodeEndpoints
{
    private const string Prefix = "/api/dicom_nodes";

    /// <summary>
    /// Admins manage nodes; anyone who may read lists them, follows jobs, and may C-ECHO and C-FIND them (queries, which
    /// change nothing here); store, move and get send or ingest instances and need the write policy.
    /// </summary>
    public static void MapDicomNodes(this WebApplication app)
    {
        var read = app.MapGroup(Prefix).WithTags("DICOM nodes").RequireAuthorization(AuthorizationPolicies.Read).DisableAntiforgery();
        var write = app.MapGroup(Prefix).WithTags("DICOM nodes").RequireAuthorization(AuthorizationPolicies.Write).DisableAntiforgery();
        var admin = app.MapGroup(Prefix).WithTags("DICOM nodes").RequireAuthorization(AuthorizationPolicies.Admin).DisableAntiforgery();

        read.MapGet(string.Empty, ListAsync).WithName("ListDicomNodes").WithSummary("The DICOM nodes")
            .Produces<DicomNodeResponse[]>();
        admin.MapPost(string.Empty, CreateAsync).WithName("CreateDicomNode")
            .WithSummary("Add a DICOM node (aet_title, our calling AE title towards it, defaults to the server's; tls: reached over DICOM TLS, default false)")
            .Accepts<DicomNodeRequest>("application/json", "application/x-www-form-urlencoded")
            .Produces<DicomNodeResponse>(StatusCodes.Status201Created).Produces<Dictionary<string, string[]>>(StatusCodes.Status400BadRequest);
        read.MapGet("/{id}", GetAsync).WithName("GetDicomNode").WithSummary("A DICOM node")
            .Produces<DicomNodeResponse>().Produces<DetailResponse>(StatusCodes.Status404NotFound);
        admin.MapPut("/{id}", UpdateAsync).WithName("UpdateDicomNode").WithSummary("Replace a DICOM node's fields")
            .Accepts<DicomNodeRequest>("application/json", "application/x-www-form-urlencoded")
            .Produces<DicomNodeResponse>().Produces<Dictionary<string, string[]>>(StatusCodes.Status400BadRequest).Produces<DetailResponse>(StatusCodes.Status404NotFound);
        admin.MapDelete("/{id}", DeleteAsync).WithName("DeleteDicomNode").WithSummary("Remove a DICOM node")
            .Produces(StatusCodes.Status204NoContent).Produces<DetailResponse>(StatusCodes.Status404NotFound);
        read.MapPost("/{id}/echo", EchoAsync).WithName("EchoDicomNode").WithSummary("C-ECHO the node (502 when it cannot be reached or fails)")
            .Produces<EchoResponse>().Produces<EchoResponse>(StatusCodes.Status502BadGateway);
        read.MapPost("/{id}/find", FindOnNodeAsync).WithName("FindOnDicomNode")
            .WithSummary("C-FIND on the node: level PATIENT/STUDY/SERIES/IMAGE and query keys (keyword → value, null to return it); matches as DICOM JSON")
            .Accepts<QueryRequest>("application/json")
            .Produces(StatusCodes.Status200OK, contentType: "application/dicom+json").Produces<DetailResponse>(StatusCodes.Status502BadGateway);
        write.MapPost("/{id}/store", StoreAsync).WithName("StoreToDicomNode")
            .WithSummary("C-STORE studies, series and instances of this archive to the node, as a job")
            .Accepts<StoreRequest>("application/json").Produces<JobAccepted>(StatusCodes.Status202Accepted);
        write.MapPost("/{id}/move", MoveAsync).WithName("MoveFromDicomNode")
            .WithSummary("C-MOVE from the node into this archive, as a job: the node must know our AE title (the node's aet_title) with our host and DICOM port")
            .Accepts<QueryRequest>("application/json").Produces<JobAccepted>(StatusCodes.Status202Accepted);
        write.MapPost("/{id}/get", GetFromNodeAsync).WithName("GetFromDicomNode")
            .WithSummary("C-GET from the node into this archive, as a job")
            .Accepts<QueryRequest>("application/json").Produces<JobAccepted>(StatusCodes.Status202Accepted);
        read.MapGet("/jobs/{jobId}", JobAsync).WithName("GetDicomNodeJob")
            .WithSummary("A store, move or get job: state (pending, running, succeeded, failed), counts and error; only its creator and admins see it")
            .Produces<JobResponse>().Produces<DetailResponse>(StatusCodes.Status404NotFound);
    }

    private static async Task<IResult> ListAsync(SqliteDicomNodeStore store, CancellationToken cancellationToken) =>
        Results.Json((await store.ListAsync(cancellationToken)).Select(DicomNodeResponse.From));

    private static async Task<IResult> CreateAsync(HttpRequest request, SqliteDicomNodeStore store, DimseOptions dimse, DicomNodeOptions options,
        TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (fields, problem) = await DicomNodeRequests.ReadNodeAsync(request, dimse.AETitle, options.MaxRequestBodyLength, cancellationToken);
        if (fields is null)
        {
            return problem!;
        }

        var node = await store.CreateAsync(fields, time.GetUtcNow(), cancellationToken);
        if (node is null)
        {
            return DuplicatePeer();
        }

        loggers.CreateLogger(typeof(DicomNodeEndpoints)).LogInformation("Created DICOM node {NodeId} for {PeerAETitle} at {PeerHost}:{PeerPort}",
            node.Id, node.PeerAETitle, node.PeerHost, node.PeerPort);
        return Results.Json(DicomNodeResponse.From(node), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> GetAsync(string id, SqliteDicomNodeStore store, CancellationToken cancellationToken) =>
        await FindAsync(id, store, cancellationToken) is { } node ? Results.Json(DicomNodeResponse.From(node)) : NotFound(id);

    private static async Task<IResult> UpdateAsync(string id, HttpRequest request, SqliteDicomNodeStore store, DimseOptions dimse, DicomNodeOptions options,
        TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (await FindAsync(id, store, cancellationToken) is not { Id: var key })
        {
            return NotFound(id);
        }

        var (fields, problem) = await DicomNodeRequests.ReadNodeAsync(request, dimse.AETitle, options.MaxRequestBodyLength, cancellationToken);
        if (fields is null)
        {
            return problem!;
        }

        var (outcome, node) = await store.UpdateAsync(key, fields, time.GetUtcNow(), cancellationToken);
        switch (outcome)
        {
            case UpdateOutcome.NotFound:
                return NotFound(id);
            case UpdateOutcome.Conflict:
                return DuplicatePeer();
            default:
                loggers.CreateLogger(typeof(DicomNodeEndpoints)).LogInformation("Updated DICOM node {NodeId}: {PeerAETitle} at {PeerHost}:{PeerPort}",
                    node!.Id, node.PeerAETitle, node.PeerHost, node.PeerPort);
                return Results.Json(DicomNodeResponse.From(node));
        }
    }

    private static async Task<IResult> DeleteAsync(string id, SqliteDicomNodeStore store, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (!TryParseId(id, out var key) || !await store.DeleteAsync(key, cancellationToken))
        {
            return NotFound(id);
        }

        loggers.CreateLogger(typeof(DicomNodeEndpoints)).LogInformation("Deleted DICOM node {NodeId}", key);
        return Results.NoContent();
    }

    private static async Task<IResult> EchoAsync(string id, SqliteDicomNodeStore store, DicomNodeTransfers transfers, CancellationToken cancellationToken)
    {
        if (await FindAsync(id, store, cancellationToken) is not { } node)
        {
            return NotFound(id);
        }

        var watch = Stopwatch.StartNew();
        try
        {
            var status = await transfers.Client(node).EchoAsync(cancellationToken);
            var code = string.Create(CultureInfo.InvariantCulture, $"0x{status.Code:X4}");
            return status.IsSuccess
                ? Results.Json(new EchoResponse(true, code, watch.ElapsedMilliseconds, null))
                : Results.Json(new EchoResponse(false, code, watch.ElapsedMilliseconds, $"{node.PeerAETitle} answered C-ECHO with status {status}."),
                    statusCode: StatusCodes.Status502BadGateway);
        }
        catch (Exception ex) when (ex is DicomNetworkException or IOException)
        {
            return Results.Json(new EchoResponse(false, null, watch.ElapsedMilliseconds, Unreachable(node, "C-ECHO", ex)), statusCode: StatusCodes.Status502BadGateway);
        }
    }

    private static async Task<IResult> FindOnNodeAsync(string id, HttpContext context, SqliteDicomNodeStore store, DicomNodeTransfers transfers, DicomNodeOptions options,
        CancellationToken cancellationToken)
    {
        if (await FindAsync(id, store, cancellationToken) is not { } node)
        {
            return NotFound(id);
        }

        var (query, problem) = await DicomNodeRequests.ReadQueryAsync(context.Request, options.MaxRequestBodyLength, cancellationToken);
        if (query is null)
        {
            return problem!;
        }

        var matches = new List<DicomDataset>();
        var truncated = false;
        var find = query.FindOptions();
        try
        {
            await foreach (var match in transfers.Client(node).FindAsync(query.Level, query.Identifier, null, cancellationToken, find))
            {
                if (matches.Count == options.MaxFindResults)
                {
                    truncated = true;
                    break; // ends the enumeration, which sends the peer a C-CANCEL
                }

                matches.Add(match);
            }
        }
        catch (Exception ex) when (ex is DicomNetworkException or IOException)
        {
            return RequestFields.Detail(StatusCodes.Status502BadGateway, Unreachable(node, "C-FIND", ex));
        }
        catch (DicomStatusException ex)
        {
            return RequestFields.Detail(StatusCodes.Status502BadGateway, $"{node.PeerAETitle} refused the C-FIND: {ex.Message}");
        }

        if (truncated)
        {
            context.Response.Headers.Append("Warning", $"299 {context.Request.Host}: \"Only the first {options.MaxFindResults} matches are returned\"");
        }

        foreach (var caveat in FindCaveats.Of(find, node.PeerAETitle))
        {
            context.Response.Headers.Append("Warning", $"299 {context.Request.Host}: \"{caveat}\"");
        }

        await using var body = new MemoryStream();
        DicomJsonWriter.WriteArray(body, matches);
        return Results.Bytes(body.ToArray(), "application/dicom+json");
    }

    private static async Task<IResult> StoreAsync(string id, HttpRequest request, ClaimsPrincipal user, SqliteDicomNodeStore store, DicomNodeTransfers transfers, DicomNodeJobRunner jobs,
        DicomNodeOptions options, CancellationToken cancellationToken)
    {
        if (await FindAsync(id, store, cancellationToken) is not { } node)
        {
            return NotFound(id);
        }

        var (selection, problem) = await DicomNodeRequests.ReadStoreSelectionAsync(request, options.MaxRequestBodyLength, options.MaxStoreUids, cancellationToken);
        if (selection is null)
        {
            return problem!;
        }

        var (instances, unknown) = await transfers.ResolveAsync(selection, cancellationToken);
        if (unknown.Count > 0)
        {
            return Results.Json(unknown, statusCode: StatusCodes.Status400BadRequest);
        }

        var job = await jobs.EnqueueAsync(node, "store", instances.Count, AccountClaims.UserId(user), (progress, ct) => transfers.StoreAsync(node, instances, progress, ct), cancellationToken);
        return Accepted(job);
    }

    private static async Task<IResult> MoveAsync(string id, HttpRequest request, ClaimsPrincipal user, SqliteDicomNodeStore store, DicomNodeTransfers transfers, DicomNodeJobRunner jobs,
        DimseOptions dimse, DicomNodeOptions options, CancellationToken cancellationToken)
    {
        if (await FindAsync(id, store, cancellationToken) is not { } node)
        {
            return NotFound(id);
        }

        if (dimse.Port == 0)
        {
            return RequestFields.Detail(StatusCodes.Status409Conflict, "The DICOM SCP is off (Dimse:Port 0), so a C-MOVE has nowhere to deliver; use get.");
        }

        var (query, problem) = await DicomNodeRequests.ReadQueryAsync(request, options.MaxRequestBodyLength, cancellationToken);
        if (query is null)
        {
            return problem!;
        }

        var job = await jobs.EnqueueAsync(node, "move", 0, AccountClaims.UserId(user), (progress, ct) => transfers.MoveAsync(node, query, progress, ct), cancellationToken);
        return Accepted(job);
    }

    private static async Task<IResult> GetFromNodeAsync(string id, HttpRequest request, ClaimsPrincipal user, SqliteDicomNodeStore store, DicomNodeTransfers transfers, DicomNodeJobRunner jobs,
        DicomNodeOptions options, CancellationToken cancellationToken)
    {
        if (await FindAsync(id, store, cancellationToken) is not { } node)
        {
            return NotFound(id);
        }

        var (query, problem) = await DicomNodeRequests.ReadQueryAsync(request, options.MaxRequestBodyLength, cancellationToken);
        if (query is null)
        {
            return problem!;
        }

        var job = await jobs.EnqueueAsync(node, "get", 0, AccountClaims.UserId(user), (progress, ct) => transfers.GetAsync(node, query, progress, ct), cancellationToken);
        return Accepted(job);
    }

    /// <summary>A job, to the account that created it and to admins; to anyone else it does not exist (404).</summary>
    private static async Task<IResult> JobAsync(string jobId, ClaimsPrincipal user, SqliteDicomNodeStore store, DicomNodeJobRunner jobs, DicomNodeOptions options, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var job = await store.FindJobAsync(jobId, cancellationToken);
        if (job is { State: DicomNodeJobStates.Pending or DicomNodeJobStates.Running } && time.GetUtcNow() - job.HeartbeatAt > options.JobStaleAfter)
        {
            await jobs.FailStaleAsync(cancellationToken);
            job = await store.FindJobAsync(jobId, cancellationToken);
        }

        return job is null || !(user.IsInRole(Roles.Admin) || (job.CreatedBy is { } owner && owner == AccountClaims.UserId(user)))
            ? RequestFields.Detail(StatusCodes.Status404NotFound, $"No DICOM node job {jobId}.")
            : Results.Json(JobResponse.From(job));
    }

    private static IResult Accepted(DicomNodeJob job) => Results.Accepted($"{Prefix}/jobs/{job.Id}", new JobAccepted(job.Id));

    private static string Unreachable(DicomNode node, string operation, Exception ex) =>
        $"{operation} to {node.PeerAETitle} at {node.PeerHost}:{node.PeerPort}{(node.Tls ? " over TLS" : string.Empty)} failed: {ex.Message}";

    private static async Task<DicomNode?> FindAsync(string id, SqliteDicomNodeStore store, CancellationToken cancellationToken) =>
        TryParseId(id, out var key) ? await store.FindAsync(key, cancellationToken) : null;

    private static bool TryParseId(string id, out long key) => long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out key) && key > 0;

    private static IResult NotFound(string id) => RequestFields.Detail(StatusCodes.Status404NotFound, $"No DICOM node {id}.");

    private static IResult DuplicatePeer() =>
        Results.Json(new Dictionary<string, string[]> { ["peer_aet_title"] = ["A DICOM node with this peer AE title already exists."] }, statusCode: StatusCodes.Status400BadRequest);
}
