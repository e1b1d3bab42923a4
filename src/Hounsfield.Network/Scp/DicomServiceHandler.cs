// The SCP side of DIMSE-C (PS3.7 §9.1, §9.3; PS3.4 Annexes A, B, C): C-ECHO, C-STORE, C-FIND with pending responses and
// C-CANCEL, C-MOVE with sub-operations on a new association to the destination, C-GET with sub-operations on the same
// association (SCP role of the requestor, PS3.7 D.3.3.4). Final statuses per PS3.4 C.4.1.1.4, C.4.2.1.5, C.4.3.1.4.
using Hounsfield.Dicom;
using Hounsfield.Network.Association;
using Hounsfield.Network.Dimse;
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network;

internal sealed class DicomServiceHandler(DicomServerOptions options, DicomAssociationRequest request) : IDimseRequestHandler, IDicomAcceptPolicy
{
    private enum Service
    {
        None,
        Verification,
        Storage,
        Find,
        Move,
        Get,
    }

    // ---- negotiation ----

    public (DicomPresentationContextOutcome Outcome, string? TransferSyntax) Select(DicomPresentationContextProposal proposal)
    {
        var service = Classify(proposal.AbstractSyntax);
        var offered = service switch
        {
            Service.Verification => true,
            Service.Storage => options.Store is not null || (options.Get is not null && RequestorProposesScpRole(proposal.AbstractSyntax)),
            Service.Find => options.Find is not null,
            Service.Move => options.Move is not null,
            Service.Get => options.Get is not null,
            _ => false,
        };
        if (!offered)
        {
            return (DicomPresentationContextOutcome.AbstractSyntaxNotSupported, null);
        }

        var accepted = service == Service.Storage ? options.StorageTransferSyntaxes : options.TransferSyntaxes;
        foreach (var uid in proposal.TransferSyntaxes)
        {
            foreach (var syntax in accepted)
            {
                if (syntax.Uid == uid)
                {
                    return (DicomPresentationContextOutcome.Acceptance, uid);
                }
            }
        }

        return (DicomPresentationContextOutcome.TransferSyntaxesNotSupported, null);
    }

    public (bool ScuRole, bool ScpRole) SelectRoles(DicomRoleSelection proposed)
    {
        var storage = Classify(proposed.SopClassUid) == Service.Storage;

        // The requestor may act as storage SCP only for C-GET sub-operations this server performs.
        return (true, storage && options.Get is not null);
    }

    /// <summary>For a C-FIND information model: relational queries, combined date-time matching and fuzzy semantic matching of person names, each when asked and the provider does it; no timezone adjustment.</summary>
    public byte[]? AnswerExtendedNegotiation(DicomExtendedNegotiation proposed)
    {
        if (Classify(proposed.SopClassUid) != Service.Find || options.Find is not { } find)
        {
            return null;
        }

        var answer = new byte[Math.Min(proposed.Information.Length, QueryExtendedNegotiation.TimezoneQueryAdjustment + 1)];
        foreach (var (index, supported) in new[]
        {
            (QueryExtendedNegotiation.RelationalQueries, find.SupportsRelationalQueries),
            (QueryExtendedNegotiation.CombinedDateTimeMatching, find.SupportsCombinedDateTimeMatching),
            (QueryExtendedNegotiation.FuzzySemanticMatching, find.SupportsFuzzySemanticMatching),
        })
        {
            if (index < answer.Length && proposed.Information[index] == 1 && supported)
            {
                answer[index] = 1;
            }
        }

        return answer;
    }

    private bool RequestorProposesScpRole(string sopClassUid) =>
        request.UserInformation.RoleSelections.Any(r => r.SopClassUid == sopClassUid && r.ScpRole);

