using System.Collections.Concurrent;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Hounsfield.Dicom.Text;

namespace Hounsfield.Dicom;

/// <summary>
/// One data element of the dictionary (PS3.6 Table 6-1, PS3.7 Table E.1-1), or a pattern of them: when
/// <see cref="IsMask"/> the entry matches every tag t with <c>(t.Value &amp; Mask) == Tag.Value</c>, e.g.
/// (60xx,3000) Overlay Data has Tag (6000,3000) and Mask 0xFF00FFFF.
/// </summary>
public sealed record DicomDictionaryEntry(
    DicomTag Tag,
    uint Mask,
    IReadOnlyList<DicomVR> ValueRepresentations,
    string ValueMultiplicity,
    string Keyword,
    string Name,
    bool IsRetired)
{
    /// <summary>The first VR PS3.6 lists ("OB or OW" gives OB), or <see cref="DicomVR.None"/> for items and delimiters.</summary>
    public DicomVR DefaultVR => ValueRepresentations.Count > 0 ? ValueRepresentations[0] : DicomVR.None;

    public bool IsMask => Mask != 0xFFFFFFFF;

    /// <summary>True when the VR depends on context, e.g. "US or SS" or "OB or OW".</summary>
    public bool HasAmbiguousVR => ValueRepresentations.Count > 1;

    public bool Matches(DicomTag tag) => (tag.Value & Mask) == Tag.Value;

    /// <summary>"(0010,0010) PN 1 PatientName"; a mask shows its repeating digits as x, e.g. "(60xx,3000)".</summary>
    public override string ToString()
    {
        var text = Tag.ToString().ToCharArray();
        for (var digit = 0; digit < 8; digit++)
        {
            if (((Mask >> (28 - (4 * digit))) & 0xF) == 0)
            {
                text[digit < 4 ? digit + 1 : digit + 2] = 'x';
            }
        }

        var vrs = ValueRepresentations.Count == 0 ? "--" : string.Join('/', ValueRepresentations.Select(vr => vr.ToCode()));
        return $"{new string(text)} {vrs} {ValueMultiplicity} {Keyword}";
    }
}

/// <summary>
/// The public data dictionary, generated from PS3.6 (see scripts/generate-dictionary.py) and loaded lazily from an
/// embedded resource on first use, plus a run-time registry of private data elements.
/// </summary>
public static class DicomDictionary
{
    /// <summary>The edition of PS3.6 the dictionary was generated from.</summary>
    public const string Edition = "2024d";

    private const uint ExactMask = 0xFFFFFFFF;
    private const string ResourceName = "Hounsfield.Dicom.DicomDictionary.tsv";

    private static readonly IReadOnlyList<DicomVR> NoVR = Array.Empty<DicomVR>();

    /// <summary>(gggg,0000) of any group: UL, PS3.5 §7.2. Tag (0000,0000), Mask 0x0000FFFF.</summary>
    private static readonly DicomDictionaryEntry GroupLength = new(
        new DicomTag(0x0000, 0x0000), 0x0000FFFF, Array.AsReadOnly(new[] { DicomVR.UL }), "1",
        "GenericGroupLength", "Generic Group Length", false);

    /// <summary>
    /// (gggg,0010)-(gggg,00FF) of an odd group: LO, PS3.5 §7.8.1. Shared by every creator element, so its Tag is
    /// the first of them, (0009,0010), and its Mask 0x0001FF00 (odd group, element 00xx) only approximates the range.
    /// </summary>
    private static readonly DicomDictionaryEntry PrivateCreator = new(
        new DicomTag(0x0009, 0x0010), 0x0001FF00, Array.AsReadOnly(new[] { DicomVR.LO }), "1",
        "PrivateCreator", "Private Creator", false);

    /// <summary>All public entries (single tags and masks) in tag order; a mask sorts as its lowest match.</summary>
    public static IReadOnlyList<DicomDictionaryEntry> Entries => Tables.Instance.Entries;

    /// <summary>
    /// The entry that describes <paramref name="tag"/>: the exact public entry; else a group length (gggg,0000);
    /// else a private creator (odd gggg,0010-00FF); else a repeating-group or repeating-element mask such as
    /// (60xx,3000) — repeating groups match even groups only (PS3.5 §7.6); else null. Private data elements
    /// need their creator: see <see cref="FindPrivate"/>.
    /// </summary>
    public static DicomDictionaryEntry? Find(DicomTag tag)
    {
        var tables = Tables.Instance;
        var entry = tables.ByTag.Find(tag.Value);
        if (entry is not null)
        {
            return entry;
        }

        if (tag.IsGroupLength)
        {
            return GroupLength;
        }

        if (tag.IsPrivate)
        {
            return tag.IsPrivateCreator ? PrivateCreator : null;
        }

        return tables.FindMask(tag);
    }

