using System.Collections.Concurrent;
using Hounsfield.Archive.Index;
using Microsoft.Extensions.Logging;

namespace Hounsfield.Archive.Ingest;

/// <summary>
/// Instances stored and acknowledged (<see cref="IngestCompletion.Durable"/>) whose index rows are still to be written.
/// Each keeps its commit turn until its row is written, so a copy of it arriving meanwhile waits. The first row added
/// schedules a write, <paramref name="writeDelay"/> later on a pool thread, of every row pending by then in one index
/// commit (<see cref="ArchiveOptions.IndexWriteDelay"/>): a sender of one instance after another (storescu) gets its
/// answers without waiting for the index, and its rows share commits. <see cref="WriteAsync"/> writes every row pending
/// when it is called and returns once they are written or have failed; reads of the archive call it first, so they see
/// every acknowledged instance. A row that fails is not lost: its blob is durable and recoverable, so the next start-up
/// indexes it.
/// </summary>
internal sealed class PendingIndexing(IArchiveIndex index, TimeSpan writeDelay, ILogger logger)
{
    /// <summary>Pending rows beyond which the ingest that adds one writes them itself: the memory they hold stays bounded, and a sender faster than the index is slowed to its pace.</summary>
    public const int MaxPending = 256;

    private readonly ConcurrentQueue<(InstanceRecord Record, InstanceCommitGate.Turn Turn)> queue = new();
    private readonly ConcurrentDictionary<string, byte> pendingSopInstanceUids = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim writing = new(1, 1);
    private int count;
    private int writeScheduled;

    public void Add(InstanceRecord record, InstanceCommitGate.Turn turn)
    {
        Interlocked.Increment(ref count);
        pendingSopInstanceUids[record.SopInstanceUid] = 0;
        queue.Enqueue((record, turn));
        if (Interlocked.Exchange(ref writeScheduled, 1) == 0)
        {
            _ = WriteLaterAsync();
        }
    }

    /// <summary>Whether the row of this instance is pending (so its commit turn is held until it is written).</summary>
    public bool Holds(string sopInstanceUid) => pendingSopInstanceUids.ContainsKey(sopInstanceUid);

    /// <summary>What an ingest's caller does after answering: writes the pending rows only when too many wait (<see cref="MaxPending"/>).</summary>
    public ValueTask WriteIfBackloggedAsync() => Volatile.Read(ref count) >= MaxPending ? WriteAsync() : ValueTask.CompletedTask;

    private async Task WriteLaterAsync()
    {
        try
        {
            // Never on the caller's thread: it is an ingest about to answer its sender.
            if (writeDelay > TimeSpan.Zero)
            {
                await Task.Delay(writeDelay).ConfigureAwait(false);
            }
            else
            {
                await Task.Yield();
            }

            // Cleared before the rows are taken: a row added from now on schedules the next write, or is taken by this one.
            Volatile.Write(ref writeScheduled, 0);
            await WriteAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "The scheduled write of pending index rows failed; they are written by the next read of the archive, or indexed at the next start.");
        }
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
                foreach (var pending in batch)
                {
                    pendingSopInstanceUids.TryRemove(pending.Record.SopInstanceUid, out _);
                    pending.Turn.Dispose();
                }

                Interlocked.Add(ref count, -batch.Count);
            }
        }
        finally
        {
            writing.Release();
        }
    }
}
