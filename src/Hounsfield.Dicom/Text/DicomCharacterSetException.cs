namespace Hounsfield.Dicom.Text;

/// <summary>
/// A Specific Character Set (0008,0005) that is not understood, or a character that cannot be encoded in
/// the declared character sets.
/// </summary>
public sealed class DicomCharacterSetException : DicomFormatException
{
    public DicomCharacterSetException(string message)
        : base(message)
    {
    }
}
