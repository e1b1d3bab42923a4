using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;

namespace Hounsfield.Server.Cli;

/// <summary>`hounsfield dump FILE... [--header-only]`: each file as text; a directory is walked recursively.</summary>
internal static class DumpCommand
{
    public static int Run(string[] args, TextWriter stdout)
    {
        var headerOnly = args.Contains("--header-only");
        var paths = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
        if (paths.Count == 0)
        {
            return CommandLine.Fail("dump needs at least one FILE", 2);
        }

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
