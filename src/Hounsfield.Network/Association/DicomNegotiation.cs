// Presentation context negotiation (PS3.8 §9.3.2.2, §9.3.3.2) and SCP/SCU role selection (PS3.7 D.3.3.4): without a
// role selection item the requestor is SCU and the acceptor SCP; with one, the requestor's roles are those it proposed
// and the acceptor did not refuse.
using System.Net;
using Hounsfield.Dicom;
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network.Association;

/// <summary>How an acceptor answers proposals: the outcome and transfer syntax per context, the roles per SOP class.</summary>
internal interface IDicomAcceptPolicy
{
    (DicomPresentationContextOutcome Outcome, string? TransferSyntax) Select(DicomPresentationContextProposal proposal);

    (bool ScuRole, bool ScpRole) SelectRoles(DicomRoleSelection proposed);

    /// <summary>The acceptor's service-class information answering an extended negotiation (PS3.7 D.3.3.5), or null to leave it unanswered (nothing agreed).</summary>
    byte[]? AnswerExtendedNegotiation(DicomExtendedNegotiation proposed);
}

internal static class DicomNegotiation
{
    /// <summary>The requestor's view of an A-ASSOCIATE-AC answering <paramref name="request"/>.</summary>
    public static DicomAssociationInfo FromAccept(DicomAssociationRequest request, DicomAssociationAccept accept, EndPoint? remoteEndPoint)
    {
        var results = new Dictionary<byte, DicomPresentationContextResult>();
        foreach (var result in accept.PresentationContexts)
        {
            results.TryAdd(result.Id, result);
        }

        // PS3.7 D.3.3.4 has one role selection item per SOP class; some acceptors (DCMTK's dcmqrscp) answer one per
        // presentation context, repeating a SOP class: a role any of them grants is granted (what was proposed still bounds it).
        var accepted = new Dictionary<string, DicomRoleSelection>(StringComparer.Ordinal);
        foreach (var answer in accept.UserInformation.RoleSelections)
        {
            accepted[answer.SopClassUid] = accepted.TryGetValue(answer.SopClassUid, out var earlier)
                ? earlier with { ScuRole = earlier.ScuRole || answer.ScuRole, ScpRole = earlier.ScpRole || answer.ScpRole }
                : answer;
        }

        var proposedRoles = new Dictionary<string, DicomRoleSelection>(StringComparer.Ordinal);
        foreach (var proposed in request.UserInformation.RoleSelections)
        {
            proposedRoles.TryAdd(proposed.SopClassUid, proposed);
        }
        var contexts = new List<DicomNegotiatedContext>(request.PresentationContexts.Count);
        foreach (var proposal in request.PresentationContexts)
        {
            var outcome = DicomPresentationContextOutcome.NoReason;
            DicomTransferSyntax? syntax = null;
            if (results.TryGetValue(proposal.Id, out var result))
            {
                outcome = result.Outcome;

                // An acceptor must choose one of the proposed syntaxes (PS3.8 §9.3.3.2); anything else is not usable.
                if (outcome == DicomPresentationContextOutcome.Acceptance && result.TransferSyntax is { } uid && proposal.TransferSyntaxes.Contains(uid))
                {
                    syntax = DicomTransferSyntax.Lookup(uid);
                }
                else if (outcome == DicomPresentationContextOutcome.Acceptance)
                {
                    outcome = DicomPresentationContextOutcome.TransferSyntaxesNotSupported;
                }
            }

            var (scu, scp) = (true, false);
            if (proposedRoles.TryGetValue(proposal.AbstractSyntax, out var proposed) && accepted.TryGetValue(proposal.AbstractSyntax, out var answer))
            {
                (scu, scp) = (proposed.ScuRole && answer.ScuRole, proposed.ScpRole && answer.ScpRole);
            }

            contexts.Add(new DicomNegotiatedContext(proposal.Id, proposal.AbstractSyntax, proposal.TransferSyntaxes, outcome, syntax, scu, scp));
        }

        return new DicomAssociationInfo(true, request.CallingAE, request.CalledAE, remoteEndPoint, request.UserInformation, accept.UserInformation, contexts);
    }

    /// <summary>The acceptor's answer to <paramref name="request"/> and the association it establishes.</summary>
    public static (DicomAssociationAccept Accept, DicomAssociationInfo Info) Accept(
        DicomAssociationRequest request, IDicomAcceptPolicy policy, DicomAssociationOptions options, EndPoint? remoteEndPoint)
    {
        var accept = new DicomAssociationAccept
        {
            CalledAE = request.CalledAE,
            CallingAE = request.CallingAE,
            UserInformation = new DicomUserInformation
            {
                MaxPduLength = options.MaxPduLength,
                ImplementationClassUid = options.ImplementationClassUid,
                ImplementationVersionName = options.ImplementationVersionName,

                // Up to MaxAsyncOperations each way, and no more than the requestor proposed (0 = no limit) (PS3.7 D.3.3.3).
                AsynchronousOperationsWindow = request.UserInformation.AsynchronousOperationsWindow is { } proposedWindow
                    ? (Window(proposedWindow.Performed, options), Window(proposedWindow.Invoked, options))
                    : null,
            },
        };

        var roles = new Dictionary<string, (bool Scu, bool Scp)>(StringComparer.Ordinal);
        foreach (var proposed in request.UserInformation.RoleSelections)
        {
            if (roles.ContainsKey(proposed.SopClassUid))
            {
                continue;
            }

            var (scu, scp) = policy.SelectRoles(proposed);
            roles[proposed.SopClassUid] = (proposed.ScuRole && scu, proposed.ScpRole && scp);
            accept.UserInformation.RoleSelections.Add(new DicomRoleSelection(proposed.SopClassUid, proposed.ScuRole && scu, proposed.ScpRole && scp));
        }

        var contexts = new List<DicomNegotiatedContext>(request.PresentationContexts.Count);
        foreach (var proposal in request.PresentationContexts)
        {
            var (outcome, syntax) = policy.Select(proposal);
            if (outcome != DicomPresentationContextOutcome.Acceptance)
            {
                syntax = null;
            }

            accept.PresentationContexts.Add(new DicomPresentationContextResult(proposal.Id, outcome, syntax));
            var (requestorScu, requestorScp) = roles.TryGetValue(proposal.AbstractSyntax, out var role) ? role : (true, false);
            contexts.Add(new DicomNegotiatedContext(
                proposal.Id, proposal.AbstractSyntax, proposal.TransferSyntaxes, outcome,
                syntax is null ? null : DicomTransferSyntax.Lookup(syntax), requestorScu, requestorScp));
        }

        // One answer per SOP class proposed with an accepted context.
        foreach (var proposed in request.UserInformation.ExtendedNegotiations.DistinctBy(n => n.SopClassUid))
        {
            if (contexts.Any(c => c.IsAccepted && c.AbstractSyntax == proposed.SopClassUid) && policy.AnswerExtendedNegotiation(proposed) is { } answer)
            {
                accept.UserInformation.ExtendedNegotiations.Add(new DicomExtendedNegotiation(proposed.SopClassUid, answer));
            }
        }

        var info = new DicomAssociationInfo(false, request.CallingAE, request.CalledAE, remoteEndPoint, request.UserInformation, accept.UserInformation, contexts);
        return (accept, info);
    }

    private static ushort Window(ushort proposed, DicomAssociationOptions options) =>
        (ushort)(proposed == 0 ? options.MaxAsyncOperations : Math.Min(proposed, options.MaxAsyncOperations));
}