    private Service Classify(string abstractSyntax)
    {
        if (abstractSyntax == DicomUids.Verification)
        {
            return Service.Verification;
        }

        if (DicomSopClasses.FindModels.Contains(abstractSyntax))
        {
            return Service.Find;
        }

        if (DicomSopClasses.MoveModels.Contains(abstractSyntax))
        {
            return Service.Move;
        }

        if (DicomSopClasses.GetModels.Contains(abstractSyntax))
        {
            return Service.Get;
        }

        return options.IsStorageSopClass(abstractSyntax) ? Service.Storage : Service.None;
    }

    // ---- requests ----

    public async ValueTask HandleRequestAsync(DimseEngine engine, DimseIncomingMessage message)
    {
        var service = Classify(message.Context.AbstractSyntax);
        switch ((DicomCommandField)message.Field)
        {
            case DicomCommandField.CEchoRequest when service == Service.Verification:
                await EchoAsync(engine, message).ConfigureAwait(false);
                return;
            case DicomCommandField.CStoreRequest when service == Service.Storage:
                await StoreRequestHandler.HandleAsync(engine, message, options.Store).ConfigureAwait(false);
                return;
            case DicomCommandField.CFindRequest when service == Service.Find && options.Find is { } find:
                await RunWithIdentifierAsync(engine, message, identifier => new DicomFindRequest(engine.Association, message.Command, identifier),
                    (request, token) => FindAsync(engine, message.Context, request, find, token)).ConfigureAwait(false);
                return;
            case DicomCommandField.CMoveRequest when service == Service.Move && options.Move is { } move:
                await RunWithIdentifierAsync(engine, message, identifier => new DicomRetrieveRequest(engine.Association, message.Command, identifier),
                    (request, token) => MoveAsync(engine, message.Context, request, move, token)).ConfigureAwait(false);
                return;
            case DicomCommandField.CGetRequest when service == Service.Get && options.Get is { } get:
                await RunWithIdentifierAsync(engine, message, identifier => new DicomRetrieveRequest(engine.Association, message.Command, identifier),
                    (request, token) => GetAsync(engine, message.Context, request, get, options.Transcoder, token)).ConfigureAwait(false);
                return;

            default:
                if (message.Data is { } data)
                {
                    await data.DrainAsync().ConfigureAwait(false);
                }

                await engine.SendResponseAsync(message.Context, DimseCommand.CreateResponse(
                    message.Command, DicomStatus.UnrecognizedOperation, false, $"Command 0x{message.Field:X4} is not performed on {message.Context.AbstractSyntax}")).ConfigureAwait(false);
                return;
        }
    }

