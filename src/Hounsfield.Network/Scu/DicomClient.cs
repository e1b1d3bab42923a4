// The SCU side: association establishment as requestor (PS3.8 §9.2, §9.3.2/§9.3.3, ARTIM §9.1.5) and the DIMSE-C
// operations it invokes (PS3.7 §9.1; PS3.4 Annex A Verification, Annex B Storage, Annex C Query/Retrieve: C-FIND with
// C-CANCEL, C-MOVE, C-GET with its C-STORE sub-operations on the same association and SCP role selection, D.3.3.4).
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Hounsfield.Dicom;
using Hounsfield.Network.Association;
using Hounsfield.Network.Dimse;
using Hounsfield.Network.Pdu;
using Hounsfield.Network.Tls;

namespace Hounsfield.Network;

/// <summary>Options of one C-STORE run beyond the association (sub-operations of a C-MOVE, progress).</summary>
internal sealed class DicomStoreSession
{
    public DicomPriority Priority { get; init; } = DicomPriority.Medium;

    public string? MoveOriginatorAE { get; init; }

    public ushort? MoveOriginatorMessageId { get; init; }

    public Func<DicomStoreResult, ValueTask>? OnResult { get; init; }
}

/// <summary>
/// A DICOM SCU for one peer. Each operation opens an association, performs the operation and releases it, like the
/// DCMTK tools. Every wait is bounded by the timeouts of <see cref="DicomAssociationOptions"/>.
/// </summary>
public sealed class DicomClient
{
    private static readonly string[] UncompressedSyntaxes = [DicomTransferSyntax.ExplicitVRLittleEndian.Uid, DicomTransferSyntax.ImplicitVRLittleEndian.Uid];

    /// <summary>Storage syntaxes a C-GET accepts by default: explicit and implicit VR little endian, then the common compressed ones, lossless first.</summary>
    private static readonly DicomTransferSyntax[] DefaultGetSyntaxes =
    [
        DicomTransferSyntax.ExplicitVRLittleEndian, DicomTransferSyntax.ImplicitVRLittleEndian,
        DicomTransferSyntax.JpegLosslessSV1, DicomTransferSyntax.JpegLSLossless, DicomTransferSyntax.Jpeg2000Lossless, DicomTransferSyntax.RleLossless,
        DicomTransferSyntax.JpegLossless, DicomTransferSyntax.HtJpeg2000Lossless, DicomTransferSyntax.HtJpeg2000LosslessRpcl,
        DicomTransferSyntax.JpegBaseline, DicomTransferSyntax.JpegExtended, DicomTransferSyntax.JpegLSNearLossless, DicomTransferSyntax.Jpeg2000,
        DicomTransferSyntax.HtJpeg2000,
    ];

    private readonly DicomTlsClientOptions? tls;

    public DicomClient(string host, int port, string callingAE, string calledAE, DicomAssociationOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        Host = host;
        Port = port;
        CallingAE = DicomAssociationOptions.ValidateAETitle(callingAE, nameof(callingAE));
        CalledAE = DicomAssociationOptions.ValidateAETitle(calledAE, nameof(calledAE));
        Options = options ?? DicomAssociationOptions.Default;
        Options.Validate();
    }

    public string Host { get; }

    public int Port { get; }

    public string CallingAE { get; }

    public string CalledAE { get; }

    public DicomAssociationOptions Options { get; }

    /// <summary>Receives one line per notable event (association failures); no patient data is logged.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>When set, every association runs over TLS (PS3.15 Annex B.1). Default null (plain TCP).</summary>
    public DicomTlsClientOptions? Tls
    {
        get => tls;
        init
        {
            value?.Validate();
            tls = value;
        }
    }

    /// <summary>
    /// Decompresses an instance stored compressed when the peer accepts only uncompressed syntaxes for its SOP class;
    /// then a context of explicit and implicit VR little endian is proposed beside the stored syntax's. Default null:
    /// such an instance fails with SOP class not supported.
    /// </summary>
    public IDicomTranscoder? Transcoder { get; init; }

