using System.Globalization;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Encoders;
using Hounsfield.Imaging.Frames;
using Hounsfield.Imaging.Rendering;

namespace Hounsfield.Server.Cli;

/// <summary>
/// `hounsfield render FILE [--frame N|all] --output OUT.{png,jpg,gif} [--window C,W|first|minmax|none|auto]
/// [--region X,Y,W,H] [--size W[xH]] [--quality Q]`: a frame through the display pipeline (PS3.4 N.2) to an image file.
/// `--frame all` (GIF only) animates every frame at the data set's frame time.
/// </summary>
internal static class RenderCommand
{
    private const string Usage =
        "usage: hounsfield render FILE [--frame N|all] --output OUT.{png,jpg,gif} [--window C,W|first|minmax|none|auto] " +
        "[--region X,Y,W,H] [--size W[xH]] [--quality 1-100]";

    public static int Run(string[] args)
    {
        var arguments = CommandArguments.Parse(args, Usage, ["--frame", "--output|-o", "--window", "--region", "--size", "--quality"]);
        var input = arguments.SingleOperand("FILE");
        var output = arguments.Required("--output");
        var frameText = arguments.Value("--frame") ?? "1";
        var options = new RenderOptions();
        if (arguments.Value("--window") is { } window)
        {
            options = ParseWindow(window, options) ?? throw arguments.UsageError($"--window: '{window}' is not C,W, first, minmax, none or auto");
        }

        if (arguments.Value("--region") is { } region)
        {
            if (ParseNumbers(region, ',') is not [var x, var y, var w, var h] || w < 1 || h < 1)
            {
                throw arguments.UsageError($"--region: '{region}' is not X,Y,WIDTH,HEIGHT");
            }

            options = options with { Region = new PixelRegion(x, y, w, h) };
        }

        if (arguments.Value("--size") is { } size)
        {
            options = ParseNumbers(size, 'x') switch
            {
                [var width] when width > 0 => options with { OutputWidth = width },
                [var width, var height] when width > 0 && height > 0 => options with { OutputWidth = width, OutputHeight = height },
                _ => throw arguments.UsageError($"--size: '{size}' is not WIDTH or WIDTHxHEIGHT"),
            };
        }

        var quality = 90;
        if (arguments.Value("--quality") is { } qualityText
            && (!int.TryParse(qualityText, NumberStyles.None, CultureInfo.InvariantCulture, out quality) || quality is < 1 or > 100))
        {
            throw arguments.UsageError($"--quality: '{qualityText}' is not 1 to 100");
        }

        var format = Path.GetExtension(output).ToLowerInvariant() switch
        {
            ".png" => "png",
            ".jpg" or ".jpeg" => "jpeg",
            ".gif" => "gif",
            _ => null,
        };
        if (format is null)
        {
            return CommandLine.Fail($"--output: '{output}' must end in .png, .jpg or .gif", 2);
        }

        var file = DicomFile.Open(input);
        var reader = PixelDataReader.Create(file);
        if (reader is null)
        {
            return CommandLine.Fail($"{input}: no pixel data (needs Pixel Data with Rows, Columns and Bits Allocated)", 1);
        }

        int[] frames;
        if (frameText == "all")
        {
            if (format != "gif")
            {
                return CommandLine.Fail("--frame all needs a .gif output", 2);
            }

            frames = [.. Enumerable.Range(0, reader.FrameCount)];
        }
        else if (int.TryParse(frameText, NumberStyles.None, CultureInfo.InvariantCulture, out var frame) && frame >= 1)
        {
            if (frame > reader.FrameCount)
            {
                return CommandLine.Fail($"{input}: frame {frame} requested, the pixel data has {reader.FrameCount}", 1);
            }

            frames = [frame - 1];
        }
        else
        {
            return CommandLine.Fail($"--frame needs a frame number from 1 or 'all', not '{frameText}'", 2);
        }

        try
        {
            var images = frames.Select(f => FrameRenderer.Render(file.Dataset, reader.ReadFrame(f), f, options)).ToList();
            using var stream = new FileStream(output, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            switch (format)
            {
                case "png":
                    PngEncoder.Encode(stream, images[0]);
                    break;
                case "jpeg":
                    JpegEncoder.Encode(stream, images[0], new JpegOptions { Quality = quality });
                    break;
                default:
                    GifEncoder.Encode(stream, images, new GifOptions { DelayCentiseconds = CineTiming.GetGifDelayCentiseconds(file.Dataset) });
                    break;
            }

            return 0;
        }
        catch (NotSupportedException ex)
        {
            return CommandLine.Fail($"{input}: {ex.Message}", 1);
        }
        catch (ImageCodecException ex)
        {
            return CommandLine.Fail($"{input}: {ex.Message}", 1);
        }
    }

    private static RenderOptions? ParseWindow(string text, RenderOptions options)
    {
        switch (text)
        {
            case "first": return options with { Voi = VoiMode.First };
            case "minmax": return options with { Voi = VoiMode.MinMax };
            case "none": return options with { Voi = VoiMode.None };
            case "auto": return options with { Voi = VoiMode.Auto };
        }

        var parts = text.Split(',');
        return parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var center)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var width)
            && width > 0 && double.IsFinite(center) && double.IsFinite(width)
            ? options with { Voi = VoiMode.Window, WindowCenter = center, WindowWidth = width }
            : null;
    }

    private static int[]? ParseNumbers(string text, char separator)
    {
        var parts = text.Split(separator);
        var numbers = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out numbers[i]))
            {
                return null;
            }
        }

        return numbers;
    }
}
