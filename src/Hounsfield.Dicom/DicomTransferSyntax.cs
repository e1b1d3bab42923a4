namespace Hounsfield.Dicom;

/// <summary>A transfer syntax (PS3.5 §10 and Annex A): how a data set and its pixel data are encoded.</summary>
public sealed class DicomTransferSyntax : IEquatable<DicomTransferSyntax>
{
    private static readonly Dictionary<string, DicomTransferSyntax> Known = new(StringComparer.Ordinal);

    public static readonly DicomTransferSyntax ImplicitVRLittleEndian = Register("1.2.840.10008.1.2", "Implicit VR Little Endian", explicitVR: false);
    public static readonly DicomTransferSyntax ExplicitVRLittleEndian = Register("1.2.840.10008.1.2.1", "Explicit VR Little Endian");
    public static readonly DicomTransferSyntax EncapsulatedUncompressedExplicitVRLittleEndian = Register("1.2.840.10008.1.2.1.98", "Encapsulated Uncompressed Explicit VR Little Endian", encapsulated: true);
    public static readonly DicomTransferSyntax DeflatedExplicitVRLittleEndian = Register("1.2.840.10008.1.2.1.99", "Deflated Explicit VR Little Endian", deflated: true);
    public static readonly DicomTransferSyntax ExplicitVRBigEndian = Register("1.2.840.10008.1.2.2", "Explicit VR Big Endian", bigEndian: true);
    public static readonly DicomTransferSyntax JpegBaseline = Register("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)", encapsulated: true, lossy: true);
    public static readonly DicomTransferSyntax JpegExtended = Register("1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4)", encapsulated: true, lossy: true);
    public static readonly DicomTransferSyntax JpegLossless = Register("1.2.840.10008.1.2.4.57", "JPEG Lossless, Non-Hierarchical (Process 14)", encapsulated: true);
    public static readonly DicomTransferSyntax JpegLosslessSV1 = Register("1.2.840.10008.1.2.4.70", "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])", encapsulated: true);
    public static readonly DicomTransferSyntax JpegLSLossless = Register("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless Image Compression", encapsulated: true);
    public static readonly DicomTransferSyntax JpegLSNearLossless = Register("1.2.840.10008.1.2.4.81", "JPEG-LS Lossy (Near-Lossless) Image Compression", encapsulated: true, lossy: true);
    public static readonly DicomTransferSyntax Jpeg2000Lossless = Register("1.2.840.10008.1.2.4.90", "JPEG 2000 Image Compression (Lossless Only)", encapsulated: true);
    public static readonly DicomTransferSyntax Jpeg2000 = Register("1.2.840.10008.1.2.4.91", "JPEG 2000 Image Compression", encapsulated: true, lossy: true);
    public static readonly DicomTransferSyntax HtJpeg2000Lossless = Register("1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 Image Compression (Lossless Only)", encapsulated: true);
    public static readonly DicomTransferSyntax HtJpeg2000LosslessRpcl = Register("1.2.840.10008.1.2.4.202", "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)", encapsulated: true);
    public static readonly DicomTransferSyntax HtJpeg2000 = Register("1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000 Image Compression", encapsulated: true, lossy: true);
    public static readonly DicomTransferSyntax RleLossless = Register("1.2.840.10008.1.2.5", "RLE Lossless", encapsulated: true);
    public static readonly DicomTransferSyntax DeflatedImageFrameCompression = Register("1.2.840.10008.1.2.8.1", "Deflated Image Frame Compression", encapsulated: true);

    private DicomTransferSyntax(string uid, string name, bool explicitVR, bool bigEndian, bool deflated, bool encapsulated, bool lossy, bool isKnown)
    {
        Uid = uid;
        Name = name;
        IsExplicitVR = explicitVR;
        IsBigEndian = bigEndian;
        IsDeflated = deflated;
        IsEncapsulated = encapsulated;
        IsLossy = lossy;
        IsKnown = isKnown;
    }

    public string Uid { get; }

    public string Name { get; }

    public bool IsExplicitVR { get; }

    public bool IsBigEndian { get; }

    /// <summary>The whole data set after the file meta information is deflated (PS3.5 A.5).</summary>
    public bool IsDeflated { get; }

    /// <summary>Pixel data is a sequence of fragments (PS3.5 A.4).</summary>
    public bool IsEncapsulated { get; }

    public bool IsLossy { get; }

    /// <summary>False for a UID this library does not know; such a syntax is read as explicit VR little endian, encapsulated.</summary>
    public bool IsKnown { get; }

    /// <summary>Native transfer syntaxes hold uncompressed pixel data in a plain value.</summary>
    public bool IsNative => !IsEncapsulated;

    public static IReadOnlyCollection<DicomTransferSyntax> All => Known.Values;

    public static DicomTransferSyntax Lookup(string uid)
    {
        var trimmed = uid.Trim().TrimEnd('\0').Trim();
        if (Known.TryGetValue(trimmed, out var syntax))
        {
            return syntax;
        }

        var name = DicomUids.Find(trimmed)?.Name ?? trimmed;
        return new DicomTransferSyntax(trimmed, name, explicitVR: true, bigEndian: false, deflated: false, encapsulated: true, lossy: false, isKnown: false);
    }

    public static bool TryLookup(string uid, out DicomTransferSyntax syntax)
    {
        syntax = Lookup(uid);
        return syntax.IsKnown;
    }

    public bool Equals(DicomTransferSyntax? other) => other is not null && other.Uid == Uid;

    public override bool Equals(object? obj) => Equals(obj as DicomTransferSyntax);

    public override int GetHashCode() => Uid.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => $"{Name} ({Uid})";

    private static DicomTransferSyntax Register(string uid, string name, bool explicitVR = true, bool bigEndian = false, bool deflated = false, bool encapsulated = false, bool lossy = false)
    {
        var syntax = new DicomTransferSyntax(uid, name, explicitVR, bigEndian, deflated, encapsulated, lossy, isKnown: true);
        Known.Add(uid, syntax);
        return syntax;
    }
}