    private async ValueTask EchoAsync(DimseEngine engine, DimseIncomingMessage message)
    {
        var status = DicomStatus.Success;
        string? comment = null;
        if (options.Echo is { } echo)
        {
            try
            {
                status = await echo.EchoAsync(new DicomEchoRequest(engine.Association, message.Command), engine.Lifetime).ConfigureAwait(false);
            }
            catch (Exception ex) when (!engine.Lifetime.IsCancellationRequested)
            {
                (status, comment) = ex is DicomStatusException failure ? (failure.Status, failure.Comment) : (DicomStatus.ProcessingFailure, ex.Message);
            }
        }

        await engine.SendResponseAsync(message.Context, DimseCommand.CreateResponse(message.Command, status, false, comment)).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads a C-FIND/C-MOVE/C-GET's identifier and, when it is acceptable, runs the operation off the reader loop, where a
    /// C-CANCEL can reach it; else the refusal is already sent.
    /// </summary>
    private static async ValueTask RunWithIdentifierAsync<TRequest>(
        DimseEngine engine, DimseIncomingMessage message, Func<DicomDataset, TRequest> createRequest, Func<TRequest, CancellationToken, Task> run)
        where TRequest : DicomQueryRetrieveRequest
    {
        if (await ReadIdentifierAsync(engine, message).ConfigureAwait(false) is { } identifier)
        {
            var request = createRequest(identifier);
            engine.RunOperation(request.MessageId, token => run(request, token));
        }
    }

    /// <summary>
    /// The identifier of a C-FIND/C-MOVE/C-GET; when unreadable, or at a level its information model does not have, the
    /// failure response is sent here and null returned.
    /// </summary>
    private static async ValueTask<DicomDataset?> ReadIdentifierAsync(DimseEngine engine, DimseIncomingMessage message)
    {
        if (message.Data is not { } data)
        {
            await RefuseAsync("No identifier").ConfigureAwait(false);
            return null;
        }

        DicomDataset identifier;
        try
        {
            identifier = await engine.ReadDataSetAsync(data, message.Context.TransferSyntax!).ConfigureAwait(false);
        }
        catch (DicomFormatException ex)
        {
            await data.DrainAsync().ConfigureAwait(false);
            await RefuseAsync(ex.Message).ConfigureAwait(false);
            return null;
        }

        if (DicomQueryRetrieveLevels.Parse(identifier.GetString(DicomTag.QueryRetrieveLevel))?.NotALevelOf(message.Context.AbstractSyntax) is { } wrongLevel)
        {
            await RefuseAsync(wrongLevel).ConfigureAwait(false);
            return null;
        }

        return identifier;

        ValueTask RefuseAsync(string comment) => engine.SendResponseAsync(
            message.Context, DimseCommand.CreateResponse(message.Command, DicomStatus.IdentifierDoesNotMatchSopClass, false, comment));
    }

    private static async Task FindAsync(DimseEngine engine, DicomNegotiatedContext context, DicomFindRequest request, ICFindProvider provider, CancellationToken cancellationToken)
    {
        DicomStatus status;
        string? comment = null;
        try
        {
            await foreach (var match in provider.FindAsync(request, cancellationToken).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var pending = request.OptionalKeysNotSupported ? DicomStatus.PendingWarning : DicomStatus.Pending;
                await engine.SendResponseAsync(context, DimseCommand.CreateResponse(request.Command, pending, true), match).ConfigureAwait(false);
            }

            status = DicomStatus.Success;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && engine.IsOpen)
        {
            status = DicomStatus.Cancel;
        }
        catch (Exception ex) when (ex is not DicomNetworkException && engine.IsOpen)
        {
            (status, comment) = ex is DicomStatusException failure ? (failure.Status, failure.Comment) : (DicomStatus.UnableToProcess, ex.Message);
        }

        await engine.SendResponseAsync(context, DimseCommand.CreateResponse(request.Command, status, false, comment)).ConfigureAwait(false);
    }

    private async Task MoveAsync(DimseEngine engine, DicomNegotiatedContext context, DicomRetrieveRequest request, ICMoveProvider provider, CancellationToken cancellationToken)
    {
        var destinationAE = request.MoveDestination ?? string.Empty;
        DicomRemoteNode? destination;
        IReadOnlyList<DicomInstanceSource> instances;
        try
        {
            destination = destinationAE.Length == 0 ? null : await provider.ResolveDestinationAsync(destinationAE, engine.Association, cancellationToken).ConfigureAwait(false);
            if (destination is null)
            {
                await FinalAsync(DicomStatus.MoveDestinationUnknown, $"Unknown move destination '{destinationAE}'").ConfigureAwait(false);
                return;
            }

            instances = await provider.GetInstancesAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && engine.IsOpen)
        {
            await FinalAsync(DicomStatus.Cancel, null).ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is not DicomNetworkException && engine.IsOpen)
        {
            var (status, comment) = ex is DicomStatusException failure ? (failure.Status, failure.Comment) : (DicomStatus.UnableToProcess, ex.Message);
            await FinalAsync(status, comment).ConfigureAwait(false);
            return;
        }

        var progress = new SubOperations(instances.Count);
        var client = new DicomClient(destination.Host, destination.Port, options.MoveCallingAETitle ?? options.AETitle, destination.AETitle, options.Association)
        {
            Log = options.Log,
            Tls = destination.Tls,
            Transcoder = options.Transcoder,
        };
        var session = new DicomStoreSession
        {
            Priority = DimseCommand.GetPriority(request.Command),
            MoveOriginatorAE = engine.Association.CallingAE,
            MoveOriginatorMessageId = request.MessageId,
            OnResult = async result =>
            {
                progress.Record(result.Status, result.SopInstanceUid);
                if (progress.Remaining > 0)
                {
                    await SendProgressAsync(engine, context, request, progress).ConfigureAwait(false);
                }
            },
        };

        var cancelled = false;
        if (instances.Count > 0)
        {
            try
            {
                await client.StoreCoreAsync(instances, session, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && engine.IsOpen)
            {
                cancelled = true;
            }
            catch (DicomNetworkException ex) when (engine.IsOpen)
            {
                // The destination could not be reached or failed: what is left cannot be sent.
                options.Log?.Invoke($"C-MOVE to {destinationAE}: {ex.Message}");
                progress.FailRemaining();
            }
        }

        await FinishRetrieveAsync(engine, context, request, progress, cancelled).ConfigureAwait(false);

        ValueTask FinalAsync(DicomStatus status, string? comment)
        {
            var response = DimseCommand.CreateResponse(request.Command, status, false, comment);
            DimseCommand.SetSubOperations(response, null, 0, 0, 0);
            return engine.SendResponseAsync(context, response);
        }
    }

    private static async Task GetAsync(
        DimseEngine engine, DicomNegotiatedContext context, DicomRetrieveRequest request, ICGetProvider provider, IDicomTranscoder? transcoder, CancellationToken cancellationToken)
    {
        IReadOnlyList<DicomInstanceSource> instances;
        try
        {
            instances = await provider.GetInstancesAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && engine.IsOpen)
        {
            await FinishRetrieveAsync(engine, context, request, new SubOperations(0), cancelled: true).ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is not DicomNetworkException && engine.IsOpen)
        {
            var (status, comment) = ex is DicomStatusException failure ? (failure.Status, failure.Comment) : (DicomStatus.UnableToProcess, ex.Message);
            var response = DimseCommand.CreateResponse(request.Command, status, false, comment);
            DimseCommand.SetSubOperations(response, null, 0, 0, 0);
            await engine.SendResponseAsync(context, response).ConfigureAwait(false);
            return;
        }

        var progress = new SubOperations(instances.Count);
        var cancelled = false;
        // Up to the negotiated window of sub-operations are sent before their responses are awaited (PS3.7 D.3.3.3); they
        // are counted in the order sent.
        var inFlight = new Queue<(DimsePendingRequest Store, string SopInstanceUid)>();
        foreach (var source in instances)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                cancelled = true;
                break;
            }

            DicomInstanceHeader? header = null;
            DicomStatus? status = null;
            try
            {
                header = await source.GetHeaderAsync(cancellationToken).ConfigureAwait(false);
                var storeContext = StorePlan.Select(engine.Association, header, transcoder);
                if (storeContext is null)
                {
                    status = DicomStatus.SopClassNotSupported;
                }
                else
                {
                    var command = DimseCommand.CreateRequest(DicomCommandField.CStoreRequest, header.SopClassUid, engine.NextMessageId(), true, request.Priority);
                    command.AddOrUpdate(DicomTag.AffectedSOPInstanceUID, DicomVR.UI, header.SopInstanceUid);
                    var store = await engine.SendRequestAsync(
                        storeContext, command, null, writer => source.WriteDataSetAsync(writer, storeContext.TransferSyntax!, transcoder, cancellationToken), cancellationToken).ConfigureAwait(false);
                    inFlight.Enqueue((store, header.SopInstanceUid));
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && engine.IsOpen)
            {
                cancelled = true;
                break;
            }
            catch (Exception ex) when (ex is not DicomNetworkException && engine.IsOpen)
            {
                status = DicomStatus.ProcessingFailure;
            }

            if (status is { } done)
            {
                await CompleteSubOperationsAsync(0).ConfigureAwait(false);
                await RecordAsync(done, header?.SopInstanceUid).ConfigureAwait(false);
            }
            else
            {
                await CompleteSubOperationsAsync(engine.Association.OwnOperationsWindow - 1).ConfigureAwait(false);
            }
        }

        await CompleteSubOperationsAsync(0).ConfigureAwait(false);
        await FinishRetrieveAsync(engine, context, request, progress, cancelled).ConfigureAwait(false);

        async ValueTask CompleteSubOperationsAsync(int keep)
        {
            while (inFlight.Count > keep)
            {
                var (store, sopInstanceUid) = inFlight.Dequeue();
                await RecordAsync((await store.ReadAsync(CancellationToken.None).ConfigureAwait(false)).Status, sopInstanceUid).ConfigureAwait(false);
            }
        }

        async ValueTask RecordAsync(DicomStatus status, string? sopInstanceUid)
        {
            progress.Record(status, sopInstanceUid);
            if (progress.Remaining > 0)
            {
                await SendProgressAsync(engine, context, request, progress).ConfigureAwait(false);
            }
        }
    }

    private static ValueTask SendProgressAsync(DimseEngine engine, DicomNegotiatedContext context, DicomRetrieveRequest request, SubOperations progress)
    {
        var response = DimseCommand.CreateResponse(request.Command, DicomStatus.Pending, false);
        DimseCommand.SetSubOperations(response, progress.Remaining, progress.Completed, progress.Failed, progress.Warning);
        return engine.SendResponseAsync(context, response);
    }

    private static async Task FinishRetrieveAsync(DimseEngine engine, DicomNegotiatedContext context, DicomRetrieveRequest request, SubOperations progress, bool cancelled)
    {
        DicomStatus status;
        if (cancelled)
        {
            status = DicomStatus.Cancel;
        }
        else if (progress.Failed == 0 && progress.Warning == 0)
        {
            status = DicomStatus.Success;
        }
        else if (progress.Completed == 0 && progress.Warning == 0)
        {
            status = DicomStatus.OutOfResourcesUnableToPerformSubOperations;
        }
        else
        {
            status = DicomStatus.SubOperationsCompleteWithFailures;
        }

        DicomDataset? identifier = null;
        if (progress.FailedUids.Count > 0 && status != DicomStatus.Success)
        {
            // UI values have a 16-bit length in explicit VR: keep the list within it.
            var uids = new List<string>();
            var length = 0;
            foreach (var uid in progress.FailedUids)
            {
                if (length + uid.Length + 1 > 65000)
                {
                    break;
                }

                uids.Add(uid);
                length += uid.Length + 1;
            }

            identifier = new DicomDataset();
            identifier.AddOrUpdate(DicomTag.FailedSOPInstanceUIDList, DicomVR.UI, uids.ToArray());
        }

        var response = DimseCommand.CreateResponse(request.Command, status, identifier is not null);
        DimseCommand.SetSubOperations(response, cancelled ? progress.Remaining : null, progress.Completed, progress.Failed, progress.Warning);
        await engine.SendResponseAsync(context, response, identifier).ConfigureAwait(false);
    }

    /// <summary>Counts of C-MOVE / C-GET sub-operations.</summary>
    private sealed class SubOperations(int total)
    {
        public int Completed { get; private set; }

        public int Failed { get; private set; }

        public int Warning { get; private set; }

        public int Remaining => Math.Max(0, total - Completed - Failed - Warning);

        public List<string> FailedUids { get; } = [];

        public void Record(DicomStatus status, string? sopInstanceUid)
        {
            switch (status.Category)
            {
                case DicomStatusCategory.Success:
                    Completed++;
                    break;
                case DicomStatusCategory.Warning:
                    Warning++;
                    break;
                default:
                    Failed++;
                    if (sopInstanceUid is not null)
                    {
                        FailedUids.Add(sopInstanceUid);
                    }

                    break;
            }
        }

        public void FailRemaining() => Failed += Remaining;
    }
}