    /// <summary>The public entry with this keyword (case-sensitive, e.g. "PatientName"), masks included.</summary>
    public static DicomDictionaryEntry? FindByKeyword(string keyword) =>
        keyword is not null && Tables.Instance.ByKeyword.TryGetValue(keyword, out var entry) ? entry : null;

    /// <summary>The VR to assume for an implicit-VR element: the entry's first VR, or UN when the tag is unknown.</summary>
    public static DicomVR GetDefaultVR(DicomTag tag) => Find(tag)?.DefaultVR ?? DicomVR.UN;

    /// <summary>
    /// Registers a private data element (gggg,xxyy) of <paramref name="creator"/>: <paramref name="elementOffset"/> is
    /// yy, the low byte of the element; the block xx is whatever (gggg,00xx) the creator reserved in a data set.
    /// A later registration of the same (creator, group, offset) replaces the earlier one. Thread-safe.
    /// </summary>
    public static void RegisterPrivate(
        string creator, ushort group, byte elementOffset, DicomVR vr, string valueMultiplicity, string keyword, string name)
    {
        ArgumentNullException.ThrowIfNull(creator);
        ArgumentNullException.ThrowIfNull(valueMultiplicity);
        ArgumentNullException.ThrowIfNull(keyword);
        ArgumentNullException.ThrowIfNull(name);
        var key = NormalizeCreator(creator);
        if (key.Length == 0)
        {
            throw new ArgumentException("A private creator must not be empty.", nameof(creator));
        }

        if (!new DicomTag(group, 0x1000).IsPrivate)
        {
            throw new ArgumentOutOfRangeException(nameof(group), group, "Private data elements need an odd group above 0007 other than FFFF.");
        }

        if (vr != DicomVR.None && !DicomVRInfo.IsKnown(vr))
        {
            throw new ArgumentOutOfRangeException(nameof(vr), vr, "Not a value representation of PS3.5.");
        }

        var entry = new DicomDictionaryEntry(
            new DicomTag(group, elementOffset), 0xFFFF00FF, vr == DicomVR.None ? NoVR : Array.AsReadOnly(new[] { vr }), valueMultiplicity, keyword, name, false);
        Private.Entries[(key, group, elementOffset)] = entry;
    }

    /// <summary>
    /// The registered entry for private data element (gggg,xxyy) of <paramref name="creator"/> (the value of the
    /// data set's (gggg,00xx)), or null. The entry's Tag is (gggg,00yy) with Mask 0xFFFF00FF. Thread-safe.
    /// </summary>
    public static DicomDictionaryEntry? FindPrivate(string creator, DicomTag tag)
    {
        if (creator is null || !tag.IsPrivate || tag.Element < 0x1000 || Private.Entries.IsEmpty)
        {
            return null;
        }

        return Private.Entries.TryGetValue((NormalizeCreator(creator), tag.Group, (byte)tag.Element), out var entry) ? entry : null;
    }

    /// <summary>Creator values are LO: leading and trailing spaces (and a stray NUL pad) are not significant.</summary>
    private static string NormalizeCreator(string creator) => creator.TrimPadding();

    private static class Private
    {
        internal static readonly ConcurrentDictionary<(string Creator, ushort Group, byte Offset), DicomDictionaryEntry> Entries = new();
    }

    /// <summary>The public tables, built once on first use (type initialisation is thread-safe).</summary>
    private sealed class Tables
    {
        internal static readonly Tables Instance = Load();

        /// <summary>The distinct masks ((60xx,eeee) is 0xFF00FFFF, (0020,31xx) 0xFFFFFF00, ...) and, per mask, its entries by Tag.</summary>
        private readonly uint[] maskShapes;
        private readonly TagTable[] masksByShape;

        /// <summary>One bit per group number that some mask can match, so most misses skip the mask lookups.</summary>
        private readonly ulong[] maskGroups = new ulong[65536 / 64];

