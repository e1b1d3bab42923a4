using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;

namespace Hounsfield.Server.Cli;

/// <summary>`hounsfield dump FILE... [--header-only]`: each file as text; a directory is walked recursively.</summary>
internal static class DumpCommand
{
    public static int Run(string[] args, TextWriter stdout)
    {
        var (paths, headerOnly) = ParsePaths(args, "dump FILE... [--header-only]");
        var options = DicomReadOptions.Default with { StopBeforePixelData = headerOnly };
        using var output = new StreamWriter(Console.OpenStandardOutput(), bufferSize: 1 << 16) { AutoFlush = false };
        var writer = ReferenceEquals(stdout, Console.Out) ? output : stdout;
        var failures = 0;
        var files = ExpandPaths(paths).ToList();
        foreach (var path in files)
        {
            try
            {
                var file = DicomFile.Open(path, options);
                if (files.Count > 1)
                {
                    writer.WriteLine($"# {path}");
                }

                DicomDump.Write(writer, file);
            }
            catch (DicomFormatException ex)
            {
                writer.Flush();
                Console.Error.WriteLine($"hounsfield: {path}: {ex.Message}");
                failures++;
            }
        }

        writer.Flush();
        return failures == 0 ? 0 : 1;
    }

    /// <summary>
    /// The arguments of dump and scan: at least one path, and --header-only. Anything else that looks like an option is
    /// reported with the usage (a mistyped option would otherwise be taken for a missing file, or ignored).
    /// </summary>
    internal static (List<string> Paths, bool HeaderOnly) ParsePaths(string[] args, string usage)
    {
        var arguments = CommandArguments.Parse(args, $"usage: hounsfield {usage}", [], ["--header-only"]);
        return arguments.Operands.Count == 0 ? throw arguments.UsageError("no FILE given") : (arguments.Operands, arguments.Has("--header-only"));
    }

    internal static IEnumerable<string> ExpandPaths(IEnumerable<string> paths)
    {
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                foreach (var file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    yield return file;
                }
            }
            else if (File.Exists(path))
            {
                yield return path;
            }
            else
            {
                throw new FileNotFoundException($"{path}: no such file or directory");
            }
        }
    }
}
