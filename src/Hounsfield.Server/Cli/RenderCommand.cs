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
        string? input = null, output = null;
        string frameText = "1";
        var options = new RenderOptions();
        var quality = 90;
        for (var i = 0; i < args.Length; i++)
        {
            var hasValue = i + 1 < args.Length;
            switch (args[i])
            {
                case "--frame" when hasValue:
                    frameText = args[++i];
                    break;
                case "--output" or "-o" when hasValue:
                    output = args[++i];
                    break;
                case "--window" when hasValue:
                    if (ParseWindow(args[++i], options) is not { } windowed)
                    {
                        return CommandLine.Fail($"--window: '{args[i]}' is not C,W, first, minmax, none or auto", 2);
                    }

                    options = windowed;
                    break;
                case "--region" when hasValue:
                    if (ParseNumbers(args[++i], ',') is not [var x, var y, var w, var h] || w < 1 || h < 1)
                    {
                        return CommandLine.Fail($"--region: '{args[i]}' is not X,Y,WIDTH,HEIGHT", 2);
                    }

                    options = options with { Region = new PixelRegion(x, y, w, h) };
                    break;
                case "--size" when hasValue:
                    switch (ParseNumbers(args[++i], 'x'))
                    {
                        case [var width] when width > 0:
                            options = options with { OutputWidth = width };
                            break;
                        case [var width, var height] when width > 0 && height > 0:
                            options = options with { OutputWidth = width, OutputHeight = height };
                            break;
                        default:
                            return CommandLine.Fail($"--size: '{args[i]}' is not WIDTH or WIDTHxHEIGHT", 2);
                    }

                    break;
                case "--quality" when hasValue:
                    if (!int.TryParse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture, out quality) || quality is < 1 or > 100)
                    {
                        return CommandLine.Fail($"--quality: '{args[i]}' is not 1 to 100", 2);
                    }

                    break;
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal) || input is not null)
                    {
                        return CommandLine.Fail($"render: unexpected argument '{args[i]}'\n{Usage}", 2);
                    }

                    input = args[i];
                    break;
            }
        }

        if (input is null || output is null)
        {
            return CommandLine.Fail(Usage, 2);
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