        private Tables(DicomDictionaryEntry[] entries, int maskCount)
        {
            Entries = Array.AsReadOnly(entries);
            ByTag = new TagTable(entries.Length - maskCount);
            ByKeyword = new Dictionary<string, DicomDictionaryEntry>(entries.Length, StringComparer.Ordinal);
            var shapes = new List<uint>();
            var byShape = new List<TagTable>();
            foreach (var entry in entries)
            {
                if (entry.Keyword.Length > 0)
                {
                    ByKeyword.Add(entry.Keyword, entry);
                }

                if (!entry.IsMask)
                {
                    ByTag.Add(entry.Tag.Value, entry);
                    continue;
                }

                var shape = 0; // a manual search: List<uint>.IndexOf would JIT vectorised helpers for a handful of items
                while (shape < shapes.Count && shapes[shape] != entry.Mask)
                {
                    shape++;
                }

                if (shape == shapes.Count)
                {
                    shape = shapes.Count;
                    shapes.Add(entry.Mask);
                    byShape.Add(new TagTable(16));
                }

                byShape[shape].Add(entry.Tag.Value, entry);
                var group = entry.Tag.Group;
                var free = (ushort)~(entry.Mask >> 16); // the 'x' bits of the group: mark every group they can make
                for (var bits = free; ; bits = (ushort)((bits - 1) & free))
                {
                    var candidate = group | bits;
                    maskGroups[candidate >> 6] |= 1UL << (candidate & 63);
                    if (bits == 0)
                    {
                        break;
                    }
                }
            }

            maskShapes = shapes.ToArray();
            masksByShape = byShape.ToArray();
        }

        internal ReadOnlyCollection<DicomDictionaryEntry> Entries { get; }

        internal TagTable ByTag { get; }

        internal Dictionary<string, DicomDictionaryEntry> ByKeyword { get; }

        /// <summary>The mask entry matching <paramref name="tag"/>; a repeating group (x in the group) holds even groups only (PS3.5 §7.6).</summary>
        internal DicomDictionaryEntry? FindMask(DicomTag tag)
        {
            var group = tag.Group;
            if ((maskGroups[group >> 6] & (1UL << (group & 63))) == 0)
            {
                return null;
            }

            for (var i = 0; i < maskShapes.Length; i++)
            {
                var shape = maskShapes[i];
                var entry = masksByShape[i].Find(tag.Value & shape);
                if (entry is not null && ((shape & 0x00FF0000) == 0x00FF0000 || (group & 1) == 0))
                {
                    return entry;
                }
            }

            return null;
        }

