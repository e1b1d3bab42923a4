// The DIMSE operations behind the nodes API, as an SCU towards the node (PS3.4 Annex A verification, Annex B storage,
// Annex C query/retrieve: C-FIND, C-MOVE to our own SCP, C-GET into our archive).
using System.Globalization;
using Hounsfield.Archive;
using Hounsfield.Archive.Index;
using Hounsfield.Archive.Query;
using Hounsfield.Dicom;
using Hounsfield.Network;
using Hounsfield.Network.Association;
using Hounsfield.Server.Dimse;

namespace Hounsfield.Server.Nodes;

internal sealed class DicomNodeTransfers(
    ArchiveService archive, ArchiveDimseProvider ingest, DimseOptions dimse, DimseTlsSettings tls, ImagingTranscoder transcoder, DicomNodeOptions options)
{
    private const int MaxErrorsListed = 5;

    /// <summary>An SCU towards the node; over DICOM TLS (PS3.15 B.1) with the server's peer trust and certificate when the node says so.</summary>
    public DicomClient Client(DicomNode node) =>
        new(node.PeerHost, node.PeerPort, node.AETitle, node.PeerAETitle, DicomAssociationOptions.Default with
        {
            ConnectTimeout = options.ConnectTimeout,
            ArtimTimeout = options.AssociationTimeout,
            DimseTimeout = options.DimseTimeout,
            MaxAsyncOperations = dimse.MaxAsyncOperations,
        })
        {
            Tls = node.Tls ? tls.Client : null,
            Transcoder = transcoder,
        };

    /// <summary>The stored instances a store request names, or the UIDs the archive does not hold, per field.</summary>
    public async Task<(IReadOnlyList<StoredInstance> Instances, Dictionary<string, string[]> Unknown)> ResolveAsync(DicomNodeStoreSelection selection, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, StoredInstance>(StringComparer.Ordinal);
        var unknown = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var study in selection.Studies)
        {
            var instances = await archive.ListInstancesAsync(study, null, null, cancellationToken);
            Add("studies", study, instances);
        }

        foreach (var series in selection.Series)
        {
            var match = await FindOneAsync(QueryLevel.Series, DicomTag.SeriesInstanceUID, series, cancellationToken);
            Add("series", series, match is null ? [] : await archive.ListInstancesAsync(match.GetString(DicomTag.StudyInstanceUID)!, series, null, cancellationToken));
        }

        foreach (var sop in selection.Instances)
        {
            var match = await FindOneAsync(QueryLevel.Instance, DicomTag.SOPInstanceUID, sop, cancellationToken);
            Add("instances", sop, match is null ? [] : await archive.ListInstancesAsync(
                match.GetString(DicomTag.StudyInstanceUID)!, match.GetString(DicomTag.SeriesInstanceUID)!, sop, cancellationToken));
        }

        return ([.. found.Values], unknown);

        void Add(string field, string uid, IReadOnlyList<StoredInstance> instances)
        {
            if (instances.Count == 0)
            {
                unknown[field] = [.. unknown.GetValueOrDefault(field) ?? [], $"Not in the archive: {uid}"];
            }

            foreach (var instance in instances)
            {
                found.TryAdd(instance.SopInstanceUid, instance);
            }
        }
    }

    private async Task<DicomDataset?> FindOneAsync(QueryLevel level, DicomTag key, string uid, CancellationToken cancellationToken)
    {
        var result = await archive.QueryAsync(new QidoQuery
        {
            Level = level,
            Matches = [(key, uid)],
            IncludeFields = new HashSet<DicomTag> { DicomTag.StudyInstanceUID, DicomTag.SeriesInstanceUID },
            Limit = 1,
        }, cancellationToken);
        return result.Matches.Count > 0 && result.Matches[0].GetString(DicomTag.StudyInstanceUID) is { Length: > 0 } ? result.Matches[0] : null;
    }

    /// <summary>C-STORE of stored instances to the node, on one association, with progress.</summary>
    public async Task<DicomNodeJobOutcome> StoreAsync(DicomNode node, IReadOnlyList<StoredInstance> instances, DicomNodeJobProgress progress, CancellationToken cancellationToken)
    {
        int completed = 0, failed = 0;
        var errors = new List<string>();
        await Client(node).StoreAsync(instances.Select(stored => ArchiveDimseProvider.Source(archive, stored)), async result =>
        {
            if (result.Succeeded)
            {
                completed++;
            }
            else
            {
                failed++;
                if (errors.Count < MaxErrorsListed)
                {
                    errors.Add($"{result.SopInstanceUid ?? result.Source.Description}: {result.Status}{(result.Error is { Length: > 0 } e ? $" {e}" : string.Empty)}");
                }
            }

            await progress.ReportAsync(completed, failed, instances.Count - completed - failed, cancellationToken);
        }, cancellationToken);

        return failed == 0
            ? new DicomNodeJobOutcome(true, completed, 0, 0, null)
            : new DicomNodeJobOutcome(false, completed, failed, instances.Count - completed - failed,
                string.Create(CultureInfo.InvariantCulture, $"{failed} of {instances.Count} instances were not stored by {node.PeerAETitle}: {string.Join("; ", errors)}"));
    }

    /// <summary>C-MOVE from the node to our SCP, under the node's AE title (which the peer must know as our address).</summary>
    public async Task<DicomNodeJobOutcome> MoveAsync(DicomNode node, DicomNodeQuery query, DicomNodeJobProgress progress, CancellationToken cancellationToken)
    {
        var result = await Client(node).MoveAsync(node.AETitle, query.Level, query.Identifier, null, new RetrieveProgress(progress, cancellationToken), cancellationToken);
        if (result.Status == DicomStatus.MoveDestinationUnknown)
        {
            return Outcome(result, $"{node.PeerAETitle} does not know the move destination {node.AETitle}: configure it there as this server (DICOM port {dimse.Port}), or use get");
        }

        return Outcome(result, null);
    }

    /// <summary>C-GET from the node; each instance received is ingested as C-STORE to our SCP would be.</summary>
    public async Task<DicomNodeJobOutcome> GetAsync(DicomNode node, DicomNodeQuery query, DicomNodeJobProgress progress, CancellationToken cancellationToken)
    {
        var result = await Client(node).GetAsync(query.Level, query.Identifier, ingest, progress: new RetrieveProgress(progress, cancellationToken), cancellationToken: cancellationToken);
        return Outcome(result, null);
    }

    private static DicomNodeJobOutcome Outcome(DicomRetrieveResult result, string? explanation)
    {
        var succeeded = result.Status.IsSuccess || (result.Status.Category == DicomStatusCategory.Warning && result.Failed == 0);
        if (succeeded)
        {
            return new DicomNodeJobOutcome(true, result.Completed, result.Failed, result.Remaining, null);
        }

        var error = explanation ?? string.Create(CultureInfo.InvariantCulture,
            $"The retrieve ended with status {result.Status}: {result.Completed} completed, {result.Failed} failed, {result.Remaining} remaining");
        if (result.FailedSopInstanceUids.Count > 0)
        {
            error += $"; failed: {string.Join(", ", result.FailedSopInstanceUids.Take(MaxErrorsListed))}";
        }

        return new DicomNodeJobOutcome(false, result.Completed, result.Failed, result.Remaining, error);
    }

    /// <summary>Pending C-MOVE/C-GET responses as job progress (reported on the thread pool, recorded in order of arrival).</summary>
    private sealed class RetrieveProgress(DicomNodeJobProgress progress, CancellationToken cancellationToken) : IProgress<DicomRetrieveResult>
    {
        private readonly Lock gate = new();
        private Task last = Task.CompletedTask;

        public void Report(DicomRetrieveResult value)
        {
            lock (gate)
            {
                last = last.ContinueWith(
                    _ => progress.ReportAsync(value.Completed, value.Failed, value.Remaining, cancellationToken),
                    CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
            }
        }
    }
}
