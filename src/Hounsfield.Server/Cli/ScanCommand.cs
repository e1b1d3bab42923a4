using System.Diagnostics;
using System.Globalization;
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;

namespace Hounsfield.Server.Cli;

/// <summary>`hounsfield scan PATH... [--header-only]`: parses every file, prints one summary line and each unreadable file.</summary>
internal static class ScanCommand
{
    public static int Run(string[] args)
    {
        var (paths, headerOnly) = DumpCommand.ParsePaths(args, "scan PATH... [--header-only]");

        var options = DicomReadOptions.Default with { StopBeforePixelData = headerOnly };
        var stopwatch = Stopwatch.StartNew();
        long files = 0, bytes = 0, elements = 0, failures = 0;
        foreach (var path in DumpCommand.ExpandPaths(paths))
        {
            files++;
            try
            {
                var file = DicomFile.Open(path, options);
                elements += file.Dataset.Count;
                bytes += new FileInfo(path).Length;
            }
            catch (DicomFormatException ex)
            {
                failures++;
                Console.Error.WriteLine($"hounsfield: {path}: {ex.Message}");
            }
        }

        var seconds = stopwatch.Elapsed.TotalSeconds;
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{files} files, {failures} unreadable, {elements} top-level elements, {bytes / 1e6:F1} MB in {seconds:F3} s ({files / seconds:F0} files/s, {bytes / 1e6 / seconds:F1} MB/s){(headerOnly ? ", header only" : string.Empty)}"));
        return failures == 0 ? 0 : 1;
    }
}
