// The DIMSE message exchange over an established association (PS3.7 §9.3 and Annex E; PS3.8 §9.3.5 P-DATA-TF,
// §9.3.6-§9.3.8 release and abort, §9.2 state machine). One reader loop receives PDUs and assembles messages:
// responses go to the request awaiting them, C-CANCEL to the operation it names, requests to the handler. Sends of
// whole messages are serialised; a message is never interleaved with another (PS3.7 §9.3.1 fragments of one message).
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Hounsfield.Network.Association;
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network.Dimse;

/// <summary>One PDV as read (the payload is valid until the next read), or a release PDU between messages.</summary>
internal readonly record struct PdvEvent(PdvEventKind Kind, byte ContextId, bool IsCommand, bool IsLast, ReadOnlyMemory<byte> Payload);

internal enum PdvEventKind
{
    Fragment,
    ReleaseRequest,
    ReleaseResponse,
}

/// <summary>A request or response received: its command set and, when one follows, its data set as a stream.</summary>
internal sealed record DimseIncomingMessage(DicomDataset Command, ushort Field, DicomNegotiatedContext Context, DimseDataStream? Data);

/// <summary>A response received for a request this side sent.</summary>
internal sealed record DimseResponse(DicomDataset Command, DicomDataset? DataSet)
{
    public DicomStatus Status => DimseCommand.GetStatus(Command);
}

/// <summary>Handles requests arriving on the association (on the reader loop; long operations go to <see cref="DimseEngine.RunOperation"/>).</summary>
internal interface IDimseRequestHandler
{
    ValueTask HandleRequestAsync(DimseEngine engine, DimseIncomingMessage message);
}

/// <summary>A request sent and the responses arriving for it.</summary>
internal sealed class DimsePendingRequest(ushort messageId, DicomNegotiatedContext context)
{
    internal readonly Channel<DimseResponse> Responses = Channel.CreateUnbounded<DimseResponse>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    public ushort MessageId { get; } = messageId;

    public DicomNegotiatedContext Context { get; } = context;

    /// <summary>The next response; the association's failure if it ends first.</summary>
    public async ValueTask<DimseResponse> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await Responses.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException ex)
        {
            if (ex.InnerException is { } inner)
            {
                ExceptionDispatchInfo.Throw(inner);
            }

            throw new DicomNetworkException($"The association ended before the response to message {MessageId}", ex);
        }
    }
}

internal sealed class DimseEngine
{
    private readonly PduChannel channel;
    private readonly DicomAssociationOptions options;
    private readonly IDimseRequestHandler? handler;
    private readonly Action<string>? log;
    private readonly SemaphoreSlim sendLock = new(1, 1);
    private readonly PDataWriter writer;
    private readonly PooledBufferStream commandBuffer = new(1024);
    private readonly PooledBufferStream encodeBuffer = new(1024);
    private readonly ConcurrentDictionary<ushort, DimsePendingRequest> pending = new();
    private readonly ConcurrentDictionary<ushort, (CancellationTokenSource Cancel, Task Task)> operations = new();
    private readonly ConcurrentDictionary<Task, bool> overlappedOperations = new();
    private SemaphoreSlim? overlapSlots;
    private readonly TaskCompletionSource<Exception?> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ReadOnlyMemory<byte> pduBody;
    private int pduPosition;
    private int pendingCount;
    private int nextMessageId;
    private int abortSent;
    private volatile bool releaseRequested;
    private volatile bool shuttingDown;
    private Exception? shutdownReason;

    public DimseEngine(PduChannel channel, DicomAssociationInfo association, IDimseRequestHandler? handler, Action<string>? log)
    {
        this.channel = channel;
        options = channel.Options;
        Association = association;
        this.handler = handler;
        this.log = log;
        writer = new PDataWriter(channel, association.PeerMaxPduLength, options.MaxSendPduLength, options.DimseTimeout);
    }

    public DicomAssociationInfo Association { get; }

    public DicomAssociationOptions Options => options;

    /// <summary>Cancelled when the association ends.</summary>
    public CancellationToken Lifetime => channel.Lifetime;