        /// <summary>
        /// Parses the generated resource: '#' comment lines, then one entry a line with the tab-separated columns
        /// tag (GGGGEEEE, 'x' for a repeating digit), VRs ('/'-separated, "--" for none), VM, retired (Y/N),
        /// keyword, name.
        /// </summary>
        private static Tables Load()
        {
            string text;
            using (var stream = typeof(DicomDictionary).Assembly.GetManifestResourceStream(ResourceName)
                ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing."))
            {
                var bytes = new byte[stream.Length];
                stream.ReadExactly(bytes);
                text = Encoding.UTF8.GetString(bytes);
            }

            var entries = new List<DicomDictionaryEntry>(5400);
            var vrTexts = new List<string>();
            var vrLists = new List<IReadOnlyList<DicomVR>>();
            var multiplicities = new List<string>();
            var maskCount = 0;
            var lineNumber = 0;
            var rest = text.AsSpan();
            while (TableText.NextLine(ref rest, out var line))
            {
                lineNumber++;
                if (line.IsEmpty || line[0] == '#')
                {
                    continue;
                }

                if (!TableText.NextField(ref line, out var tagText)
                    || !TableText.NextField(ref line, out var vrText)
                    || !TableText.NextField(ref line, out var vmText)
                    || !TableText.NextField(ref line, out var retiredText)
                    || !TableText.NextField(ref line, out var keyword)
                    || line.IsEmpty
                    || line.Contains('\t')
                    || retiredText is not ("Y" or "N")
                    || !TryParseTag(tagText, out var value, out var mask)
                    || !TryShareVRs(vrTexts, vrLists, vrText, out var vrs))
                {
                    throw new InvalidDataException(string.Create(
                        CultureInfo.InvariantCulture, $"The embedded resource {ResourceName} is corrupt at line {lineNumber}."));
                }

                maskCount += mask == ExactMask ? 0 : 1;
                entries.Add(new DicomDictionaryEntry(
                    new DicomTag(value), mask, vrs, TableText.Share(multiplicities, vmText),
                    keyword.IsEmpty ? string.Empty : keyword.ToString(), line.ToString(), retiredText is "Y"));
            }

            return new Tables(entries.ToArray(), maskCount);
        }

        /// <summary>"GGGGEEEE" in upper-case hex, an 'x' for each repeating digit.</summary>
        private static bool TryParseTag(ReadOnlySpan<char> text, out uint value, out uint mask)
        {
            value = 0;
            mask = 0;
            if (text.Length != 8)
            {
                return false;
            }

            foreach (var c in text)
            {
                value <<= 4;
                mask <<= 4;
                if (c == 'x')
                {
                    continue;
                }

                mask |= 0xF;
                if (c is >= '0' and <= '9')
                {
                    value |= (uint)(c - '0');
                }
                else if (c is >= 'A' and <= 'F')
                {
                    value |= (uint)(c - 'A' + 10);
                }
                else
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>One list per VR text ("US/SS", "--", ...): about 40 of them, shared by all entries.</summary>
        private static bool TryShareVRs(
            List<string> texts, List<IReadOnlyList<DicomVR>> lists, ReadOnlySpan<char> text, out IReadOnlyList<DicomVR> vrs)
        {
            for (var i = 0; i < texts.Count; i++)
            {
                if (text.SequenceEqual(texts[i]))
                {
                    vrs = lists[i];
                    return true;
                }
            }

            vrs = NoVR;
            if (text is not "--")
            {
                var parsed = new DicomVR[(text.Length + 1) / 3];
                if (text.Length != (3 * parsed.Length) - 1)
                {
                    return false;
                }

                for (var i = 0; i < parsed.Length; i++)
                {
                    if ((i > 0 && text[(3 * i) - 1] != '/') || !DicomVRInfo.TryParse(text.Slice(3 * i, 2), out parsed[i]))
                    {
                        return false;
                    }
                }

                vrs = Array.AsReadOnly(parsed);
            }

            texts.Add(text.ToString());
            lists.Add(vrs);
            return true;
        }
    }

    /// <summary>
    /// A read-only hash map from tag value to entry (open addressing, linear probing). Used instead of
    /// Dictionary&lt;uint, T&gt;, which the runtime does not precompile: its 5000 inserts would run in unoptimised
    /// tier-0 code at start-up, and its lookups are no faster.
    /// </summary>
    private sealed class TagTable
    {
        private uint[] keys;
        private DicomDictionaryEntry?[] values;
        private int shift;
        private int count;

        /// <summary>An empty table sized for <paramref name="capacity"/> entries; it grows when needed.</summary>
        internal TagTable(int capacity)
        {
            var bits = 4;
            while ((1 << bits) < 2 * capacity)
            {
                bits++;
            }

            keys = new uint[1 << bits];
            values = new DicomDictionaryEntry?[1 << bits];
            shift = 32 - bits;
        }

        /// <summary>Adds an entry; the table stays at most half full, so a probe always reaches an empty slot.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal void Add(uint key, DicomDictionaryEntry entry)
        {
            if (2 * (count + 1) > keys.Length)
            {
                var (oldKeys, oldValues) = (keys, values);
                keys = new uint[2 * oldKeys.Length];
                values = new DicomDictionaryEntry?[2 * oldKeys.Length];
                shift--;
                count = 0;
                for (var i = 0; i < oldKeys.Length; i++)
                {
                    if (oldValues[i] is { } old)
                    {
                        Add(oldKeys[i], old);
                    }
                }
            }

            var slot = Slot(key);
            while (values[slot] is not null)
            {
                if (keys[slot] == key)
                {
                    throw new InvalidDataException($"The dictionary has two entries for {entry.Tag}.");
                }

                slot = (slot + 1) & (keys.Length - 1);
            }

            keys[slot] = key;
            values[slot] = entry;
            count++;
        }

        internal DicomDictionaryEntry? Find(uint key)
        {
            var slot = Slot(key);
            while (true)
            {
                var value = values[slot];
                if (value is null || keys[slot] == key)
                {
                    return value;
                }

                slot = (slot + 1) & (keys.Length - 1);
            }
        }

        /// <summary>Fibonacci hashing: the top bits of key × 2^32/φ.</summary>
        private int Slot(uint key) => (int)((key * 0x9E3779B9u) >> shift);
    }
}
