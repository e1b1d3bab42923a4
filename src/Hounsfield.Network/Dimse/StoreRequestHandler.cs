// The C-STORE performer (PS3.7 §9.1.1.1, §9.3.1): hand the data set stream to the provider, then answer with its
// status once every fragment has arrived. A provider failure is a failure status; a failure of the association while
// the data set streams is not answered at all (the association is gone and the instance must not be kept).
namespace Hounsfield.Network.Dimse;

internal static class StoreRequestHandler
{
    /// <summary>
    /// Performs the request; when the peer negotiated an asynchronous operations window, this returns as soon as the data
    /// set has arrived and the commit and the response follow while the next requests are received.
    /// </summary>
    public static ValueTask HandleAsync(DimseEngine engine, DimseIncomingMessage message, ICStoreProvider? provider) =>
        message.Data is { } data && provider is not null && engine.Association.PeerOperationsWindow > 1
            ? engine.PerformOverlappedAsync(data, () => PerformAsync(engine, message, provider).AsTask())
            : PerformAsync(engine, message, provider);

    private static async ValueTask PerformAsync(DimseEngine engine, DimseIncomingMessage message, ICStoreProvider? provider)
    {
        DicomStatus status;
        string? comment = null;
        if (message.Data is not { } data)
        {
            status = DicomStatus.UnableToProcess;
            comment = "C-STORE-RQ without a data set";
        }
        else if (provider is null)
        {
            await data.DrainAsync().ConfigureAwait(false);
            status = DicomStatus.SopClassNotSupported;
            comment = "This side does not store instances";
        }
        else
        {
            var request = new DicomStoreRequest(engine.Association, message.Command, message.Context.TransferSyntax!, data, engine.Options.ReadOptions);
            try
            {
                status = await provider.StoreAsync(request, engine.Lifetime).ConfigureAwait(false);
            }
            catch (Exception ex) when (data.Fault is null && !engine.Lifetime.IsCancellationRequested)
            {
                (status, comment) = ex is DicomStatusException failure
                    ? (failure.Status, failure.Comment)
                    : (DicomStatus.ProcessingFailure, ex.Message);
            }

            if (data.Fault is { } fault)
            {
                // The provider saw the association fail and answered anyway: there is nobody to answer.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(fault);
            }

            await data.DrainAsync().ConfigureAwait(false);
        }

        try
        {
            await engine.SendResponseAsync(message.Context, DimseCommand.CreateResponse(message.Command, status, false, comment)).ConfigureAwait(false);
        }
        finally
        {
            if (provider is not null)
            {
                await provider.AfterResponseAsync().ConfigureAwait(false);
            }
        }
    }
}

/// <summary>Answers only C-STORE requests: the SCU side of a C-GET, receiving its sub-operations.</summary>
internal sealed class StoreOnlyHandler(ICStoreProvider provider) : IDimseRequestHandler
{
    public async ValueTask HandleRequestAsync(DimseEngine engine, DimseIncomingMessage message)
    {
        if (message.Field == (ushort)DicomCommandField.CStoreRequest)
        {
            await StoreRequestHandler.HandleAsync(engine, message, provider).ConfigureAwait(false);
            return;
        }

        if (message.Data is { } data)
        {
            if (data.Fault is { } fault)
            {
                // The provider saw the association fail and answered anyway: there is nobody to answer.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(fault);
            }

            await data.DrainAsync().ConfigureAwait(false);
        }

        await engine.SendResponseAsync(message.Context, DimseCommand.CreateResponse(message.Command, DicomStatus.UnrecognizedOperation, false)).ConfigureAwait(false);
    }
}
