using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Transcoding;

namespace Hounsfield.Server.Cli;

/// <summary>
/// `hounsfield transcode FILE --transfer-syntax UID --output OUT.dcm`: the file in another transfer syntax, every
/// frame decoded and re-encoded by <see cref="Transcoder"/> (PS3.5 §8, §10).
/// </summary>
internal static class TranscodeCommand
{
    private const string UsageLine = "usage: hounsfield transcode FILE --transfer-syntax UID --output OUT.dcm";

    public static int Run(string[] args)
    {
        string? input = null, output = null, uid = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--transfer-syntax" or "-t" when i + 1 < args.Length:
                    uid = args[++i];
                    break;
                case "--output" or "-o" when i + 1 < args.Length:
                    output = args[++i];
                    break;
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal) || input is not null)
                    {
                        return CommandLine.Fail($"transcode: unexpected argument '{args[i]}'\n{UsageLine}", 2);
                    }

                    input = args[i];
                    break;
            }
        }

        if (input is null || output is null || uid is null)
        {
            return CommandLine.Fail(UsageLine, 2);
        }

        if (!DicomTransferSyntax.TryLookup(uid, out var target) || !target.IsKnown)
        {
            return CommandLine.Fail($"transcode: unknown transfer syntax '{uid}'", 2);
        }

        var file = DicomFile.Open(input);
        DicomFile transcoded;
        try
        {
            transcoded = Transcoder.Transcode(file, target);
        }
        catch (NotSupportedException ex)
        {
            return CommandLine.Fail($"{input}: {ex.Message}", 1);
        }
        catch (ImageCodecException ex)
        {
            return CommandLine.Fail($"{input}: {ex.Message}", 1);
        }

        transcoded.Save(output, target);
        return 0;
    }
}
