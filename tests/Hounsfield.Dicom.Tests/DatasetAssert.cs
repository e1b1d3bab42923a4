namespace Hounsfield.Dicom.Tests;

/// <summary>Structural equality of data sets: tags, VRs, value bytes, items and fragments, recursively.</summary>
internal static class DatasetAssert
{
    public static void Equal(DicomDataset expected, DicomDataset actual, bool compareVRs = true) =>
        Assert.True(Differences(expected, actual, compareVRs).Count == 0, string.Join('\n', Differences(expected, actual, compareVRs).Take(10)));

    public static List<string> Differences(DicomDataset expected, DicomDataset actual, bool compareVRs = true, string path = "")
    {
        var differences = new List<string>();
        var actualTags = actual.Select(e => e.Tag).ToHashSet();
        foreach (var element in expected)
        {
            var at = path + element.Tag;
            var other = actual.Find(element.Tag);
            actualTags.Remove(element.Tag);
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
                    if (!element.Tag.IsGroupLength && !SameValue(a.Buffer, b.Buffer))
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
                        differences.AddRange(Differences(a.Items[i], b.Items[i], compareVRs, $"{at}[{i}]."));
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

        differences.AddRange(actualTags.Select(t => $"{path}{t}: unexpected"));
        return differences;
    }

    /// <summary>Equal bytes, or an odd-length value and the same value padded to even length (PS3.5 §7.1.1) by a writer.</summary>
    public static bool SameValue(IO.DicomBuffer expected, IO.DicomBuffer actual)
    {
        var a = expected.GetMemory().Span;
        var b = actual.GetMemory().Span;
        return a.SequenceEqual(b) || ((a.Length & 1) == 1 && b.Length == a.Length + 1 && b[..a.Length].SequenceEqual(a));
    }
}
