using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;

namespace Hounsfield.Network.Tests;

/// <summary>Equality of data sets by tags and values (VRs optional; group lengths, dataset trailing padding and string padding ignored), recursively.</summary>
internal static class DatasetAssert
{
    public static void Equal(DicomDataset expected, DicomDataset actual, bool compareVRs = false, string context = "")
    {
        var differences = Differences(expected, actual, compareVRs, string.Empty);
        Assert.True(differences.Count == 0, $"{context}\n{string.Join('\n', differences.Take(10))}");
    }

    public static List<string> Differences(DicomDataset expected, DicomDataset actual, bool compareVRs, string path)
    {
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
                    if (!SameValue(a.Buffer, b.Buffer) && !(a.VR.IsString() && SameText(a.Buffer, b.Buffer)))
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
                    if (a.Fragments.Count != b.Fragments.Count || a.Fragments.Zip(b.Fragments).Any(p => !SameValue(p.First, p.Second)))
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

    private static bool Ignored(DicomTag tag) => tag.IsGroupLength || tag.Value == 0xFFFCFFFC;

    /// <summary>Equal text but for trailing padding, which DCMTK trims when it re-encodes what it read (PS3.5 §6.2: not significant).</summary>
    private static bool SameText(DicomBuffer expected, DicomBuffer actual) =>
        expected.GetMemory().Span.TrimEnd(" \0"u8).SequenceEqual(actual.GetMemory().Span.TrimEnd(" \0"u8));

    private static bool SameValue(DicomBuffer expected, DicomBuffer actual)
    {
        var a = expected.GetMemory().Span;
        var b = actual.GetMemory().Span;
        return a.SequenceEqual(b) || ((a.Length & 1) == 1 && b.Length == a.Length + 1 && b[..a.Length].SequenceEqual(a));
    }
}
