namespace Hounsfield.Archive.Blobs;

/// <summary>
/// Where instance bytes live. Writes go to a temporary blob first and become visible under their key only
/// when committed, so a crash never leaves a half-written blob under a real key.
/// </summary>
public interface IBlobStore
{
    /// <summary>A new temporary blob to stream an incoming instance into.</summary>
    ITemporaryBlob CreateTemporary();

    Stream OpenRead(string key);

    /// <summary>A function that reopens the blob, for lazy reads of large values.</summary>
    Func<Stream> Reopener(string key);

    bool Exists(string key);

    /// <summary>
    /// Deletes, and returns the keys whose deletion is on disk: a blob so deleted is not recovered after a power loss. A blob
    /// being read is not among them; it is removed when its last reader closes, and not durably.
    /// </summary>
    IReadOnlyList<string> DeleteDurably(params IReadOnlyCollection<string> keys);

    /// <summary>Every committed key, found in the storage itself (not in an index): for checks and repairs.</summary>
    IEnumerable<string> EnumerateKeys();

    /// <summary>
    /// Prefixes that split the committed keys into parts (each key starts with one of them, but for the parts this process
    /// still appends to), those of recoverable blobs (<see cref="IsRecoverable"/>) in the order they were committed. Start-up
    /// sweeps one part at a time, so it never holds every key of a large archive.
    /// </summary>
    IReadOnlyList<string> KeyPrefixes();

    /// <summary>
    /// The committed keys under <paramref name="prefix"/> (of <see cref="KeyPrefixes"/>) not in <paramref name="known"/>,
    /// recoverable ones in the order they were committed: what start-up re-indexes or removes. Finding them costs reads of the
    /// unknown parts only.
    /// </summary>
    IEnumerable<string> EnumerateUnreferenced(string prefix, IReadOnlySet<string> known);

    /// <summary>
    /// Whether the blob of <paramref name="key"/> is found again by <see cref="EnumerateKeys"/> after a power loss, under a key
    /// never given to another blob. Such a blob can rebuild its index row, so the index commit that refers to it need not be
    /// on disk when the instance is acknowledged (start-up re-indexes it).
    /// </summary>
    bool IsRecoverable(string key);

    /// <summary>
    /// Removes every committed blob under <paramref name="prefix"/> (of <see cref="KeyPrefixes"/>) whose key is not in
    /// <paramref name="known"/> (the orphan sweep at start); returns how many. The removals are on disk when it returns:
    /// start-up would index a removed blob that came back after a power loss.
    /// </summary>
    int RemoveUnreferenced(string prefix, IReadOnlySet<string> known);

    /// <summary>Removes temporary blobs left by a crash.</summary>
    void DeleteTemporaries();

    /// <summary>Prepares, at start-up, the space the next blobs are written to, when the store prepares space ahead.</summary>
    void PrepareSpace();
}

public interface ITemporaryBlob : IAsyncDisposable
{
    /// <summary>Where the incoming bytes are written.</summary>
    Stream Content { get; }

    /// <summary>The bytes written, when the store holds them in memory (a small instance); null when they went to a file.</summary>
    ReadOnlyMemory<byte>? Memory { get; }

    /// <summary>The file holding the bytes written, to read them back before the commit, when <see cref="Memory"/> is null.</summary>
    string? Path { get; }

    /// <summary>
    /// Whether <see cref="CommitAsync"/> stores the bytes under a key of the store's choosing (ignoring its file key): the
    /// blob can then be made durable before its instance is parsed.
    /// </summary>
    bool ChoosesKey { get; }

    /// <summary>
    /// Makes the bytes durable and returns the key they are stored under: <paramref name="fileKey"/> (replacing a blob of that
    /// key) when the store keeps this blob as a file of its own, or a key the store chose.
    /// </summary>
    Task<string> CommitAsync(string fileKey, CancellationToken cancellationToken);
}
