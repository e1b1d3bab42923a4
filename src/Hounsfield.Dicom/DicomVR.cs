namespace Hounsfield.Dicom;

/// <summary>The value representations of PS3.5 §6.2, each encoded as its two ASCII characters.</summary>
public enum DicomVR : ushort
{
    /// <summary>No VR: items and delimiters, or an implicit-VR element not in the dictionary before it is resolved.</summary>
    None = 0,
    AE = ('A' << 8) | 'E',
    AS = ('A' << 8) | 'S',
    AT = ('A' << 8) | 'T',
    CS = ('C' << 8) | 'S',
    DA = ('D' << 8) | 'A',
    DS = ('D' << 8) | 'S',
    DT = ('D' << 8) | 'T',
    FD = ('F' << 8) | 'D',
    FL = ('F' << 8) | 'L',
    IS = ('I' << 8) | 'S',
    LO = ('L' << 8) | 'O',
    LT = ('L' << 8) | 'T',
    OB = ('O' << 8) | 'B',
    OD = ('O' << 8) | 'D',
    OF = ('O' << 8) | 'F',
    OL = ('O' << 8) | 'L',
    OV = ('O' << 8) | 'V',
    OW = ('O' << 8) | 'W',
    PN = ('P' << 8) | 'N',
    SH = ('S' << 8) | 'H',
    SL = ('S' << 8) | 'L',
    SQ = ('S' << 8) | 'Q',
    SS = ('S' << 8) | 'S',
    ST = ('S' << 8) | 'T',
    SV = ('S' << 8) | 'V',
    TM = ('T' << 8) | 'M',
    UC = ('U' << 8) | 'C',
    UI = ('U' << 8) | 'I',
    UL = ('U' << 8) | 'L',
    UN = ('U' << 8) | 'N',
    UR = ('U' << 8) | 'R',
    US = ('U' << 8) | 'S',
    UT = ('U' << 8) | 'T',
    UV = ('U' << 8) | 'V',
}

/// <summary>Encoding facts of each VR (PS3.5 Table 6.2-1 and §7.1.2).</summary>
public static class DicomVRInfo
{
    /// <summary>Parses two ASCII bytes; false when they are not a VR of PS3.5.</summary>
    public static bool TryParse(byte first, byte second, out DicomVR vr)
    {
        vr = (DicomVR)((first << 8) | second);
        return IsKnown(vr);
    }

    public static bool TryParse(ReadOnlySpan<char> text, out DicomVR vr)
    {
        vr = DicomVR.None;
        return text.Length == 2 && text[0] < 128 && text[1] < 128 && TryParse((byte)text[0], (byte)text[1], out vr);
    }

    public static DicomVR Parse(string text) =>
        TryParse(text, out var vr) ? vr : throw new FormatException($"'{text}' is not a DICOM value representation.");

    public static bool IsKnown(DicomVR vr) => vr switch
    {
        DicomVR.AE or DicomVR.AS or DicomVR.AT or DicomVR.CS or DicomVR.DA or DicomVR.DS or DicomVR.DT or DicomVR.FD
            or DicomVR.FL or DicomVR.IS or DicomVR.LO or DicomVR.LT or DicomVR.OB or DicomVR.OD or DicomVR.OF
            or DicomVR.OL or DicomVR.OV or DicomVR.OW or DicomVR.PN or DicomVR.SH or DicomVR.SL or DicomVR.SQ
            or DicomVR.SS or DicomVR.ST or DicomVR.SV or DicomVR.TM or DicomVR.UC or DicomVR.UI or DicomVR.UL
            or DicomVR.UN or DicomVR.UR or DicomVR.US or DicomVR.UT or DicomVR.UV => true,
        _ => false,
    };

    /// <summary>The two-letter code ("--" for none); a literal, so no allocation.</summary>
    public static string ToCode(this DicomVR vr) => vr switch
    {
        DicomVR.AE => "AE",
        DicomVR.AS => "AS",
        DicomVR.AT => "AT",
        DicomVR.CS => "CS",
        DicomVR.DA => "DA",
        DicomVR.DS => "DS",
        DicomVR.DT => "DT",
        DicomVR.FD => "FD",
        DicomVR.FL => "FL",
        DicomVR.IS => "IS",
        DicomVR.LO => "LO",
        DicomVR.LT => "LT",
        DicomVR.OB => "OB",
        DicomVR.OD => "OD",
        DicomVR.OF => "OF",
        DicomVR.OL => "OL",
        DicomVR.OV => "OV",
        DicomVR.OW => "OW",
        DicomVR.PN => "PN",
        DicomVR.SH => "SH",
        DicomVR.SL => "SL",
        DicomVR.SQ => "SQ",
        DicomVR.SS => "SS",
        DicomVR.ST => "ST",
        DicomVR.SV => "SV",
        DicomVR.TM => "TM",
        DicomVR.UC => "UC",
        DicomVR.UI => "UI",
        DicomVR.UL => "UL",
        DicomVR.UN => "UN",
        DicomVR.UR => "UR",
        DicomVR.US => "US",
        DicomVR.UT => "UT",
        DicomVR.UV => "UV",
        DicomVR.None => "--",
        _ => string.Create(2, vr, static (span, v) =>
        {
            span[0] = (char)((ushort)v >> 8);
            span[1] = (char)((ushort)v & 0xFF);
        }),
    };

