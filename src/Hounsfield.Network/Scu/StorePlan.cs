// Presentation contexts for C-STORE (PS3.4 B.3, PS3.8 §9.3.2.2): one context per (SOP class, stored transfer syntax);
// a native syntax also offers explicit and implicit VR little endian, which every storage SCP accepts, since native
// syntaxes convert into one another without a codec. At most 128 contexts fit an association (odd IDs 1-255).
using Hounsfield.Dicom;
using Hounsfield.Network.Association;
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network;

internal static class StorePlan
{
    public const int MaxContexts = 128;

    /// <summary>Splits instances into groups that each need at most <see cref="MaxContexts"/> contexts.</summary>
    public static List<List<(DicomInstanceSource Source, DicomInstanceHeader Header)>> Batch(IReadOnlyList<(DicomInstanceSource Source, DicomInstanceHeader Header)> items)
    {
        var batches = new List<List<(DicomInstanceSource, DicomInstanceHeader)>>();
        var current = new List<(DicomInstanceSource, DicomInstanceHeader)>();
        var keys = new HashSet<(string, string)>();
        foreach (var item in items)
        {
            var key = (item.Header.SopClassUid, item.Header.TransferSyntax.Uid);
            if (!keys.Contains(key) && keys.Count == MaxContexts)
            {
                batches.Add(current);
                current = [];
                keys.Clear();
            }

            keys.Add(key);
            current.Add(item);
        }

        if (current.Count > 0)
        {
            batches.Add(current);
        }

        return batches;
    }

    public static List<DicomPresentationContextProposal> Propose(IEnumerable<DicomInstanceHeader> headers)
    {
        var proposals = new List<DicomPresentationContextProposal>();
        var seen = new HashSet<(string, string)>();
        foreach (var header in headers)
        {
            if (!seen.Add((header.SopClassUid, header.TransferSyntax.Uid)))
            {
                continue;
            }

            var syntaxes = new List<string> { header.TransferSyntax.Uid };
            if (header.TransferSyntax.IsNative && header.TransferSyntax.IsKnown)
            {
                foreach (var fallback in new[] { DicomTransferSyntax.ExplicitVRLittleEndian, DicomTransferSyntax.ImplicitVRLittleEndian })
                {
                    if (!syntaxes.Contains(fallback.Uid))
                    {
                        syntaxes.Add(fallback.Uid);
                    }
                }
            }

            proposals.Add(new DicomPresentationContextProposal((byte)((proposals.Count * 2) + 1), header.SopClassUid, syntaxes));
        }

        return proposals;
    }

    /// <summary>The accepted context to send an instance on: its stored syntax if accepted, else a native one it converts to.</summary>
    public static DicomNegotiatedContext? Select(DicomAssociationInfo association, DicomInstanceHeader header)
    {
        var exact = association.FindContextForSending(header.SopClassUid, header.TransferSyntax);
        if (exact is not null)
        {
            return exact;
        }

        DicomNegotiatedContext? best = null;
        foreach (var context in association.PresentationContexts)
        {
            if (context.AbstractSyntax != header.SopClassUid || !association.CanSendRequests(context)
                || !DicomInstanceSource.CanSend(header.TransferSyntax, context.TransferSyntax!))
            {
                continue;
            }

            if (best is null || context.TransferSyntax!.Equals(DicomTransferSyntax.ExplicitVRLittleEndian))
            {
                best = context;
            }
        }

        return best;
    }
}
