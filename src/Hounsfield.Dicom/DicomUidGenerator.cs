using System.Globalization;
using System.Numerics;

namespace Hounsfield.Dicom;

/// <summary>New UIDs (PS3.5 §9): from a random UUID under "2.25." (Annex B.2), or under an organisation's root.</summary>
public static class DicomUidGenerator
{
    public const int MaxLength = 64;

    /// <summary>"2.25." followed by the UUID's 128 bits as an unsigned decimal integer.</summary>
    public static string FromUuid(Guid? uuid = null)
    {
        var bytes = (uuid ?? Guid.NewGuid()).ToByteArray(bigEndian: true);
        var value = new BigInteger(bytes, isUnsigned: true, isBigEndian: true);
        return "2.25." + value.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// A UID under <paramref name="root"/>: the root, then a component derived from 96 random bits, trimmed so that
    /// the UID fits in 64 characters.
    /// </summary>
    public static string UnderRoot(string root)
    {
        if (!IsValid(root) || root.Length > MaxLength - 12)
        {
            throw new ArgumentException($"'{root}' is not a valid UID root of at most {MaxLength - 12} characters.", nameof(root));
        }

        Span<byte> random = stackalloc byte[12];
        System.Security.Cryptography.RandomNumberGenerator.Fill(random);
        var suffix = new BigInteger(random, isUnsigned: true).ToString(CultureInfo.InvariantCulture);
        var room = MaxLength - root.Length - 1;
        if (suffix.Length > room)
        {
            suffix = suffix[..room];
        }

        suffix = suffix.TrimStart('0');
        return root + "." + (suffix.Length == 0 ? "1" : suffix);
    }

    /// <summary>PS3.5 §9.1: digits and dots, at most 64 characters, no empty component, no leading zero in a component.</summary>
    public static bool IsValid(string? uid)
    {
        if (string.IsNullOrEmpty(uid) || uid.Length > MaxLength)
        {
            return false;
        }

        foreach (var component in uid.Split('.'))
        {
            if (component.Length == 0 || (component.Length > 1 && component[0] == '0'))
            {
                return false;
            }

            foreach (var c in component)
            {
                if (c is < '0' or > '9')
                {
                    return false;
                }
            }
        }

        return true;
    }
}
