// What our SCU learns of how a peer answered a C-FIND, said the same way by the nodes API (Warning headers) and the CLI
// (stderr).
using Hounsfield.Network;

namespace Hounsfield.Server.Nodes;

internal static class FindCaveats
{
    /// <summary>
    /// After a C-FIND with <paramref name="find"/>: the options the peer did not agree to, and whether it matched on
    /// fewer keys than asked (0xFF01), each as a sentence naming the peer; none when the matches mean what was asked.
    /// </summary>
    public static IEnumerable<string> Of(DicomFindOptions find, string peerAETitle)
    {
        if (find.FuzzySemanticMatching && !find.FuzzySemanticMatchingAgreed)
        {
            yield return $"{peerAETitle} did not agree to fuzzy matching of person names; names were matched as given";
        }

        if (find.CombinedDateTimeMatching && !find.CombinedDateTimeMatchingAgreed)
        {
            yield return $"{peerAETitle} did not agree to combined date-time matching; dates and times were matched each on its own";
        }

        if (find.OptionalKeysNotSupported)
        {
            yield return $"{peerAETitle} did not match on some of the query's keys (0xFF01); the matches may include what they would exclude";
        }
    }
}
