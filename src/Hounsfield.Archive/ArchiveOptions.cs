using System.ComponentModel.DataAnnotations;

namespace Hounsfield.Archive;

/// <summary>What to do when an instance arrives whose SOP Instance UID is already stored.</summary>
public enum DuplicatePolicy
{
    /// <summary>Refuse the new copy (STOW-RS failure 0x0111, C-STORE failure). The default.</summary>
    Reject,

    /// <summary>Replace the stored copy with the new one.</summary>
    Overwrite,

    /// <summary>Keep the stored copy and report success, as many PACS do for a resent study.</summary>
    KeepFirst,
}

/// <summary>Settings of the archive (section "Archive" of the configuration).</summary>
public sealed class ArchiveOptions
{
    /// <summary>Folder of the embedded storage: the SQLite index and the blob folder. Default ./data.</summary>
    public string DataDirectory { get; set; } = "data";

    public DuplicatePolicy DuplicatePolicy { get; set; } = DuplicatePolicy.Reject;

    /// <summary>Largest instance accepted, in bytes. Default 4 GiB.</summary>
    [Range(typeof(long), "1", "9223372036854775807")]
    public long MaxInstanceLength { get; set; } = 4L * 1024 * 1024 * 1024;

    /// <summary>Largest HTTP request body (a STOW-RS request of several instances), in bytes; a larger Content-Length is refused with 413 before any byte is read. Default 8 GiB.</summary>
    [Range(typeof(long), "1", "9223372036854775807")]
    public long MaxRequestLength { get; set; } = 8L * 1024 * 1024 * 1024;

    /// <summary>
    /// Most parts one STOW-RS request may hold. The response reports every part, so each costs memory until it is sent
    /// (about a kilobyte); a request over this is refused with 413 at the first part too many, which is not read (the
    /// parts before it are stored and reported as usual). Default 20,000.
    /// </summary>
    [Range(1, int.MaxValue)]
    public int MaxPartsPerRequest { get; set; } = 20_000;

    /// <summary>
    /// Instances of one STOW-RS request whose commits (flush of the blob, index insert) may be in flight at once while the
    /// next part is received. Overlapping the disk flushes is what makes batches fast; each still completes before the
    /// response acknowledges it. Default 32; 1 commits each part before reading the next.
    /// </summary>
    [Range(1, int.MaxValue)]
    public int MaxConcurrentCommits { get; set; } = 32;

    /// <summary>
    /// Bytes of received instances that the commits in flight of one STOW-RS request may hold in memory: the next part is
    /// read only once earlier commits have released enough (so large instances overlap fewer at a time). Default 64 MiB.
    /// </summary>
    [Range(typeof(long), "1", "9223372036854775807")]
    public long MaxConcurrentCommitMemory { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Incoming instances up to this length are received into memory and, when committed, appended to a segment file shared
    /// with other instances, with one write and a flush shared with the commits running at the same time; longer ones are
    /// streamed to a temporary file as they arrive and become files of their own. Default 8 MiB.
    /// </summary>
    [Range(0, 0x7FFFFFC7)]
    public int MaxInMemoryInstanceLength { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// How long the index row of an instance acknowledged before it is written (C-STORE, STOW-RS) waits for others to share
    /// its commit. A commit costs CPU and disk traffic (its WAL pages, the checkpoints they bring) that rows sharing it
    /// share: at a thousand instances a second a storescu sender gets about a hundred rows per commit, and against ten
    /// (a 10 ms delay) it was stored 13% faster with 15% less server CPU per instance. Reads of the archive write the
    /// pending rows first, so they see every acknowledged instance; a crash loses no row, as start-up indexes the stored
    /// instances it finds unindexed. Another process sharing the index sees an instance once its row is written, up to this
    /// long after its acknowledgement. Default 100 ms; zero writes them at once, on another thread.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan IndexWriteDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Length of the segment file made ahead of need, zero-filled, for the records of in-memory instances: a record written
    /// into such a file costs a flush without a write of the file's metadata (about a third less on ext4). It is made at
    /// start-up when none is ready and, once taken, again after appends have paused for a second, because zeros written
    /// during appends slow their flushes more than they save. It costs its length in disk space, and each byte of it is
    /// written twice (zeros, then a record). When it is used up during a long transfer, the segments that follow grow as
    /// records are appended. Default 256 MiB; 0 makes none.
    /// </summary>
    [Range(typeof(long), "0", "1073741824")]
    public long SpareSegmentLength { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// How much stored metadata one query (QIDO-RS, C-FIND) reads for the attributes it returns from stored instances
    /// (includefield of attributes the index has no column for, includefield=all at instance level, such C-FIND return
    /// keys): once reached, the page ends there as if at its limit, and the client asks for the next. Default 32 MiB.
    /// </summary>
    [Range(typeof(long), "1", "9223372036854775807")]
    public long MaxStoredValueBytesPerQuery { get; set; } = DefaultMaxStoredValueBytesPerQuery;

    /// <summary>The default of <see cref="MaxStoredValueBytesPerQuery"/>, which an index made without options takes too.</summary>
    public const long DefaultMaxStoredValueBytesPerQuery = 32L * 1024 * 1024;

    /// <summary>Binary values longer than this are left out of stored metadata as BulkDataURIs. Default 1 KiB.</summary>
    [Range(0, int.MaxValue)]
    public int BulkDataThreshold { get; set; } = 1024;

    /// <summary>
    /// Largest stored instance that a retrieve converts with a codec, which is done in memory. Naming no transfer syntax, a
    /// larger compressed one goes as stored, as PS3.18 §8.7.3.4 permits for lossless data too long to convert; naming a
    /// syntax that needs a codec, a larger one is a 406. Default 256 MiB.
    /// </summary>
    [Range(typeof(long), "0", "9223372036854775807")]
    public long MaxDefaultConversionLength { get; set; } = 256L * 1024 * 1024;
}
