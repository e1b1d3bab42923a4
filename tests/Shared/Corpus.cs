using System.Text.Json;

namespace Hounsfield.Testing;

/// <summary>
/// The shared DICOM corpus (../shared/dicom-corpus, or HOUNSFIELD_CORPUS) with its DCMTK oracle outputs; one copy for
/// every test project (linked from tests/Shared).
/// When it is absent the corpus tests report themselves skipped, unless HOUNSFIELD_CORPUS_REQUIRED=1.
/// </summary>
public static class Corpus
{
    private static readonly Lazy<IReadOnlyList<CorpusFile>> LazyFiles = new(LoadManifest);

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string? Directory { get; } = FindCorpus();

    public static bool IsRequired => Environment.GetEnvironmentVariable("HOUNSFIELD_CORPUS_REQUIRED") == "1";

    public static string SkipReason => Directory is null && !IsRequired
        ? "the DICOM corpus is not present (set HOUNSFIELD_CORPUS or place it at ../shared/dicom-corpus)"
        : string.Empty;

    public static IReadOnlyList<CorpusFile> Files => LazyFiles.Value;

    public static CorpusFile Get(string name) => Files.Single(f => f.Name == name);

    /// <summary>Theory data: file names, or one placeholder when the corpus is missing (the test is then skipped).</summary>
    public static TheoryData<string> Names(Func<CorpusFile, bool> filter)
    {
        var data = new TheoryData<string>();
        foreach (var file in Files.Where(filter))
        {
            data.Add(file.Name);
        }

        if (data.Count == 0)
        {
            data.Add("(corpus missing)");
        }

        return data;
    }

    private static IReadOnlyList<CorpusFile> LoadManifest()
    {
        if (Directory is null)
        {
            if (IsRequired)
            {
                throw new InvalidOperationException("HOUNSFIELD_CORPUS_REQUIRED=1 but the DICOM corpus was not found.");
            }

            return [];
        }

        using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Directory, "MANIFEST.json")));
        var files = new List<CorpusFile>();
        foreach (var entry in manifest.RootElement.GetProperty("files").EnumerateArray())
        {
            var relative = entry.GetProperty("file").GetString()!;
            var name = Path.GetFileNameWithoutExtension(relative);
            files.Add(new CorpusFile(
                name,
                Path.Combine(Directory, relative),
                Path.Combine(Directory, entry.GetProperty("oracle_dir").GetString()!),
                entry.GetProperty("status").GetString()!,
                entry.GetProperty("transfer_syntax_uid").GetString() ?? string.Empty,
                entry.Clone()));
        }

        return files;
    }

    private static string FindRepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Hounsfield.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Hounsfield.slnx not found above the test binaries.");
    }

    private static string? FindCorpus()
    {
        var configured = Environment.GetEnvironmentVariable("HOUNSFIELD_CORPUS");
        var candidate = string.IsNullOrEmpty(configured)
            ? Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "dicom-corpus"))
            : Path.GetFullPath(configured);
        return File.Exists(Path.Combine(candidate, "MANIFEST.json")) ? candidate : null;
    }
}

public sealed record CorpusFile(string Name, string Path, string OracleDirectory, string Status, string TransferSyntaxUid, JsonElement Manifest)
{
    public string OraclePath(string fileName) => System.IO.Path.Combine(OracleDirectory, fileName);

    public bool IsMalformed => Status == "malformed";

    /// <summary>The oracle's per-frame SHA-256 of the decoded pixel data for a variant ("default", "no_color_conversion", ...), or null.</summary>
    public string[]? FrameHashes(string variant = "default")
    {
        if (Manifest.TryGetProperty("pixels", out var pixels) && pixels.ValueKind == JsonValueKind.Object
            && pixels.TryGetProperty(variant, out var entry) && entry.TryGetProperty("frame_sha256", out var hashes))
        {
            return [.. hashes.EnumerateArray().Select(h => h.GetString()!)];
        }

        return null;
    }

    /// <summary>A property of a pixels variant (e.g. "photometric_interpretation"), or null.</summary>
    public JsonElement? PixelsProperty(string variant, string name) =>
        Manifest.TryGetProperty("pixels", out var pixels) && pixels.ValueKind == JsonValueKind.Object
        && pixels.TryGetProperty(variant, out var entry) && entry.TryGetProperty(name, out var value)
            ? value
            : null;
}

/// <summary>A fact over the corpus: skipped with the reason when the corpus is absent (and not required).</summary>
public sealed class CorpusFactAttribute : FactAttribute
{
    public CorpusFactAttribute()
    {
        if (Corpus.SkipReason.Length > 0)
        {
            Skip = Corpus.SkipReason;
        }
    }
}

/// <summary>A theory over corpus files: skipped with the reason when the corpus is absent (and not required).</summary>
public sealed class CorpusTheoryAttribute : TheoryAttribute
{
    public CorpusTheoryAttribute()
    {
        if (Corpus.SkipReason.Length > 0)
        {
            Skip = Corpus.SkipReason;
        }
    }
}
