using Hounsfield.Dicom;

namespace Hounsfield.Server.Cli;

/// <summary>The `hounsfield` command: the server (`serve`) and the toolkit's file commands.</summary>
internal static class CommandLine
{
    private const string Usage = """
        usage: hounsfield <command> [arguments]

          serve [--urls URL] [--data DIR]   run the server (default http://localhost:8080, data in ./data)
          dump FILE... [--header-only]      a readable dump of each file (tag, VR, length, keyword, value)
          scan PATH... [--header-only]      parse every file (directories recursively), report unreadable ones
          json FILE                         the data set as DICOM JSON (PS3.18 Annex F)
          xml FILE                          the data set as DICOM XML (PS3.19 Native DICOM Model)
          pixels FILE [--frame N] --output OUT    frame N (from 1) as native little-endian samples
          render FILE [--frame N|all] --output OUT.{png,jpg,gif} [--window C,W|first|minmax|none|auto]
                 [--region X,Y,W,H] [--size W[xH]] [--quality Q]   frame N through the display pipeline
          transcode FILE --transfer-syntax UID --output OUT.dcm   the file in another transfer syntax
        """ + "\n" + DimseCommands.UsageLines + "\n" + UsersCommand.UsageLines;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Out.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        var rest = args[1..];
        try
        {
            return args[0] switch
            {
                "serve" => await ServeCommand.RunAsync(rest),
                "dump" => DumpCommand.Run(rest, Console.Out),
                "scan" => ScanCommand.Run(rest),
                "json" => ExportCommand.RunJson(rest, Console.OpenStandardOutput()),
                "xml" => ExportCommand.RunXml(rest, Console.OpenStandardOutput()),
                "pixels" => PixelsCommand.Run(rest),
                "render" => RenderCommand.Run(rest),
                "transcode" => TranscodeCommand.Run(rest),
                "users" => await UsersCommand.RunAsync(rest),
                "echo" or "store" or "find" or "move" or "get" => await DimseCommands.RunAsync(args[0], rest),
                _ => Fail($"unknown command '{args[0]}'\n{Usage}", 2),
            };
        }
        catch (CommandUsageException ex)
        {
            return Fail($"{args[0]}: {ex.Message}", 2);
        }
        catch (DicomFormatException ex)
        {
            return Fail(ex.Message, 1);
        }
        catch (Accounts.AccountSettingsException ex)
        {
            return Fail(ex.Message, 1);
        }
        catch (Dimse.DimseSettingsException ex)
        {
            return Fail(ex.Message, 1);
        }
        catch (SettingsException ex)
        {
            return Fail(ex.Message, 1);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return Fail(ex.Message, 1);
        }
    }

    internal static int Fail(string message, int exitCode)
    {
        Console.Error.WriteLine($"hounsfield: {message}");
        return exitCode;
    }
}
