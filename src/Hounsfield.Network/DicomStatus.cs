// DIMSE status codes: PS3.7 Annex C (status classes) and the service-specific codes of PS3.4 (C.4.1.1.4, C.4.2.1.5,
// C.4.3.1.4, GG.4.1.1.4, B.2.3).
using System.Globalization;

namespace Hounsfield.Network;

public enum DicomStatusCategory
{
    Success,
    Pending,
    Cancel,
    Warning,
    Failure,
}

/// <summary>The Status (0000,0900) of a DIMSE response.</summary>
public readonly record struct DicomStatus(ushort Code)
{
    public static readonly DicomStatus Success = new(0x0000);

    /// <summary>Matches (or sub-operations) are continuing (PS3.4 C.4.1.1.4).</summary>
    public static readonly DicomStatus Pending = new(0xFF00);

    /// <summary>Matches are continuing, but one or more optional keys were not supported.</summary>
    public static readonly DicomStatus PendingWarning = new(0xFF01);

    public static readonly DicomStatus Cancel = new(0xFE00);

    /// <summary>C-STORE warning: coercion of data elements (PS3.4 B.2.3).</summary>
    public static readonly DicomStatus CoercionOfDataElements = new(0xB000);

    /// <summary>C-STORE warning: data set does not match SOP class.</summary>
    public static readonly DicomStatus DataSetDoesNotMatchSopClassWarning = new(0xB007);

    /// <summary>C-STORE warning: elements discarded.</summary>
    public static readonly DicomStatus ElementsDiscarded = new(0xB006);

    /// <summary>C-MOVE / C-GET warning: sub-operations complete, one or more failures or warnings (PS3.4 C.4.2.1.5).</summary>
    public static readonly DicomStatus SubOperationsCompleteWithFailures = new(0xB000);

    /// <summary>Out of resources (C-STORE, C-FIND).</summary>
    public static readonly DicomStatus OutOfResources = new(0xA700);

    /// <summary>C-MOVE / C-GET: out of resources, unable to calculate number of matches.</summary>
    public static readonly DicomStatus OutOfResourcesUnableToCalculateMatches = new(0xA701);

    /// <summary>C-MOVE / C-GET: out of resources, unable to perform sub-operations.</summary>
    public static readonly DicomStatus OutOfResourcesUnableToPerformSubOperations = new(0xA702);

    /// <summary>C-MOVE: move destination unknown.</summary>
    public static readonly DicomStatus MoveDestinationUnknown = new(0xA801);

    /// <summary>Identifier (or data set) does not match SOP class.</summary>
    public static readonly DicomStatus IdentifierDoesNotMatchSopClass = new(0xA900);

    /// <summary>Unable to process (C-FIND, C-MOVE, C-GET: Cxxx; C-STORE: cannot understand).</summary>
    public static readonly DicomStatus UnableToProcess = new(0xC000);

    /// <summary>General failure: processing failure (PS3.7 C.5.1).</summary>
    public static readonly DicomStatus ProcessingFailure = new(0x0110);

    /// <summary>Duplicate SOP instance (PS3.7 C.5.6).</summary>
    public static readonly DicomStatus DuplicateSopInstance = new(0x0111);

    /// <summary>No such SOP class (PS3.7 C.5.11).</summary>
    public static readonly DicomStatus NoSuchSopClass = new(0x0118);

    /// <summary>SOP class not supported (PS3.7 C.5.13).</summary>
    public static readonly DicomStatus SopClassNotSupported = new(0x0122);

    /// <summary>Not authorized (PS3.7 C.5.20).</summary>
    public static readonly DicomStatus NotAuthorized = new(0x0124);

    /// <summary>Unrecognized operation (PS3.7 C.5.15).</summary>
    public static readonly DicomStatus UnrecognizedOperation = new(0x0211);

    public DicomStatusCategory Category => Code switch
    {
        0x0000 => DicomStatusCategory.Success,
        0xFF00 or 0xFF01 => DicomStatusCategory.Pending,
        0xFE00 => DicomStatusCategory.Cancel,
        0x0001 or 0x0107 or 0x0116 or (>= 0xB000 and <= 0xBFFF) => DicomStatusCategory.Warning,
        _ => DicomStatusCategory.Failure,
    };

    public bool IsSuccess => Category == DicomStatusCategory.Success;

    public bool IsPending => Category == DicomStatusCategory.Pending;

    /// <summary>Success or warning: the operation was performed.</summary>
    public bool IsSuccessOrWarning => Category is DicomStatusCategory.Success or DicomStatusCategory.Warning;

    /// <summary>A final status: anything but pending.</summary>
    public bool IsFinal => Category != DicomStatusCategory.Pending;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"0x{Code:X4} ({Category})");
}
