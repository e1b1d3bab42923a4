using System.Collections.Concurrent;
using Hounsfield.Archive.Index;
using Microsoft.Extensions.Logging;

namespace Hounsfield.Archive.Ingest;

/// <summary>
/// Instances stored and acknowledged (<see cref="IngestCompletion.Durable"/>) whose index rows are still to be written.
/// Each keeps its commit turn until its row is written, so a copy of it arriving meanwhile waits. <see cref="WriteAsync"/>
/// writes every row pending when it is called, in one index commit, and returns once they are written or have failed.
/// A row that fails is not lost: its blob is durable and recoverable, so the next start-up indexes it.
/// </summary>
internal sealed class PendingIndexing(IArchiveIndex index, ILogger logger)
{
    private readonly ConcurrentQueue<(InstanceRecord Record, InstanceCommitGate.Turn Turn)> queue = new();
    private readonly SemaphoreSlim writing = new(1, 1);
    private int count;

    public void Add(InstanceRecord record, InstanceCommitGate.Turn turn)
    {
        Interlocked.Increment(ref count);
        queue.Enqueue((record, turn));
    }

    public async ValueTask WriteAsync()
    {
        if (Volatile.Read(ref count) == 0)
        {
            return;
        }

        // Waiting here also waits for a write in progress: its rows may be among those the caller must see.
        await writing.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            var batch = new List<(InstanceRecord Record, InstanceCommitGate.Turn Turn)>();
            while (queue.TryDequeue(out var pending))
            {
                batch.Add(pending);
            }

            if (batch.Count == 0)
            {
                return;
            }

            try
            {
                await index.AddInstancesAsync(batch.ConvertAll(pending => pending.Record), durable: false, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Indexing {Count} stored instances failed ({SopInstanceUids}). Those not indexed stay on disk and are indexed at the next start.",
                    batch.Count, string.Join(", ", batch.Select(pending => pending.Record.SopInstanceUid)));
            }
            finally
            {
                batch.ForEach(pending => pending.Turn.Dispose());
                Interlocked.Add(ref count, -batch.Count);
            }
        }
        finally
        {
            writing.Release();
        }
    }
}
