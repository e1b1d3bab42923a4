namespace Hounsfield.Archive.Blobs;

/// <summary>Blobs as files under a folder; keys are relative paths made of hex names only, so no key escapes the folder.</summary>
public sealed class FolderBlobStore : IBlobStore
{
    private const string TemporaryFolder = "tmp";
    private readonly string root;

    public FolderBlobStore(string root)
    {
        this.root = Path.GetFullPath(root);
        Directory.CreateDirectory(Path.Combine(this.root, TemporaryFolder));
    }

    public ITemporaryBlob CreateTemporary() => new TemporaryFile(this, Path.Combine(root, TemporaryFolder, Guid.NewGuid().ToString("N")));

    public Stream OpenRead(string key) =>
        new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.SequentialScan);

    public Func<Stream> Reopener(string key)
    {
        var path = PathOf(key);
        return () => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.RandomAccess);
    }

    public bool Exists(string key) => File.Exists(PathOf(key));

    public void Delete(string key)
    {
        var path = PathOf(key);
        if (File.Exists(path))
        {
            File.Delete(path);
        }
    }

    public IEnumerable<string> EnumerateKeys()
    {
        foreach (var path in Directory.EnumerateFiles(root, "*.dcm", SearchOption.AllDirectories))
        {
            var key = Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/');
            if (!key.StartsWith(TemporaryFolder + "/", StringComparison.Ordinal))
            {
                yield return key;
            }
        }
    }

    public void DeleteTemporaries()
    {
        foreach (var path in Directory.EnumerateFiles(Path.Combine(root, TemporaryFolder)))
        {
            File.Delete(path);
        }
    }

    private string PathOf(string key)
    {
        foreach (var c in key)
        {
            if (!(char.IsAsciiHexDigitLower(c) || c == '/' || c == '.' || char.IsAsciiLetterLower(c)) || key.Contains("..", StringComparison.Ordinal))
            {
                throw new ArgumentException($"'{key}' is not a blob key.", nameof(key));
            }
        }

        return Path.Combine(root, key.Replace('/', Path.DirectorySeparatorChar));
    }

    private sealed class TemporaryFile(FolderBlobStore store, string path) : ITemporaryBlob
    {
        private bool committed;

        public Stream Content { get; } = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, 64 * 1024);

        public string Path => path;

        public async Task CommitAsync(string key, CancellationToken cancellationToken)
        {
            await Content.FlushAsync(cancellationToken);
            ((FileStream)Content).Flush(flushToDisk: true);
            await Content.DisposeAsync();
            var target = store.PathOf(key);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            File.Move(path, target, overwrite: true);
            committed = true;
        }

        public async ValueTask DisposeAsync()
        {
            await Content.DisposeAsync();
            if (!committed && File.Exists(path))
            {
                File.Delete(path);
            }
        }
    }
}
