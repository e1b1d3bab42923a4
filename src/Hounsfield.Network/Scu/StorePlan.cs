// Presentation contexts for C-STORE (PS3.4 B.3, PS3.8 §9.3.2.2): one context per (SOP class, stored transfer syntax);
// a native syntax also offers explicit and implicit VR little endian, which every storage SCP accepts, since native
// syntaxes convert into one another without a codec. With a transcoder, a SOP class stored compressed gets a second
// context of explicit and implicit VR little endian, after the stored syntax's: the peer keeps the choice of the stored
// syntax, and an instance goes uncompressed only when the peer accepted no context in it. At most 128 contexts fit an
// association (odd IDs 1-255).
using Hounsfield.Dicom;
using Hounsfield.Network.Association;
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network;

internal static class StorePlan
{
    public const int MaxContexts = 128;

    private static readonly DicomTransferSyntax[] Uncompressed = [DicomTransferSyntax.ExplicitVRLittleEndian, DicomTransferSyntax.ImplicitVRLittleEndian];

    /// <summary>Splits instances into groups that each need at most <see cref="MaxContexts"/> contexts.</summary>
    public static List<List<(DicomInstanceSource Source, DicomInstanceHeader Header)>> Batch(
        IReadOnlyList<(DicomInstanceSource Source, DicomInstanceHeader Header)> items, IDicomTranscoder? transcoder)
    {
        var batches = new List<List<(DicomInstanceSource, DicomInstanceHeader)>>();
        var current = new List<(DicomInstanceSource, DicomInstanceHeader)>();
        var keys = new HashSet<(string, string)>();
        foreach (var item in items)
        {
            var needed = ContextKeys(item.Header, transcoder).Where(key => !keys.Contains(key)).ToList();
            if (keys.Count + needed.Count > MaxContexts && current.Count > 0)
            {
                batches.Add(current);
                current = [];
                keys.Clear();
            }

            keys.UnionWith(needed);
            current.Add(item);
        }

        if (current.Count > 0)
        {
            batches.Add(current);
        }

        return batches;
    }

    public static List<DicomPresentationContextProposal> Propose(IEnumerable<DicomInstanceHeader> headers, IDicomTranscoder? transcoder)
    {
        var proposals = new List<DicomPresentationContextProposal>();
        var seen = new HashSet<(string, string)>();
        var needUncompressed = new List<string>();
        foreach (var header in headers)
        {
            if (!seen.Add((header.SopClassUid, header.TransferSyntax.Uid)))
            {
                continue;
            }

            var syntaxes = new List<string> { header.TransferSyntax.Uid };
            if (header.TransferSyntax.IsNative && header.TransferSyntax.IsKnown)
            {
                foreach (var fallback in Uncompressed)
                {
                    if (!syntaxes.Contains(fallback.Uid))
                    {
                        syntaxes.Add(fallback.Uid);
                    }
                }
            }
            else if (CanDecompress(header.TransferSyntax, transcoder) && !needUncompressed.Contains(header.SopClassUid))
            {
                needUncompressed.Add(header.SopClassUid);
            }

            proposals.Add(new DicomPresentationContextProposal((byte)((proposals.Count * 2) + 1), header.SopClassUid, syntaxes));
        }

        foreach (var sopClass in needUncompressed)
        {
            if (!proposals.Any(p => p.AbstractSyntax == sopClass && p.TransferSyntaxes.Contains(DicomTransferSyntax.ExplicitVRLittleEndian.Uid)))
            {
                proposals.Add(new DicomPresentationContextProposal((byte)((proposals.Count * 2) + 1), sopClass, [.. Uncompressed.Select(s => s.Uid)]));
            }
        }

        return proposals;
    }

    /// <summary>
    /// The accepted context to send an instance on: its stored syntax if accepted, else a native one it converts to
    /// (without a codec from a native syntax, with <paramref name="transcoder"/> from a compressed one); explicit VR little
    /// endian preferred.
    /// </summary>
    public static DicomNegotiatedContext? Select(DicomAssociationInfo association, DicomInstanceHeader header, IDicomTranscoder? transcoder)
    {
        var exact = association.FindContextForSending(header.SopClassUid, header.TransferSyntax);
        if (exact is not null)
        {
            return exact;
        }

        DicomNegotiatedContext? best = null;
        foreach (var context in association.PresentationContexts)
        {
            if (context.AbstractSyntax != header.SopClassUid || !association.CanSendRequests(context) || context.TransferSyntax is not { } target
                || !(DicomInstanceSource.CanSend(header.TransferSyntax, target) || (target.IsNative && CanDecompress(header.TransferSyntax, transcoder))))
            {
                continue;
            }

            if (best is null || target.Equals(DicomTransferSyntax.ExplicitVRLittleEndian))
            {
                best = context;
            }
        }

        return best;
    }

    /// <summary>Whether an instance stored compressed in <paramref name="stored"/> can be sent uncompressed.</summary>
    private static bool CanDecompress(DicomTransferSyntax stored, IDicomTranscoder? transcoder) =>
        transcoder is not null && stored.IsKnown && !stored.IsNative && transcoder.CanTranscode(stored, DicomTransferSyntax.ExplicitVRLittleEndian);

    /// <summary>The contexts an instance may add to a proposal: its own, and the uncompressed one of its SOP class.</summary>
    private static IEnumerable<(string, string)> ContextKeys(DicomInstanceHeader header, IDicomTranscoder? transcoder)
    {
        yield return (header.SopClassUid, header.TransferSyntax.Uid);
        if (CanDecompress(header.TransferSyntax, transcoder))
        {
            yield return (header.SopClassUid, DicomTransferSyntax.ExplicitVRLittleEndian.Uid);
        }
    }
}
