namespace Hounsfield.Archive.Ingest;

/// <summary>
/// Ingests the instances of one request in order, overlapping their commits: while instance n is made durable (an fsync
/// costs milliseconds, and concurrent ones share the disk's flush) and indexed, instance n+1 is already being received.
/// At most a bounded number of commits are in flight, holding at most a bounded number of received bytes in memory
/// (plus the instance being received). Instances with the same SOP Instance UID commit one after the
/// other, so the duplicate policy sees the earlier one. Nothing is acknowledged before <see cref="CompleteAsync"/>; with
/// <see cref="IngestCompletion.Durable"/> the rows may still be pending then (see <see cref="ArchiveService.AfterAcknowledgedAsync"/>).
/// </summary>
public sealed class IngestBatch : IAsyncDisposable
{
    private readonly ArchiveService archive;
    private readonly int maxInFlight;
    private readonly long maxHeldBytes;
    private readonly IngestCompletion completion;
    private readonly List<Task<IngestResult>> results = [];
    private readonly Queue<(Task Commit, long HeldBytes)> inFlight = new();
    private readonly Dictionary<string, Task> lastCommitOfInstance = new(StringComparer.Ordinal);
    private long heldBytes;
    private ReceivedInstance? uncommitted; // received last, its commit not started: its result comes after every other

    internal IngestBatch(ArchiveService archive, int maxInFlight, long maxHeldBytes, IngestCompletion completion)
    {
        this.archive = archive;
        this.completion = completion;
        this.maxInFlight = Math.Max(1, maxInFlight);
        this.maxHeldBytes = Math.Max(0, maxHeldBytes);
    }

    /// <summary>Receives one instance from <paramref name="content"/> (read to its end before this returns) and starts its commit.</summary>
    public Task AddAsync(Stream content, string? requiredStudyUid, CancellationToken cancellationToken) =>
        AddAsync(ArchiveService.CopyFrom(content), requiredStudyUid, cancellationToken);

    public async Task AddAsync(Func<Stream, CancellationToken, Task> writeContent, string? requiredStudyUid, CancellationToken cancellationToken)
    {
        StartCommit(offThread: true);
        while (inFlight.Count > 0 && (inFlight.Count >= maxInFlight || heldBytes >= maxHeldBytes))
        {
            var (oldest, released) = inFlight.Dequeue();
            await oldest.ConfigureAwait(false);
            heldBytes -= released;
        }

        var (instance, failure) = await archive.ReceiveAsync(writeContent, requiredStudyUid, cancellationToken);
        if (instance is null)
        {
            results.Add(Task.FromResult(failure!));
            return;
        }

        // Its commit starts when the next instance arrives (overlapping its receipt) or when the batch completes.
        uncommitted = instance;
    }

    /// <summary>Waits for every commit; the results are in the order the instances were added.</summary>
    public async Task<IReadOnlyList<IngestResult>> CompleteAsync()
    {
        StartCommit(offThread: false);
        return await Task.WhenAll(results);
    }

    /// <summary>Waits for commits still in flight (after a failed request too), so no temporary blob outlives the batch.</summary>
    public async ValueTask DisposeAsync()
    {
        StartCommit(offThread: false);
        foreach (var task in results)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Reported by CompleteAsync to a caller that still wants the results; here only the clean-up matters.
            }
        }
    }

    /// <summary>
    /// Starts the commit of the instance received last, if not started yet: on the thread pool while more instances are to
    /// be received (the commit blocks in fsync), else on the caller's thread, which has nothing else to do meanwhile (so a
    /// one-instance request costs no thread switch).
    /// </summary>
    private void StartCommit(bool offThread)
    {
        if (uncommitted is not { } instance)
        {
            return;
        }

        uncommitted = null;
        var held = instance.Temporary.Memory?.Length ?? 0; // a spilled instance waits in its file, not in memory
        var uid = instance.Record.SopInstanceUid;
        var commit = CommitAfterAsync(lastCommitOfInstance.GetValueOrDefault(uid), instance, offThread);
        lastCommitOfInstance[uid] = commit;
        results.Add(commit);
        heldBytes += held;
        inFlight.Enqueue((commit, held));
    }

    private async Task<IngestResult> CommitAfterAsync(Task? previous, ReceivedInstance instance, bool offThread)
    {
        if (previous is not null)
        {
            try
            {
                await previous.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The earlier copy's failure is its own result; this copy commits on its own merits.
            }
        }

        if (offThread)
        {
            await Task.Yield();
        }

        try
        {
            return await archive.CommitAsync(instance, completion, CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            return IngestResult.Failure(IngestResult.OutOfResources, $"The instance could not be stored: {ex.Message}", instance.Record.SopClassUid, instance.Record.SopInstanceUid);
        }
    }
}