    /// <summary>Completes when the association has ended: null after a release, else the failure that ended it.</summary>
    public Task<Exception?> Completion => completion.Task;

    public bool IsOpen => !shuttingDown && !channel.IsClosed;

    public void Start() => _ = Task.Run(ReadLoopAsync);

    public ushort NextMessageId()
    {
        while (true)
        {
            var id = (ushort)Interlocked.Increment(ref nextMessageId);
            if (id != 0 && !pending.ContainsKey(id))
            {
                return id;
            }
        }
    }

    // ---- sending ----

    /// <summary>Sends a request and registers for its responses (Message ID taken from the command).</summary>
    public async ValueTask<DimsePendingRequest> SendRequestAsync(
        DicomNegotiatedContext context, DicomDataset command, DicomDataset? dataset, Func<PDataWriter, ValueTask>? writeData, CancellationToken cancellationToken)
    {
        var id = DimseCommand.GetMessageId(command);
        var request = new DimsePendingRequest(id, context);
        if (!pending.TryAdd(id, request))
        {
            throw new InvalidOperationException($"Message ID {id} is already awaiting a response.");
        }

        Interlocked.Increment(ref pendingCount);
        if (shuttingDown)
        {
            Complete(request, shutdownReason);
        }

        try
        {
            await SendMessageAsync(context, command, dataset, writeData, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (pending.TryRemove(id, out _))
            {
                Interlocked.Decrement(ref pendingCount);
            }

            throw;
        }

        return request;
    }

    public ValueTask SendResponseAsync(DicomNegotiatedContext context, DicomDataset command, DicomDataset? dataset = null, CancellationToken cancellationToken = default) =>
        SendMessageAsync(context, command, dataset, null, cancellationToken);

    /// <summary>Sends one message: the command set, then the data set (encoded, or written by <paramref name="writeData"/>).</summary>
    public async ValueTask SendMessageAsync(
        DicomNegotiatedContext context, DicomDataset command, DicomDataset? dataset, Func<PDataWriter, ValueTask>? writeData, CancellationToken cancellationToken)
    {
        await sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        var started = false;
        Exception? failure = null;
        try
        {
            if (!IsOpen)
            {
                throw new DicomNetworkException("The association has ended", shutdownReason);
            }

            // Both parts are encoded before anything is sent, so that an encoding failure leaves the association usable.
            encodeBuffer.Reset();
            DimseCommand.Encode(command, encodeBuffer);
            var commandLength = encodeBuffer.Count;
            if (dataset is not null)
            {
                DicomWriter.WriteDataSet(encodeBuffer, dataset, context.TransferSyntax!);
            }

            started = true;
            writer.Begin(context.Id, isCommand: true);
            await writer.WriteAsync(encodeBuffer.WrittenMemory[..commandLength], CancellationToken.None).ConfigureAwait(false);
            await writer.CompleteAsync().ConfigureAwait(false);
            if (dataset is not null)
            {
                writer.Begin(context.Id, isCommand: false);
                await writer.WriteAsync(encodeBuffer.WrittenMemory[commandLength..], CancellationToken.None).ConfigureAwait(false);
                await writer.CompleteAsync().ConfigureAwait(false);
            }
            else if (writeData is not null)
            {
                writer.Begin(context.Id, isCommand: false);
                await writeData(writer).ConfigureAwait(false);
                await writer.CompleteAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (started)
        {
            failure = ex;
            throw;
        }
        finally
        {
            sendLock.Release();

            // Part of a message went out: the peer's reassembly cannot recover, so the association is aborted.
            if (failure is not null)
            {
                await AbortAsync(DicomAbortSource.ServiceUser, DicomAbortReason.NotSpecified, failure).ConfigureAwait(false);
            }
        }
    }

    // ---- operations performed for the peer (C-FIND, C-MOVE, C-GET as SCP) ----

    /// <summary>Runs an operation off the reader loop so that a C-CANCEL naming <paramref name="messageId"/> can reach it.</summary>
    public void RunOperation(ushort messageId, Func<CancellationToken, Task> operation)
    {
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(Lifetime);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var task = Task.Run(async () =>
        {
            await started.Task.ConfigureAwait(false);
            try
            {
                await operation(cancel.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                log?.Invoke($"Operation {messageId} on {Association} failed: {ex.Message}");
                await AbortAsync(DicomAbortSource.ServiceProvider, DicomAbortReason.NotSpecified, ex).ConfigureAwait(false);
            }
            finally
            {
                operations.TryRemove(messageId, out _);
                cancel.Dispose();
            }
        });
        if (!operations.TryAdd(messageId, (cancel, task)))
        {
            log?.Invoke($"Message ID {messageId} reused while its operation runs on {Association}");
        }

        started.SetResult();
    }

    /// <summary>
    /// Performs a request whose data set is being received (C-STORE) within the negotiated asynchronous operations window:
    /// returns to the reader loop once the data set has been read in full, so that the next requests arrive while
    /// <paramref name="perform"/> finishes (the provider's commit, then the response). Waits for a free slot first.
    /// </summary>
    internal async ValueTask PerformOverlappedAsync(DimseDataStream data, Func<Task> perform)
    {
        overlapSlots ??= new SemaphoreSlim(Association.PeerOperationsWindow);
        await overlapSlots.WaitAsync(Lifetime).ConfigureAwait(false);
        var operation = Task.Run(async () =>
        {
            try
            {
                await perform().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                log?.Invoke($"An overlapped operation on {Association} failed: {ex.Message}");
                await AbortAsync(DicomAbortSource.ServiceProvider, DicomAbortReason.NotSpecified, ex).ConfigureAwait(false);
            }
        });
        overlappedOperations.TryAdd(operation, true);
        _ = operation.ContinueWith(
            static (done, state) =>
            {
                var engine = (DimseEngine)state!;
                engine.overlappedOperations.TryRemove(done, out _);
                engine.overlapSlots!.Release();
            },
            this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        await Task.WhenAny(operation, data.EndReached).ConfigureAwait(false);
    }

    /// <summary>Waits for overlapped operations to finish (each sends its own response, or fails on its own).</summary>
    private Task OverlappedOperationsDone() => Task.WhenAll(overlappedOperations.Keys);

    // ---- release and abort ----

    /// <summary>Releases the association (A-RELEASE-RQ, then the A-RELEASE-RP within the ARTIM timeout).</summary>
    public async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        if (!IsOpen)
        {
            return;
        }

        releaseRequested = true;
        await sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            encodeBuffer.Reset();
            PduCodec.WriteReleaseRequest(encodeBuffer);
            await channel.WriteAsync(encodeBuffer.WrittenMemory, options.ArtimTimeout).ConfigureAwait(false);
        }
        finally
        {
            sendLock.Release();
        }

        try
        {
            await completion.Task.WaitAsync(options.ArtimTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await AbortAsync(DicomAbortSource.ServiceUser, DicomAbortReason.NotSpecified, null).ConfigureAwait(false);
            throw new DicomNetworkTimeoutException("ArtimTimeout", options.ArtimTimeout, "the A-RELEASE-RP");
        }
    }

    /// <summary>Aborts the association: an A-ABORT when the connection can take one, then the connection closes.</summary>
    public ValueTask AbortAsync(DicomAbortSource source, DicomAbortReason reason, Exception? cause) => AbortAsync(source, reason, cause, close: true);

    private async ValueTask AbortAsync(DicomAbortSource source, DicomAbortReason reason, Exception? cause, bool close)
    {
        shutdownReason ??= cause ?? new DicomNetworkException("The association was aborted by this side");
        if (Interlocked.Exchange(ref abortSent, 1) == 0 && !channel.IsClosed)
        {
            // Only between PDUs: an A-ABORT inside a half-written P-DATA-TF would be read as part of it.
            if (await sendLock.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false))
            {
                try
                {
                    var bytes = new byte[10];
                    bytes[0] = (byte)DicomPduType.Abort;
                    BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(2), 4);
                    bytes[8] = (byte)source;
                    bytes[9] = (byte)reason;
                    await channel.TryWriteAsync(bytes, options.ArtimTimeout).ConfigureAwait(false);
                }
                finally
                {
                    sendLock.Release();
                }
            }
        }

        if (close)
        {
            channel.Close();
        }
    }

    // ---- receiving ----

    /// <summary>The next data fragment of the message being received on <paramref name="contextId"/>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal async ValueTask<PdvEvent> ReadDataFragmentAsync(byte contextId)
    {
        var pdv = await NextPdvAsync(midMessage: true).ConfigureAwait(false);
        if (pdv.Kind != PdvEventKind.Fragment)
        {
            throw Unexpected("An A-RELEASE PDU arrived before the data set was complete");
        }

        if (pdv.IsCommand)
        {
            throw Unexpected("A command fragment arrived inside a data set");
        }

        if (pdv.ContextId != contextId)
        {
            throw Unexpected($"A data fragment on presentation context {pdv.ContextId} interrupts a data set on context {contextId}");
        }

        return pdv;
    }

    /// <summary>Reads a whole data set into memory (identifiers, query responses), within <see cref="DicomAssociationOptions.MaxDataSetLength"/>.</summary>
    public async ValueTask<DicomDataset> ReadDataSetAsync(DimseDataStream data, DicomTransferSyntax syntax)
    {
        using var buffer = new PooledBufferStream(4096);
        while (true)
        {
            var n = await data.ReadAsync(buffer.GetMemory(16 * 1024)).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            buffer.Advance(n);
            if (buffer.Count > options.MaxDataSetLength)
            {
                throw new DicomNetworkLimitException(nameof(options.MaxDataSetLength), options.MaxDataSetLength, buffer.Count, "Length of a data set held in memory");
            }
        }

        return DicomReader.ReadDataSet(buffer.ToArray(), syntax, options.ReadOptions);
    }

    private async Task ReadLoopAsync()
    {
        Exception? failure = null;
        try
        {
            while (true)
            {
                var (kind, message) = await ReceiveMessageAsync().ConfigureAwait(false);
                if (kind == PdvEventKind.ReleaseRequest)
                {
                    await AnswerReleaseAsync().ConfigureAwait(false);
                    return;
                }

                if (kind == PdvEventKind.ReleaseResponse)
                {
                    if (releaseRequested)
                    {
                        return;
                    }

                    throw Unexpected("An A-RELEASE-RP arrived without a release request");
                }

                await DispatchAsync(message!).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        finally
        {
            await ShutdownAsync(failure).ConfigureAwait(false);
        }
    }

    private async ValueTask DispatchAsync(DimseIncomingMessage message)
    {
        if (DimseCommand.IsResponse(message.Field))
        {
            DicomDataset? dataset = null;
            if (message.Data is { } data)
            {
                try
                {
                    dataset = await ReadDataSetAsync(data, message.Context.TransferSyntax!).ConfigureAwait(false);
                }
                catch (DicomFormatException ex)
                {
                    throw new DicomNetworkException($"Unreadable data set in a response: {ex.Message}", DicomAbortReason.InvalidPduParameterValue, ex);
                }
            }

            var id = DimseCommand.GetMessageIdBeingRespondedTo(message.Command);
            if (pending.TryGetValue(id, out var request))
            {
                var response = new DimseResponse(message.Command, dataset);
                request.Responses.Writer.TryWrite(response);
                if (response.Status.IsFinal && pending.TryRemove(id, out _))
                {
                    Interlocked.Decrement(ref pendingCount);
                    request.Responses.Writer.TryComplete();
                }
            }
            else
            {
                log?.Invoke($"A response to unknown message {id} on {Association} was ignored");
            }

            return;
        }

        if (message.Field == (ushort)DicomCommandField.CCancelRequest)
        {
            var id = DimseCommand.GetMessageIdBeingRespondedTo(message.Command);
            if (operations.TryGetValue(id, out var operation))
            {
                try
                {
                    operation.Cancel.Cancel();
                }
                catch (ObjectDisposedException)
                {
                }
            }

            return;
        }

        try
        {
            if (handler is null || !Association.CanReceiveRequests(message.Context))
            {
                if (message.Data is { } data)
                {
                    await data.DrainAsync().ConfigureAwait(false);
                }

                var status = handler is null ? DicomStatus.UnrecognizedOperation : DicomStatus.SopClassNotSupported;
                await SendResponseAsync(message.Context, DimseCommand.CreateResponse(message.Command, status, false, "This side does not perform that operation here"))
                    .ConfigureAwait(false);
                return;
            }

            await handler.HandleRequestAsync(this, message).ConfigureAwait(false);
        }
        finally
        {
            if (message.Data is { } data)
            {
                if (data.Fault is { } fault)
                {
                    ExceptionDispatchInfo.Throw(fault);
                }

                await data.DrainAsync().ConfigureAwait(false);
                data.Detach();
            }
        }
    }

    private async ValueTask<(PdvEventKind Kind, DimseIncomingMessage? Message)> ReceiveMessageAsync()
    {
        commandBuffer.Reset();
        DicomNegotiatedContext? context = null;
        while (true)
        {
            var pdv = await NextPdvAsync(midMessage: context is not null).ConfigureAwait(false);
            if (pdv.Kind != PdvEventKind.Fragment)
            {
                if (context is null)
                {
                    return (pdv.Kind, null);
                }

                throw Unexpected("An A-RELEASE PDU arrived in the middle of a command");
            }

            if (!pdv.IsCommand)
            {
                throw Unexpected("A data set fragment arrived where a command was expected");
            }

            if (context is null)
            {
                context = Association.GetContext(pdv.ContextId);
                if (context is not { IsAccepted: true })
                {
                    throw new DicomNetworkException($"A PDV uses presentation context {pdv.ContextId}, which was not accepted", DicomAbortReason.InvalidPduParameterValue);
                }
            }
            else if (pdv.ContextId != context.Id)
            {
                throw Unexpected($"A command fragment on presentation context {pdv.ContextId} interrupts a command on context {context.Id}");
            }

            if (commandBuffer.Count + pdv.Payload.Length > options.MaxCommandLength)
            {
                throw new DicomNetworkLimitException(nameof(options.MaxCommandLength), options.MaxCommandLength, commandBuffer.Count + (long)pdv.Payload.Length, "Length of a command set");
            }

            commandBuffer.Write(pdv.Payload.Span);
            if (pdv.IsLast)
            {
                break;
            }
        }

        // The command keeps its own copy: operations outlive the receive buffer.
        var command = DimseCommand.Decode(commandBuffer.ToArray());
        var field = DimseCommand.GetField(command);
        var data = DimseCommand.HasDataSet(command) ? new DimseDataStream(this, context.Id) : null;
        return (PdvEventKind.Fragment, new DimseIncomingMessage(command, field, context, data));
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<PdvEvent> NextPdvAsync(bool midMessage)
    {
        while (pduPosition >= pduBody.Length)
        {
            var waiting = midMessage || Volatile.Read(ref pendingCount) > 0;
            var pdu = await channel.ReadPduAsync(
                waiting ? options.DimseTimeout : options.IdleTimeout,
                waiting ? nameof(options.DimseTimeout) : nameof(options.IdleTimeout),
                midMessage ? "the rest of a DIMSE message" : waiting ? "a DIMSE response" : "the next DIMSE message").ConfigureAwait(false);
            switch (pdu.Type)
            {
                case DicomPduType.PData:
                    pduBody = pdu.Body;
                    pduPosition = 0;
                    break;
                case DicomPduType.ReleaseRequest:
                    return new PdvEvent(PdvEventKind.ReleaseRequest, 0, false, false, default);
                case DicomPduType.ReleaseResponse:
                    return new PdvEvent(PdvEventKind.ReleaseResponse, 0, false, false, default);
                case DicomPduType.Abort:
                    var abort = PduCodec.ReadAbort(pdu.Body.Span);
                    throw new DicomAssociationAbortedException(abort.Source, abort.Reason);
                default:
                    throw new DicomNetworkException($"Unexpected {PduChannel.Name((byte)pdu.Type)} PDU on an established association", DicomAbortReason.UnexpectedPdu);
            }
        }

        var span = pduBody.Span[pduPosition..];
        if (span.Length < 6)
        {
            throw new DicomNetworkException($"{span.Length} bytes at the end of a P-DATA-TF PDU are too few for a PDV", DicomAbortReason.InvalidPduParameterValue);
        }

        var itemLength = BinaryPrimitives.ReadUInt32BigEndian(span);
        if (itemLength < 2 || itemLength > span.Length - 4)
        {
            throw new DicomNetworkException($"A PDV declares length {itemLength} but {span.Length - 4} bytes remain in its P-DATA-TF PDU", DicomAbortReason.InvalidPduParameterValue);
        }

        var header = span[5];
        var pdv = new PdvEvent(PdvEventKind.Fragment, span[4], (header & 0x01) != 0, (header & 0x02) != 0, pduBody.Slice(pduPosition + 6, (int)itemLength - 2));
        pduPosition += 4 + (int)itemLength;
        return pdv;
    }

    private async ValueTask AnswerReleaseAsync()
    {
        await OverlappedOperationsDone().ConfigureAwait(false);
        await StopOperationsAsync().ConfigureAwait(false);
        await sendLock.WaitAsync(options.ArtimTimeout).ConfigureAwait(false);
        try
        {
            encodeBuffer.Reset();
            PduCodec.WriteReleaseResponse(encodeBuffer);
            await channel.WriteAsync(encodeBuffer.WrittenMemory, options.ArtimTimeout).ConfigureAwait(false);
        }
        finally
        {
            sendLock.Release();
        }

        // PS3.8 §9.2 (AR-4): after the A-RELEASE-RP the requestor closes the connection; ARTIM bounds the wait.
        if (!Association.IsRequestor)
        {
            await channel.WaitForPeerCloseAsync(options.ArtimTimeout).ConfigureAwait(false);
        }
    }

    private async ValueTask ShutdownAsync(Exception? failure)
    {
        shuttingDown = true;
        shutdownReason ??= failure;
        if (failure is not null)
        {
            log?.Invoke($"Association {Association} ended: {failure.Message}");
        }

        if (failure is not null and not DicomAssociationAbortedException && !channel.IsClosed)
        {
            // A protocol violation, an exceeded limit, a timeout, or a fault of this side: the peer learns of it by an A-ABORT.
            var abortReason = (failure as DicomNetworkException)?.AbortReason ?? DicomAbortReason.NotSpecified;
            var source = failure is DicomNetworkException && abortReason != DicomAbortReason.NotSpecified
                ? DicomAbortSource.ServiceProvider
                : DicomAbortSource.ServiceUser;
            await AbortAsync(source, abortReason, failure, close: false).ConfigureAwait(false);
            await channel.CloseGracefullyAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
        else
        {
            channel.Close();
        }

        // Requests still awaiting a response learn why the association ended: its first cause (this side's abort after a
        // failed send, say), as a network failure.
        var reason = (shutdownReason ?? failure) switch
        {
            null => new DicomNetworkException("The association was released"),
            DicomNetworkException network => network,
            var cause => new DicomNetworkException($"The association ended: {cause.Message}", cause),
        };
        foreach (var request in pending.Values)
        {
            Complete(request, reason);
        }

        await StopOperationsAsync().ConfigureAwait(false);
        await OverlappedOperationsDone().ConfigureAwait(false);

        // Pooled buffers go back only when no send can be using them.
        if (await sendLock.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false))
        {
            writer.ReleaseBuffer();
            encodeBuffer.Dispose();
        }

        commandBuffer.Dispose();
        channel.Dispose();
        completion.TrySetResult(failure);
    }

    private async ValueTask StopOperationsAsync()
    {
        var tasks = new List<Task>();
        foreach (var (_, operation) in operations)
        {
            try
            {
                operation.Cancel.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }

            tasks.Add(operation.Task);
        }

        if (tasks.Count > 0)
        {
            try
            {
                await Task.WhenAll(tasks).WaitAsync(options.ArtimTimeout).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or DicomNetworkException)
            {
            }
        }
    }

    private void Complete(DimsePendingRequest request, Exception? reason)
    {
        if (pending.TryRemove(request.MessageId, out _))
        {
            Interlocked.Decrement(ref pendingCount);
        }

        request.Responses.Writer.TryComplete(reason ?? new DicomNetworkException("The association has ended"));
    }

    private static DicomNetworkException Unexpected(string message) => new(message, DicomAbortReason.UnexpectedPduParameter);
}
