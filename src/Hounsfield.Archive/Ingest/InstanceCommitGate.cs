namespace Hounsfield.Archive.Ingest;

/// <summary>
/// One commit at a time per SOP Instance UID: copies of one instance arriving at once (on concurrent requests, or
/// pipelined on one association) take turns, so the duplicate policy always sees the copy committed before.
/// </summary>
internal sealed class InstanceCommitGate
{
    private readonly Dictionary<string, TaskCompletionSource> holders = new(StringComparer.Ordinal);

    public async ValueTask<Turn> EnterAsync(string sopInstanceUid)
    {
        while (true)
        {
            Task busy;
            lock (holders)
            {
                if (!holders.TryGetValue(sopInstanceUid, out var holder))
                {
                    holders[sopInstanceUid] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    return new Turn(this, sopInstanceUid);
                }

                busy = holder.Task;
            }

            await busy.ConfigureAwait(false);
        }
    }

    private void Exit(string sopInstanceUid)
    {
        TaskCompletionSource? holder;
        lock (holders)
        {
            holders.Remove(sopInstanceUid, out holder);
        }

        holder?.SetResult();
    }

    public readonly struct Turn(InstanceCommitGate gate, string sopInstanceUid) : IDisposable
    {
        public void Dispose() => gate.Exit(sopInstanceUid);
    }
}
