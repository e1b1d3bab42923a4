using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Hounsfield.Server.Nodes;

/// <summary>How a job ended: whether it succeeded, its final counts and, on failure, why.</summary>
internal sealed record DicomNodeJobOutcome(bool Succeeded, int Completed, int Failed, int Remaining, string? Error);

/// <summary>Lets a running job record its counts; writes to the database at most once a second, the final state always.</summary>
internal sealed class DicomNodeJobProgress(string jobId, SqliteDicomNodeStore store, TimeProvider time)
{
    private DateTimeOffset lastWrite = DateTimeOffset.MinValue;

    public async Task ReportAsync(int completed, int failed, int remaining, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (now - lastWrite < TimeSpan.FromSeconds(1))
        {
            return;
        }

        lastWrite = now;
        await store.UpdateJobAsync(jobId, DicomNodeJobStates.Running, completed, failed, remaining, null, now, cancellationToken);
    }
}

/// <summary>
/// Runs store, move and get jobs in this process, at most <see cref="DicomNodeOptions.MaxConcurrentJobs"/> at once, and
/// records their progress in the database so that any process sharing it can report them. A process marks its jobs alive
/// every <see cref="DicomNodeOptions.JobHeartbeatInterval"/>. Jobs whose process is gone are failed: at start, those of
/// processes of this machine that no longer run; at start and when read, those nobody marked alive for
/// <see cref="DicomNodeOptions.JobStaleAfter"/> (another machine's process died). Stopping the server fails the jobs it was running.
/// </summary>
internal sealed class DicomNodeJobRunner(SqliteDicomNodeStore store, DicomNodeOptions options, TimeProvider time, ILogger<DicomNodeJobRunner> logger)
    : IHostedService, IDisposable
{
    public const string InterruptedMessage = "Interrupted: the server running this job stopped before it finished.";

    /// <summary>This process: machine/pid/start time (ticks), so that a later process with the same pid is not mistaken for it.</summary>
    public static readonly string CurrentRunner = DescribeCurrentProcess();

    private readonly ConcurrentDictionary<string, Task> jobs = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource stopping = new();
    private readonly SemaphoreSlim slots = new(options.MaxConcurrentJobs);
    private Task? heartbeat;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var failed = await FailStaleAsync(cancellationToken);
        foreach (var (id, runner) in await store.ListUnfinishedJobsAsync(cancellationToken))
        {
            if (IsGoneFromThisMachine(runner))
            {
                await store.FailJobAsync(id, InterruptedMessage, time.GetUtcNow(), cancellationToken);
                failed++;
            }
        }

        if (failed > 0)
        {
            logger.LogWarning("Marked {JobCount} interrupted DICOM node jobs as failed", failed);
        }

        heartbeat = Task.Run(() => HeartbeatLoopAsync(stopping.Token), CancellationToken.None);
    }

    public Task<int> FailStaleAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return store.FailStaleJobsAsync(now - options.JobStaleAfter, InterruptedMessage, now, cancellationToken);
    }

    /// <summary>Records a pending job of the account <paramref name="createdBy"/> and starts it; <paramref name="work"/> runs when a slot is free.</summary>
    public async Task<DicomNodeJob> EnqueueAsync(
        DicomNode node, string kind, int remaining, long? createdBy, Func<DicomNodeJobProgress, CancellationToken, Task<DicomNodeJobOutcome>> work,
        CancellationToken cancellationToken)
    {
        var job = await store.CreateJobAsync(node.Id, kind, remaining, CurrentRunner, createdBy, time.GetUtcNow(), cancellationToken);
        var progress = new DicomNodeJobProgress(job.Id, store, time);
        // Registered before it starts, so that its own removal at the end cannot come first.
        var run = new Task<Task>(() => RunAsync(job, node, progress, work));
        jobs[job.Id] = run.Unwrap();
        run.Start(TaskScheduler.Default);
        return job;
    }

    public static string RunnerOf(string machine, int processId, long startTicks) =>
        string.Create(CultureInfo.InvariantCulture, $"{machine}/{processId}/{startTicks}");

    private static string DescribeCurrentProcess()
    {
        using var process = Process.GetCurrentProcess();
        return RunnerOf(Environment.MachineName, process.Id, process.StartTime.ToUniversalTime().Ticks);
    }

    /// <summary>Whether a runner was a process of this machine that has ended.</summary>
    private static bool IsGoneFromThisMachine(string runner)
    {
        var parts = runner.Split('/');
        if (parts.Length != 3 || parts[0] != Environment.MachineName || runner == CurrentRunner
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks))
        {
            return false;
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            // Linux derives the start time from the boot time, which can come out a little different at each reading.
            return process.HasExited || Math.Abs(process.StartTime.ToUniversalTime().Ticks - ticks) > TimeSpan.TicksPerSecond;
        }
        catch (ArgumentException)
        {
            return true; // no process with that id
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return false; // cannot tell: leave it to the heartbeat
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await stopping.CancelAsync();
        try
        {
            await Task.WhenAll(jobs.Values.Append(heartbeat ?? Task.CompletedTask)).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Dispose()
    {
        stopping.Dispose();
        slots.Dispose();
    }

    private async Task RunAsync(DicomNodeJob job, DicomNode node, DicomNodeJobProgress progress, Func<DicomNodeJobProgress, CancellationToken, Task<DicomNodeJobOutcome>> work)
    {
        var token = stopping.Token;
        DicomNodeJobOutcome outcome;
        var acquired = false;
        try
        {
            await slots.WaitAsync(token);
            acquired = true;
            await store.UpdateJobAsync(job.Id, DicomNodeJobStates.Running, 0, 0, job.Remaining, null, time.GetUtcNow(), token);
            logger.LogInformation("DICOM node job {JobId} ({Kind}) started for node {NodeId}", job.Id, job.Kind, node.Id);
            outcome = await work(progress, token);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            outcome = new DicomNodeJobOutcome(false, 0, 0, job.Remaining, InterruptedMessage);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "DICOM node job {JobId} ({Kind}) for node {NodeId} failed", job.Id, job.Kind, node.Id);
            outcome = new DicomNodeJobOutcome(false, 0, 0, job.Remaining, ex.Message);
        }
        finally
        {
            if (acquired)
            {
                slots.Release();
            }
        }

        try
        {
            await store.UpdateJobAsync(job.Id, outcome.Succeeded ? DicomNodeJobStates.Succeeded : DicomNodeJobStates.Failed,
                outcome.Completed, outcome.Failed, outcome.Remaining, outcome.Error, time.GetUtcNow(), CancellationToken.None);
            logger.LogInformation("DICOM node job {JobId} ({Kind}) {State}: {Completed} completed, {Failed} failed, {Remaining} remaining",
                job.Id, job.Kind, outcome.Succeeded ? DicomNodeJobStates.Succeeded : DicomNodeJobStates.Failed, outcome.Completed, outcome.Failed, outcome.Remaining);
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException)
        {
            logger.LogError(ex, "Could not record the end of DICOM node job {JobId}", job.Id);
        }
        finally
        {
            jobs.TryRemove(job.Id, out _);
        }
    }

    private async Task HeartbeatLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.JobHeartbeatInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    await store.HeartbeatAsync(jobs.Keys.ToList(), time.GetUtcNow(), cancellationToken);
                }
                catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException)
                {
                    logger.LogWarning(ex, "Could not mark the running DICOM node jobs alive");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