    /// <summary>C-ECHO: verifies that the peer answers (PS3.4 Annex A).</summary>
    public async Task<DicomStatus> EchoAsync(CancellationToken cancellationToken = default)
    {
        var engine = await OpenAsync([new DicomPresentationContextProposal(1, DicomUids.Verification, UncompressedSyntaxes)], [], null, cancellationToken).ConfigureAwait(false);
        try
        {
            var context = RequireContext(engine, DicomUids.Verification, "Verification");
            var command = DimseCommand.CreateRequest(DicomCommandField.CEchoRequest, DicomUids.Verification, engine.NextMessageId(), hasDataSet: false);
            var request = await engine.SendRequestAsync(context, command, null, null, cancellationToken).ConfigureAwait(false);
            var response = await request.ReadAsync(cancellationToken).ConfigureAwait(false);
            await engine.ReleaseAsync(cancellationToken).ConfigureAwait(false);
            return response.Status;
        }
        finally
        {
            await CloseAsync(engine).ConfigureAwait(false);
        }
    }

    /// <summary>C-STORE of Part 10 files, on one association (more when they need over 128 presentation contexts).</summary>
    public Task<IReadOnlyList<DicomStoreResult>> StoreAsync(IEnumerable<string> paths, CancellationToken cancellationToken = default) =>
        StoreAsync(paths.Select(path => DicomInstanceSource.FromFile(path)), cancellationToken);

    /// <summary>C-STORE of files held in memory.</summary>
    public Task<IReadOnlyList<DicomStoreResult>> StoreAsync(IEnumerable<DicomFile> files, CancellationToken cancellationToken = default) =>
        StoreAsync(files.Select(file => DicomInstanceSource.FromDicomFile(file)), cancellationToken);

    /// <summary>
    /// C-STORE of instances. Each is proposed in its stored transfer syntax (plus explicit and implicit VR little endian
    /// when native) and sent as stored when that syntax is accepted. Per-instance failures are results, not exceptions;
    /// a rejected or aborted association throws.
    /// </summary>
    public Task<IReadOnlyList<DicomStoreResult>> StoreAsync(IEnumerable<DicomInstanceSource> instances, CancellationToken cancellationToken = default) =>
        StoreCoreAsync(instances, null, cancellationToken);

    /// <summary>C-STORE of instances, as above, handing each result to <paramref name="onResult"/> as it comes (progress of long transfers).</summary>
    public Task<IReadOnlyList<DicomStoreResult>> StoreAsync(
        IEnumerable<DicomInstanceSource> instances, Func<DicomStoreResult, ValueTask> onResult, CancellationToken cancellationToken = default) =>
        StoreCoreAsync(instances, new DicomStoreSession { OnResult = onResult }, cancellationToken);

