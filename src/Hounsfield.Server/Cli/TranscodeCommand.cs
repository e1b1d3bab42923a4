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
        var arguments = CommandArguments.Parse(args, UsageLine, ["--transfer-syntax|-t", "--output|-o"]);
        var input = arguments.SingleOperand("FILE");
        var uid = arguments.Required("--transfer-syntax");
        var output = arguments.Required("--output");
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
