using System.Globalization;

namespace Hounsfield.Dicom;

/// <summary>One row of the PS3.6 Annex A registry of DICOM unique identifiers.</summary>
/// <param name="Type">"SOP Class", "Transfer Syntax", "Well-known SOP Instance", "LDAP OID", ...</param>
/// <param name="Info">PS3.6 notes such as "Default Transfer Syntax for DICOM"; usually empty.</param>
public sealed record DicomUidInfo(string Uid, string Name, string Keyword, string Type, string Info, bool IsRetired)
{
    public bool IsTransferSyntax => Type == "Transfer Syntax";

    public bool IsSopClass => Type is "SOP Class" or "Meta SOP Class";

    public override string ToString() => Name.Length > 0 ? $"{Uid} ({Name})" : Uid;
}

/// <summary>The UIDs of PS3.6 Annex A: a constant per keyword (generated) and a lookup by value.</summary>
public static partial class DicomUids
{
    /// <summary>The registry entry of <paramref name="uid"/>, or null; a trailing NUL or space pad is ignored.</summary>
    public static DicomUidInfo? Find(string uid)
    {
        if (string.IsNullOrEmpty(uid))
        {
            return null;
        }

        var byUid = Registry.ByUid;
        if (byUid.TryGetValue(uid, out var info))
        {
            return info;
        }

        return uid[^1] is '\0' or ' ' && byUid.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(uid.AsSpan().TrimEnd("\0 "), out info)
            ? info
            : null;
    }

    /// <summary>Every registered UID, in numeric order of its components.</summary>
    public static IReadOnlyList<DicomUidInfo> All => Registry.All;

    /// <summary>Built on first use from <see cref="RegistryText"/>; type initialisation is thread-safe.</summary>
    private static class Registry
    {
        private static readonly DicomUidInfo[] Items = Parse(RegistryText);

        internal static readonly IReadOnlyList<DicomUidInfo> All = Array.AsReadOnly(Items);

        internal static readonly Dictionary<string, DicomUidInfo> ByUid = Index(Items);

        private static DicomUidInfo[] Parse(string text)
        {
            var items = new List<DicomUidInfo>(512);
            var types = new List<string>();
            var rest = text.AsSpan();
            while (TableText.NextLine(ref rest, out var line))
            {
                if (line.IsEmpty)
                {
                    continue;
                }

                if (!TableText.NextField(ref line, out var uid)
                    || !TableText.NextField(ref line, out var name)
                    || !TableText.NextField(ref line, out var keyword)
                    || !TableText.NextField(ref line, out var type)
                    || !TableText.NextField(ref line, out var info)
                    || line is not ("Y" or "N"))
                {
                    throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"The UID registry is corrupt after {items.Count} rows."));
                }

                items.Add(new DicomUidInfo(
                    uid.ToString(), name.ToString(), keyword.ToString(), TableText.Share(types, type),
                    info.IsEmpty ? string.Empty : info.ToString(), line is "Y"));
            }

            return items.ToArray();
        }

        private static Dictionary<string, DicomUidInfo> Index(DicomUidInfo[] items)
        {
            var byUid = new Dictionary<string, DicomUidInfo>(items.Length, StringComparer.Ordinal);
            foreach (var info in items)
            {
                byUid.Add(info.Uid, info);
            }

            return byUid;
        }
    }
}