    internal async Task<IReadOnlyList<DicomStoreResult>> StoreCoreAsync(IEnumerable<DicomInstanceSource> instances, DicomStoreSession? session, CancellationToken cancellationToken)
    {
        session ??= new DicomStoreSession();
        var results = new List<DicomStoreResult>();
        var items = new List<(DicomInstanceSource Source, DicomInstanceHeader Header)>();
        foreach (var source in instances)
        {
            try
            {
                items.Add((source, await source.GetHeaderAsync(cancellationToken).ConfigureAwait(false)));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                await AddAsync(new DicomStoreResult(source, null, DicomStatus.ProcessingFailure, ex.Message)).ConfigureAwait(false);
            }
        }

        foreach (var batch in StorePlan.Batch(items, Transcoder))
        {
            var proposals = StorePlan.Propose(batch.Select(item => item.Header), Transcoder);
            var index = 0;
            while (index < batch.Count)
            {
                var engine = await OpenAsync(proposals, [], null, cancellationToken).ConfigureAwait(false);
                // Up to the negotiated window of requests are sent before their responses are awaited (PS3.7 D.3.3.3);
                // the responses are taken in the order sent, so results keep the order of the instances.
                var inFlight = new Queue<(DimsePendingRequest Request, DicomInstanceSource Source, DicomInstanceHeader Header)>();
                try
                {
                    for (; index < batch.Count; index++)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        var (source, header) = batch[index];
                        var context = StorePlan.Select(engine.Association, header, Transcoder);
                        if (context is null)
                        {
                            await CompleteInFlightAsync(0).ConfigureAwait(false);
                            await AddAsync(new DicomStoreResult(source, header.SopInstanceUid, DicomStatus.SopClassNotSupported,
                                $"The peer accepted no presentation context for {header.SopClassUid} in {header.TransferSyntax.Name} or a syntax it converts to")).ConfigureAwait(false);
                            continue;
                        }

                        var command = DimseCommand.CreateRequest(DicomCommandField.CStoreRequest, header.SopClassUid, engine.NextMessageId(), true, session.Priority);
                        command.AddOrUpdate(DicomTag.AffectedSOPInstanceUID, DicomVR.UI, header.SopInstanceUid);
                        if (session.MoveOriginatorAE is { } originator)
                        {
                            command.AddOrUpdate(DicomTag.MoveOriginatorApplicationEntityTitle, DicomVR.AE, originator);
                            command.AddOrUpdate<ushort>(DicomTag.MoveOriginatorMessageID, DicomVR.US, session.MoveOriginatorMessageId ?? 0);
                        }

                        try
                        {
                            var request = await engine.SendRequestAsync(
                                context, command, null, writer => source.WriteDataSetAsync(writer, context.TransferSyntax!, Transcoder, cancellationToken), cancellationToken).ConfigureAwait(false);
                            inFlight.Enqueue((request, source, header));
                        }
                        catch (Exception ex) when (ex is not (OperationCanceledException or DicomNetworkException) && !engine.IsOpen)
                        {
                            // The instance could not be read while it was being sent: the association was aborted; the requests
                            // sent before it keep the responses that arrived, and the rest go on with a new association.
                            await CompleteInFlightAsync(0, associationAborted: true).ConfigureAwait(false);
                            await AddAsync(new DicomStoreResult(source, header.SopInstanceUid, DicomStatus.ProcessingFailure, ex.Message)).ConfigureAwait(false);
                            index++;
                            break;
                        }

                        await CompleteInFlightAsync(engine.Association.OwnOperationsWindow - 1).ConfigureAwait(false);
                    }

                    await CompleteInFlightAsync(0).ConfigureAwait(false);
                    if (engine.IsOpen)
                    {
                        await engine.ReleaseAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                finally
                {
                    await CloseAsync(engine).ConfigureAwait(false);
                }

                async ValueTask CompleteInFlightAsync(int keep, bool associationAborted = false)
                {
                    while (inFlight.Count > keep)
                    {
                        var (request, source, header) = inFlight.Dequeue();
                        DicomStoreResult result;
                        try
                        {
                            var response = await request.ReadAsync(cancellationToken).ConfigureAwait(false);
                            result = new DicomStoreResult(source, header.SopInstanceUid, response.Status, response.Command.GetString(DicomTag.ErrorComment));
                        }
                        catch (DicomNetworkException ex) when (associationAborted)
                        {
                            result = new DicomStoreResult(source, header.SopInstanceUid, DicomStatus.ProcessingFailure, $"No response before the association was aborted: {ex.Message}");
                        }

                        await AddAsync(result).ConfigureAwait(false);
                    }
                }
            }
        }

        return results;

        async ValueTask AddAsync(DicomStoreResult result)
        {
            results.Add(result);
            if (session.OnResult is { } onResult)
            {
                await onResult(result).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// C-FIND: yields each match as it arrives. Stopping the enumeration early, or cancelling, sends a C-CANCEL.
    /// A failure status throws <see cref="DicomStatusException"/>.
    /// </summary>
    /// <param name="sopClassUid">The information model; by default Patient Root for the PATIENT level, else Study Root.</param>
    /// <param name="options">What to ask beyond the identifier (fuzzy matching of names), and where to learn what the peer
    /// agreed to and whether it ignored a key.</param>
    public async IAsyncEnumerable<DicomDataset> FindAsync(
        DicomQueryRetrieveLevel level, DicomDataset query, string? sopClassUid = null, [EnumeratorCancellation] CancellationToken cancellationToken = default,
        DicomFindOptions? options = null)
    {
        sopClassUid ??= level == DicomQueryRetrieveLevel.Patient
            ? DicomUids.PatientRootQueryRetrieveInformationModelFind
            : DicomUids.StudyRootQueryRetrieveInformationModelFind;
        DicomExtendedNegotiation[] asked = options is { FuzzySemanticMatching: true } or { CombinedDateTimeMatching: true }
            ? [new(sopClassUid, QueryExtendedNegotiation.Ask(options.CombinedDateTimeMatching, options.FuzzySemanticMatching))]
            : [];
        var engine = await OpenAsync([new DicomPresentationContextProposal(1, sopClassUid, UncompressedSyntaxes)], [], null, cancellationToken, asked).ConfigureAwait(false);
        try
        {
            var context = RequireContext(engine, sopClassUid, "C-FIND");
            if (options is not null)
            {
                options.FuzzySemanticMatchingAgreed = engine.Association.FuzzySemanticMatching(sopClassUid);
                options.CombinedDateTimeMatchingAgreed = engine.Association.CombinedDateTimeMatching(sopClassUid);
            }

            var identifier = query.Clone();
            if (sopClassUid != DicomUids.ModalityWorklistInformationModelFind)
            {
                identifier.AddOrUpdate(DicomTag.QueryRetrieveLevel, DicomVR.CS, level.ToCode());
            }

            var command = DimseCommand.CreateRequest(DicomCommandField.CFindRequest, sopClassUid, engine.NextMessageId(), true, DicomPriority.Medium);
            var request = await engine.SendRequestAsync(context, command, identifier, null, cancellationToken).ConfigureAwait(false);
            var final = false;
            try
            {
                while (true)
                {
                    var response = await request.ReadAsync(cancellationToken).ConfigureAwait(false);
                    var status = response.Status;
                    if (status.IsPending)
                    {
                        if (status == DicomStatus.PendingWarning && options is not null)
                        {
                            options.OptionalKeysNotSupported = true;
                        }

                        if (response.DataSet is { } match)
                        {
                            yield return match;
                        }

                        continue;
                    }

                    final = true;
                    if (status.Category is not (DicomStatusCategory.Success or DicomStatusCategory.Cancel or DicomStatusCategory.Warning))
                    {
                        throw new DicomStatusException(status, response.Command.GetString(DicomTag.ErrorComment));
                    }

                    break;
                }
            }
            finally
            {
                if (!final)
                {
                    await CancelAsync(engine, request).ConfigureAwait(false);
                }
            }

            await engine.ReleaseAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await CloseAsync(engine).ConfigureAwait(false);
        }
    }

    /// <summary>C-MOVE: asks the peer to send the matching instances to <paramref name="destinationAE"/>; returns the final counts.</summary>
    public async Task<DicomRetrieveResult> MoveAsync(
        string destinationAE, DicomQueryRetrieveLevel level, DicomDataset query, string? sopClassUid = null,
        IProgress<DicomRetrieveResult>? progress = null, CancellationToken cancellationToken = default)
    {
        destinationAE = DicomAssociationOptions.ValidateAETitle(destinationAE, nameof(destinationAE));
        sopClassUid ??= level == DicomQueryRetrieveLevel.Patient
            ? DicomUids.PatientRootQueryRetrieveInformationModelMove
            : DicomUids.StudyRootQueryRetrieveInformationModelMove;
        var engine = await OpenAsync([new DicomPresentationContextProposal(1, sopClassUid, UncompressedSyntaxes)], [], null, cancellationToken).ConfigureAwait(false);
        try
        {
            var context = RequireContext(engine, sopClassUid, "C-MOVE");
            var command = DimseCommand.CreateRequest(DicomCommandField.CMoveRequest, sopClassUid, engine.NextMessageId(), true, DicomPriority.Medium);
            command.AddOrUpdate(DicomTag.MoveDestination, DicomVR.AE, destinationAE);
            var result = await RetrieveAsync(engine, context, command, level, query, progress, cancellationToken).ConfigureAwait(false);
            await engine.ReleaseAsync(cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            await CloseAsync(engine).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// C-GET: the peer sends the matching instances back on the same association, each handed to
    /// <paramref name="storeHandler"/>. The storage SOP classes proposed (with the SCP role) are
    /// <paramref name="storageSopClasses"/>, by default <see cref="DicomSopClasses.CommonStorage"/>, in
    /// <paramref name="transferSyntaxes"/>, by default explicit and implicit VR little endian and the common compressed
    /// syntaxes, lossless first. See <see cref="GetProposals"/> for how they are spread over presentation contexts.
    /// </summary>
    public async Task<DicomRetrieveResult> GetAsync(
        DicomQueryRetrieveLevel level, DicomDataset query, ICStoreProvider storeHandler, string? sopClassUid = null,
        IEnumerable<string>? storageSopClasses = null, IEnumerable<DicomTransferSyntax>? transferSyntaxes = null,
        IProgress<DicomRetrieveResult>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(storeHandler);
        sopClassUid ??= level == DicomQueryRetrieveLevel.Patient
            ? DicomUids.PatientRootQueryRetrieveInformationModelGet
            : DicomUids.StudyRootQueryRetrieveInformationModelGet;
        var (proposals, roles) = GetProposals(sopClassUid, storageSopClasses ?? DicomSopClasses.CommonStorage, transferSyntaxes ?? DefaultGetSyntaxes);
        var engine = await OpenAsync(proposals, roles, new StoreOnlyHandler(storeHandler), cancellationToken).ConfigureAwait(false);
        try
        {
            var context = RequireContext(engine, sopClassUid, "C-GET");
            var command = DimseCommand.CreateRequest(DicomCommandField.CGetRequest, sopClassUid, engine.NextMessageId(), true, DicomPriority.Medium);
            var result = await RetrieveAsync(engine, context, command, level, query, progress, cancellationToken).ConfigureAwait(false);
            await engine.ReleaseAsync(cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            await CloseAsync(engine).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The contexts of a C-GET: the query model's, then per storage SOP class (with the SCP role, PS3.4 C.4.3.1.2) one
    /// context of the native syntaxes, then the compressed ones over the contexts left: each of the first in a context of
    /// its own, the rest together in the last (with many SOP classes, all in one; the peer then chooses one of them).
    /// A peer that picks the context matching an instance's syntax (as this library does) sends it as it stores it; the
    /// native context comes first because others (DCMTK's dcmqrscp) send every instance of a SOP class on its first
    /// accepted context, converting it there if they can.
    /// </summary>
    internal static (List<DicomPresentationContextProposal> Contexts, List<DicomRoleSelection> Roles) GetProposals(
        string sopClassUid, IEnumerable<string> storageSopClasses, IEnumerable<DicomTransferSyntax> transferSyntaxes)
    {
        var syntaxes = transferSyntaxes.DistinctBy(s => s.Uid).ToList();
        var native = syntaxes.Where(s => s.IsNative).Select(s => s.Uid).ToArray();
        var compressed = syntaxes.Where(s => !s.IsNative).Select(s => s.Uid).ToArray();
        var classes = storageSopClasses.Distinct().ToList();
        var perClass = Math.Max(1, (StorePlan.MaxContexts - 1) / Math.Max(1, classes.Count));
        var groups = new List<string[]>();
        if (native.Length > 0)
        {
            groups.Add(native);
        }

        var compressedContexts = Math.Min(compressed.Length, perClass - groups.Count);

        for (var i = 0; i < compressedContexts; i++)
        {
            groups.Add(i < compressedContexts - 1 ? [compressed[i]] : compressed[i..]);
        }

        var proposals = new List<DicomPresentationContextProposal> { new(1, sopClassUid, UncompressedSyntaxes) };
        var roles = new List<DicomRoleSelection>();
        foreach (var storage in classes.Take((StorePlan.MaxContexts - 1) / Math.Max(1, groups.Count)))
        {
            foreach (var group in groups)
            {
                proposals.Add(new DicomPresentationContextProposal((byte)((proposals.Count * 2) + 1), storage, group));
            }

            roles.Add(new DicomRoleSelection(storage, ScuRole: false, ScpRole: true));
        }

        return (proposals, roles);
    }

    private async Task<DicomRetrieveResult> RetrieveAsync(
        DimseEngine engine, DicomNegotiatedContext context, DicomDataset command, DicomQueryRetrieveLevel level, DicomDataset query,
        IProgress<DicomRetrieveResult>? progress, CancellationToken cancellationToken)
    {
        var identifier = query.Clone();
        identifier.AddOrUpdate(DicomTag.QueryRetrieveLevel, DicomVR.CS, level.ToCode());
        var request = await engine.SendRequestAsync(context, command, identifier, null, cancellationToken).ConfigureAwait(false);
        var final = false;
        try
        {
            while (true)
            {
                var response = await request.ReadAsync(cancellationToken).ConfigureAwait(false);
                var result = ToResult(response);
                if (result.Status.IsPending)
                {
                    progress?.Report(result);
                    continue;
                }

                final = true;
                return result;
            }
        }
        finally
        {
            if (!final)
            {
                await CancelAsync(engine, request).ConfigureAwait(false);
            }
        }
    }

    internal static DicomRetrieveResult ToResult(DimseResponse response)
    {
        var command = response.Command;
        var failed = response.DataSet?.GetStrings(DicomTag.FailedSOPInstanceUIDList) ?? [];
        return new DicomRetrieveResult(
            response.Status,
            command.GetValueOrDefault<ushort>(DicomTag.NumberOfRemainingSuboperations) ?? 0,
            command.GetValueOrDefault<ushort>(DicomTag.NumberOfCompletedSuboperations) ?? 0,
            command.GetValueOrDefault<ushort>(DicomTag.NumberOfFailedSuboperations) ?? 0,
            command.GetValueOrDefault<ushort>(DicomTag.NumberOfWarningSuboperations) ?? 0,
            failed);
    }

    /// <summary>C-CANCEL, then the responses up to the final one within the DIMSE timeout; else the association is aborted.</summary>
    private static async ValueTask CancelAsync(DimseEngine engine, DimsePendingRequest request)
    {
        if (!engine.IsOpen)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(PduChannel.IsFinite(engine.Options.DimseTimeout) ? engine.Options.DimseTimeout : TimeSpan.FromMinutes(1));
        try
        {
            await engine.SendMessageAsync(request.Context, DimseCommand.CreateCancel(request.MessageId), null, null, timeout.Token).ConfigureAwait(false);
            while (!(await request.ReadAsync(timeout.Token).ConfigureAwait(false)).Status.IsFinal)
            {
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or DicomNetworkException)
        {
            await engine.AbortAsync(DicomAbortSource.ServiceUser, DicomAbortReason.NotSpecified, ex).ConfigureAwait(false);
        }
    }

    private static DicomNegotiatedContext RequireContext(DimseEngine engine, string sopClassUid, string service) =>
        engine.Association.FindContextForSending(sopClassUid)
        ?? throw new DicomNetworkException($"{engine.Association.CalledAE} accepted no presentation context for {service} ({sopClassUid})");

    /// <summary>Connects, negotiates and starts the DIMSE engine.</summary>
    internal async Task<DimseEngine> OpenAsync(
        IReadOnlyList<DicomPresentationContextProposal> contexts, IReadOnlyList<DicomRoleSelection> roles, IDimseRequestHandler? handler, CancellationToken cancellationToken,
        IReadOnlyList<DicomExtendedNegotiation>? extendedNegotiations = null)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        PduChannel? channel = null;
        try
        {
            using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                if (PduChannel.IsFinite(Options.ConnectTimeout))
                {
                    connect.CancelAfter(Options.ConnectTimeout);
                }

                try
                {
                    await socket.ConnectAsync(Host, Port, connect.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new DicomNetworkTimeoutException(nameof(Options.ConnectTimeout), Options.ConnectTimeout, $"a TCP connection to {Host}:{Port}");
                }
                catch (SocketException ex)
                {
                    throw new DicomNetworkException($"Cannot connect to {Host}:{Port}: {ex.Message}", ex);
                }
            }

            var transport = tls is null ? null : await DicomTlsClient.AuthenticateAsync(socket, tls, Host, Port, cancellationToken).ConfigureAwait(false);
            channel = new PduChannel(socket, transport, Options);
            var request = new DicomAssociationRequest
            {
                CalledAE = CalledAE,
                CallingAE = CallingAE,
                UserInformation = new DicomUserInformation
                {
                    MaxPduLength = Options.MaxPduLength,
                    ImplementationClassUid = Options.ImplementationClassUid,
                    ImplementationVersionName = Options.ImplementationVersionName,
                    AsynchronousOperationsWindow = Options.MaxAsyncOperations > 1 ? ((ushort)Options.MaxAsyncOperations, (ushort)Options.MaxAsyncOperations) : null,
                },
            };
            request.PresentationContexts.AddRange(contexts);
            request.UserInformation.RoleSelections.AddRange(roles);
            request.UserInformation.ExtendedNegotiations.AddRange(extendedNegotiations ?? []);
            using (var buffer = new PooledBufferStream(4096))
            {
                PduCodec.WriteAssociateRequest(buffer, request);
                await channel.WriteAsync(buffer.WrittenMemory, Options.ArtimTimeout).ConfigureAwait(false);
            }

            using var registration = cancellationToken.Register(static state => ((PduChannel)state!).Close(), channel);
            var pdu = await channel.ReadPduAsync(Options.ArtimTimeout, nameof(Options.ArtimTimeout), "the A-ASSOCIATE-AC").ConfigureAwait(false);
            switch (pdu.Type)
            {
                case DicomPduType.AssociateAccept:
                    var accept = PduCodec.ReadAssociateAccept(pdu.Body.Span, Options.PduLimits);
                    var info = DicomNegotiation.FromAccept(request, accept, channel.RemoteEndPoint);
                    var engine = new DimseEngine(channel, info, handler, Log);
                    engine.Start();
                    return engine;
                case DicomPduType.AssociateReject:
                    throw new DicomAssociationRejectedException(PduCodec.ReadAssociateReject(pdu.Body.Span));
                case DicomPduType.Abort:
                    var abort = PduCodec.ReadAbort(pdu.Body.Span);
                    throw new DicomAssociationAbortedException(abort.Source, abort.Reason);
                default:
                    throw new DicomNetworkException($"Unexpected {PduChannel.Name((byte)pdu.Type)} PDU in answer to the A-ASSOCIATE-RQ", DicomAbortReason.UnexpectedPdu);
            }
        }
        catch (Exception ex)
        {
            if (channel is null)
            {
                socket.Dispose();
            }
            else
            {
                if (ex is DicomNetworkException { } network and not (DicomAssociationRejectedException or DicomAssociationAbortedException))
                {
                    var abort = new byte[10];
                    abort[0] = (byte)DicomPduType.Abort;
                    abort[5] = 4;
                    abort[8] = (byte)DicomAbortSource.ServiceProvider;
                    abort[9] = (byte)network.AbortReason;
                    await channel.TryWriteAsync(abort, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                    await channel.CloseGracefullyAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                }

                channel.Dispose();
            }

            cancellationToken.ThrowIfCancellationRequested();
            throw;
        }
    }

    /// <summary>Aborts an association that is still open (after a failure or cancellation) and waits for it to end.</summary>
    private static async ValueTask CloseAsync(DimseEngine engine)
    {
        if (engine.IsOpen)
        {
            await engine.AbortAsync(DicomAbortSource.ServiceUser, DicomAbortReason.NotSpecified, null).ConfigureAwait(false);
        }

        try
        {
            await engine.Completion.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }
}

/// <summary>A C-FIND's requests beyond its identifier, and what the peer said of them (filled in while the matches arrive).</summary>
public sealed class DicomFindOptions
{
    /// <summary>Propose fuzzy semantic matching of person names (negotiated as PS3.4 C.5.1.1 says), which the peer may refuse.</summary>
    public bool FuzzySemanticMatching { get; init; }

    /// <summary>Once associated: whether the peer agreed to fuzzy semantic matching.</summary>
    public bool FuzzySemanticMatchingAgreed { get; internal set; }

    /// <summary>Propose combined date-time matching: a date range and its time key as one date-time range.</summary>
    public bool CombinedDateTimeMatching { get; init; }

    /// <summary>Once associated: whether the peer agreed to combined date-time matching.</summary>
    public bool CombinedDateTimeMatchingAgreed { get; internal set; }

    /// <summary>Whether the peer answered 0xFF01: it did not match on some of the query's keys (PS3.4 C.4.1.1.4), so the
    /// matches may include what those keys would exclude.</summary>
    public bool OptionalKeysNotSupported { get; internal set; }
}
