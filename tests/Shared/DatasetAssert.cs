using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;

namespace Hounsfield.Testing;

/// <summary>How strictly two data sets must agree.</summary>
public enum DatasetComparison
{
    /// <summary>Every element, with its VR; group lengths by presence only (their value depends on the encoding).</summary>
    Strict,

    /// <summary>As another implementation re-encodes: VRs, group lengths, trailing padding (FFFC,FFFC) and string padding ignored.</summary>
    AsReencoded,
}

/// <summary>Structural equality of data sets: tags, VRs, value bytes, items and fragments, recursively. One copy for every test project.</summary>
public static class DatasetAssert
{
    /// <summary>Strict equality; <paramref name="compareVRs"/> false leaves only VRs out (values, padding and group lengths still count).</summary>
    public static void Equal(DicomDataset expected, DicomDataset actual, bool compareVRs = true, string context = "") =>
        Fail(Differences(expected, actual, DatasetComparison.Strict, compareVRs, string.Empty), context);

    public static void Equal(DicomDataset expected, DicomDataset actual, DatasetComparison comparison, string context = "") =>
        Fail(Differences(expected, actual, comparison), context);

    public static List<string> Differences(DicomDataset expected, DicomDataset actual, bool compareVRs = true, string path = "") =>
        Differences(expected, actual, DatasetComparison.Strict, compareVRs, path);

    public static List<string> Differences(DicomDataset expected, DicomDataset actual, DatasetComparison comparison) =>
        Differences(expected, actual, comparison, comparison == DatasetComparison.Strict, string.Empty);

    private static List<string> Differences(DicomDataset expected, DicomDataset actual, DatasetComparison comparison, bool compareVRs, string path)
    {
        var lenient = comparison == DatasetComparison.AsReencoded;
        bool Ignored(DicomTag tag) => lenient && (tag.IsGroupLength || tag.Value == 0xFFFCFFFC);

        var differences = new List<string>();
        var remaining = actual.Where(e => !Ignored(e.Tag)).Select(e => e.Tag).ToHashSet();
        foreach (var element in expected)
        {
            if (Ignored(element.Tag))
            {
                continue;
            }

            var at = path + element.Tag;
            remaining.Remove(element.Tag);
            var other = actual.Find(element.Tag);
            if (other is null)
            {
                differences.Add($"{at}: missing");
                continue;
            }

            if (compareVRs && other.VR != element.VR)
            {
                differences.Add($"{at}: VR {other.VR.ToCode()}, expected {element.VR.ToCode()}");
            }

            switch (element, other)
            {
                case (DicomValueElement a, DicomValueElement b):
                    // A group length depends on the encoding (explicit VR headers are longer), so only its presence is compared.
                    if (!element.Tag.IsGroupLength && !SameValue(a.Buffer, b.Buffer) && !(lenient && a.VR.IsString() && SameText(a.Buffer, b.Buffer)))
                    {
                        differences.Add($"{at}: value differs ({a.Length} vs {b.Length} bytes)");
                    }

                    break;
                case (DicomSequence a, DicomSequence b):
                    if (a.Items.Count != b.Items.Count)
                    {
                        differences.Add($"{at}: {b.Items.Count} items, expected {a.Items.Count}");
                        break;
                    }

                    for (var i = 0; i < a.Items.Count; i++)
                    {
                        differences.AddRange(Differences(a.Items[i], b.Items[i], comparison, compareVRs, $"{at}[{i}]."));
                    }

                    break;
                case (DicomFragmentSequence a, DicomFragmentSequence b):
                    if (!a.BasicOffsetTable.GetMemory().Span.SequenceEqual(b.BasicOffsetTable.GetMemory().Span) || a.Fragments.Count != b.Fragments.Count
                        || a.Fragments.Zip(b.Fragments).Any(p => !SameValue(p.First, p.Second)))
                    {
                        differences.Add($"{at}: fragments differ");
                    }

                    break;
                default:
                    differences.Add($"{at}: {element.GetType().Name} became {other.GetType().Name}");
                    break;
            }
        }

        differences.AddRange(remaining.Select(t => $"{path}{t}: unexpected"));
        return differences;
    }

    private static void Fail(List<string> differences, string context) =>
        Assert.True(differences.Count == 0, $"{context}\n{string.Join('\n', differences.Take(10))}");

    /// <summary>Equal bytes, or an odd-length value and the same value padded to even length (PS3.5 §7.1.1) by a writer.</summary>
    public static bool SameValue(DicomBuffer expected, DicomBuffer actual)
    {
        var a = expected.GetMemory().Span;
        var b = actual.GetMemory().Span;
        return a.SequenceEqual(b) || ((a.Length & 1) == 1 && b.Length == a.Length + 1 && b[..a.Length].SequenceEqual(a));
    }

    /// <summary>Equal text but for trailing padding, which DCMTK trims when it re-encodes what it read (PS3.5 §6.2: not significant).</summary>
    private static bool SameText(DicomBuffer expected, DicomBuffer actual) =>
        expected.GetMemory().Span.TrimEnd(" \0"u8).SequenceEqual(actual.GetMemory().Span.TrimEnd(" \0"u8));
}
