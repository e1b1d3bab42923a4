using System.Globalization;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Frames;

namespace Hounsfield.Server.Cli;

/// <summary>
/// `hounsfield pixels FILE [--frame N] --output OUT`: frame N (1-based, default 1) as native little-endian samples, in the
/// representation DCMTK's decoders give (the corpus oracle's pixels.json): native pixel data as stored (1-bit frames
/// re-packed from bit 0), encapsulated frames decoded (JPEG: YBR to RGB, colour-by-pixel; RLE: planar configuration kept).
/// </summary>
internal static class PixelsCommand
{
    private const string Usage = "usage: hounsfield pixels FILE [--frame N] --output OUT";

    public static int Run(string[] args)
    {
        var arguments = CommandArguments.Parse(args, Usage, ["--frame", "--output|-o"]);
        var input = arguments.SingleOperand("FILE");
        var output = arguments.Required("--output");
        var frameText = arguments.Value("--frame") ?? "1";
        if (!int.TryParse(frameText, NumberStyles.None, CultureInfo.InvariantCulture, out var frame) || frame < 1)
        {
            throw arguments.UsageError($"--frame needs a frame number from 1, not '{frameText}'");
        }

        var file = DicomFile.Open(input);
        var reader = PixelDataReader.Create(file);
        if (reader is null)
        {
            return CommandLine.Fail($"{input}: no pixel data (needs Pixel Data with Rows, Columns and Bits Allocated)", 1);
        }

        if (frame > reader.FrameCount)
        {
            return CommandLine.Fail($"{input}: frame {frame} requested, the pixel data has {reader.FrameCount}", 1);
        }

        try
        {
            var pixels = reader.ReadFrame(frame - 1);
            using var stream = new FileStream(output, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            stream.Write(pixels.Data, 0, (int)pixels.Description.FrameLength);
            return 0;
        }
        catch (NotSupportedException ex)
        {
            return CommandLine.Fail($"{input}: {ex.Message}", 1);
        }
        catch (ImageCodecException ex)
        {
            return CommandLine.Fail($"{input}: frame {frame}: {ex.Message}", 1);
        }
    }
}
