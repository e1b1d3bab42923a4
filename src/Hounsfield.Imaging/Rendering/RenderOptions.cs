namespace Hounsfield.Imaging.Rendering;

/// <summary>Which value-of-interest transform (PS3.4 N.2.1.3, PS3.3 C.11.2) the renderer applies to grayscale frames.</summary>
public enum VoiMode
{
    /// <summary>
    /// What a viewer shows first: the frame's window (Frame VOI LUT functional group), else the data set's first window,
    /// else its first VOI LUT, else the frame's value range after the modality LUT (min-max).
    /// </summary>
    Auto,

    /// <summary>The data set's first Window Center/Width (else its first VOI LUT, else min-max), as dcm2pnm +Wi 1.</summary>
    First,

    /// <summary>A linear window over the frame's smallest to largest value after the modality LUT, as dcm2pnm +Wm.</summary>
    MinMax,

    /// <summary>
    /// No VOI: the modality LUT's output over the full stored range mapped linearly to the output range, as dcm2pnm
    /// does without a VOI option.
    /// </summary>
    None,

    /// <summary>The window given by <see cref="RenderOptions.WindowCenter"/> and <see cref="RenderOptions.WindowWidth"/>.</summary>
    Window,
}

/// <summary>The VOI LUT Function (0028,1056) of a window (PS3.3 C.11.2.1.3).</summary>
public enum VoiFunction
{
    Linear,
    LinearExact,
    Sigmoid,
}

/// <summary>A rectangle of the frame, in pixels (columns from the left, rows from the top).</summary>
public readonly record struct PixelRegion(int X, int Y, int Width, int Height);

/// <summary>How <see cref="FrameRenderer"/> turns a frame into 8-bit gray or RGB display values. Defaults: automatic VOI, whole frame, native size.</summary>
public sealed record RenderOptions
{
    public static readonly RenderOptions Default = new();

    /// <summary>The VOI transform; default <see cref="VoiMode.Auto"/>.</summary>
    public VoiMode Voi { get; init; } = VoiMode.Auto;

    /// <summary>Window centre for <see cref="VoiMode.Window"/>, in modality LUT output units.</summary>
    public double WindowCenter { get; init; }

    /// <summary>Window width for <see cref="VoiMode.Window"/> (at least 1 for LINEAR, more than 0 otherwise).</summary>
    public double WindowWidth { get; init; }

    /// <summary>The function of a caller-given window; null: the data set's VOI LUT Function, else LINEAR.</summary>
    public VoiFunction? Function { get; init; }

    /// <summary>The part of the frame to render; null for the whole frame. Clipped to the frame.</summary>
    public PixelRegion? Region { get; init; }

    /// <summary>
    /// Output width in pixels; null keeps the region's width, or follows <see cref="OutputHeight"/> with the same aspect ratio.
    /// Downscaling averages areas; upscaling interpolates bilinearly.
    /// </summary>
    public int? OutputWidth { get; init; }

    /// <summary>Output height in pixels; null keeps the region's height, or follows <see cref="OutputWidth"/>.</summary>
    public int? OutputHeight { get; init; }

    /// <summary>Burn in the Overlay Planes (60xx,3000) of the data set (PS3.3 C.9.2) in white, as dcm2pnm does by default. Default true.</summary>
    public bool ShowOverlays { get; init; } = true;
}
