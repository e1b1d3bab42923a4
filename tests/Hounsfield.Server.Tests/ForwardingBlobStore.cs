using Hounsfield.Archive.Blobs;

namespace Hounsfield.Server.Tests;

/// <summary>A blob store that passes every call to another; tests override the calls they slow down, hold or count.</summary>
internal abstract class ForwardingBlobStore(IBlobStore inner) : IBlobStore
{
    public virtual ITemporaryBlob CreateTemporary() => inner.CreateTemporary();

    public Stream OpenRead(string key) => inner.OpenRead(key);

    public Func<Stream> Reopener(string key) => inner.Reopener(key);

    public bool Exists(string key) => inner.Exists(key);

    public virtual IReadOnlyList<string> DeleteDurably(params IReadOnlyCollection<string> keys) => inner.DeleteDurably(keys);

    public bool IsRecoverable(string key) => inner.IsRecoverable(key);

    public IEnumerable<string> EnumerateKeys() => inner.EnumerateKeys();

    public IReadOnlyList<string> KeyPrefixes() => inner.KeyPrefixes();

    public IEnumerable<string> EnumerateUnreferenced(string prefix, IReadOnlySet<string> known) => inner.EnumerateUnreferenced(prefix, known);

    public int RemoveUnreferenced(string prefix, IReadOnlySet<string> known) => inner.RemoveUnreferenced(prefix, known);

    public void DeleteTemporaries() => inner.DeleteTemporaries();

    public void PrepareSpace() => inner.PrepareSpace();
}

/// <summary>A temporary blob that passes every call to another; tests override its commit.</summary>
internal abstract class ForwardingTemporaryBlob(ITemporaryBlob inner) : ITemporaryBlob
{
    public virtual Stream Content => inner.Content;

    public ReadOnlyMemory<byte>? Memory => inner.Memory;

    public string? Path => inner.Path;

    public bool ChoosesKey => inner.ChoosesKey;

    public virtual Task<string> CommitAsync(string fileKey, CancellationToken cancellationToken) => inner.CommitAsync(fileKey, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