    /// <summary>Explicit VR encodings use a 2-byte reserved field and a 4-byte length for these (PS3.5 Table 7.1-1).</summary>
    public static bool HasLongLength(this DicomVR vr) => vr switch
    {
        DicomVR.OB or DicomVR.OD or DicomVR.OF or DicomVR.OL or DicomVR.OV or DicomVR.OW or DicomVR.SQ
            or DicomVR.SV or DicomVR.UC or DicomVR.UN or DicomVR.UR or DicomVR.UT or DicomVR.UV => true,
        _ => false,
    };

    /// <summary>Character-string VRs, whose values are text padded with a space (UI: with NUL).</summary>
    public static bool IsString(this DicomVR vr) => vr switch
    {
        DicomVR.AE or DicomVR.AS or DicomVR.CS or DicomVR.DA or DicomVR.DS or DicomVR.DT or DicomVR.IS or DicomVR.LO
            or DicomVR.LT or DicomVR.PN or DicomVR.SH or DicomVR.ST or DicomVR.TM or DicomVR.UC or DicomVR.UI
            or DicomVR.UR or DicomVR.UT => true,
        _ => false,
    };

    /// <summary>String VRs whose bytes go through the Specific Character Set (PS3.5 §6.1.2.3).</summary>
    public static bool UsesSpecificCharacterSet(this DicomVR vr) => vr switch
    {
        DicomVR.LO or DicomVR.LT or DicomVR.PN or DicomVR.SH or DicomVR.ST or DicomVR.UC or DicomVR.UT => true,
        _ => false,
    };

    /// <summary>String VRs that may hold several values separated by a backslash.</summary>
    public static bool IsMultiValuedString(this DicomVR vr) => vr.IsString() && vr is not (DicomVR.LT or DicomVR.ST or DicomVR.UT or DicomVR.UR);

    /// <summary>Size in bytes of one value of a fixed-size binary VR, used for byte swapping; 1 for bytes and text.</summary>
    public static int UnitSize(this DicomVR vr) => vr switch
    {
        DicomVR.AT => 2, // two 16-bit halves, swapped separately
        DicomVR.OW or DicomVR.SS or DicomVR.US => 2,
        DicomVR.OF or DicomVR.OL or DicomVR.FL or DicomVR.SL or DicomVR.UL => 4,
        DicomVR.OD or DicomVR.OV or DicomVR.FD or DicomVR.SV or DicomVR.UV => 8,
        _ => 1,
    };

    public static bool IsBinaryNumber(this DicomVR vr) => vr switch
    {
        DicomVR.FD or DicomVR.FL or DicomVR.SL or DicomVR.SS or DicomVR.SV or DicomVR.UL or DicomVR.US or DicomVR.UV => true,
        _ => false,
    };

    /// <summary>Other-binary VRs (OB OD OF OL OV OW UN) whose values are bulk data.</summary>
    public static bool IsBulk(this DicomVR vr) => vr switch
    {
        DicomVR.OB or DicomVR.OD or DicomVR.OF or DicomVR.OL or DicomVR.OV or DicomVR.OW or DicomVR.UN => true,
        _ => false,
    };

    /// <summary>Whether values of this VR are written as bytes (InlineBinary, bulk data): the bulk VRs, and no VR at all (an element whose VR is unknown).</summary>
    public static bool HasBinaryValue(this DicomVR vr) => vr.IsBulk() || vr == DicomVR.None;

    /// <summary>The byte a value of this VR is padded with to an even length (PS3.5 §6.2).</summary>
    public static byte PaddingByte(this DicomVR vr) => vr is DicomVR.UI or DicomVR.OB or DicomVR.UN ? (byte)0 : vr.IsString() ? (byte)' ' : (byte)0;
}
