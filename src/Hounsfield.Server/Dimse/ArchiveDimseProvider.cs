// The archive behind the DIMSE SCP (PS3.4 Annex B storage, Annex C query/retrieve): C-STORE ingests through the
// same pipeline as STOW-RS, C-FIND runs the same query engine as QIDO-RS, C-MOVE/C-GET send stored blobs.
using Hounsfield.Archive;
using Hounsfield.Archive.Ingest;
using Hounsfield.Archive.Query;
using Hounsfield.Dicom;
using Hounsfield.Network;
using Hounsfield.Network.Association;
using Hounsfield.Server.Nodes;

namespace Hounsfield.Server.Dimse;

internal sealed class ArchiveDimseProvider(ArchiveService archive, DimseOptions options, DimseTlsSettings tls, SqliteDicomNodeStore nodes) : ICEchoProvider, ICStoreProvider, ICFindProvider, ICMoveProvider, ICGetProvider
{
    private const int FindPageSize = 1000;

    public ValueTask<DicomStatus> EchoAsync(DicomEchoRequest request, CancellationToken cancellationToken) => ValueTask.FromResult(DicomStatus.Success);

    public async ValueTask<DicomStatus> StoreAsync(DicomStoreRequest request, CancellationToken cancellationToken)
    {
        try
        {
            // Answered once durable; the index row is written a moment later, with others (ArchiveService.AfterAcknowledgedAsync).
            Func<Stream, CancellationToken, Task> content = (destination, ct) => request.WritePart10Async(destination, ct);
            var result = request.SopInstanceUid.Length > 0
                ? await archive.IngestAnnouncedAsync(request.SopInstanceUid, content, cancellationToken)
                : await archive.IngestAsync(content, null, IngestCompletion.Durable, cancellationToken);
            return result.Stored ? DicomStatus.Success : new DicomStatus(result.FailureReason ?? IngestResult.CannotUnderstand);
        }
        catch (InstanceTooLargeException)
        {
            return DicomStatus.OutOfResources;
        }
    }

    public ValueTask AfterResponseAsync() => archive.AfterAcknowledgedAsync();

    /// <summary>Person names as QIDO-RS's fuzzymatching=true matches them: case- and accent-insensitively, by component prefix.</summary>
    public bool SupportsFuzzySemanticMatching => true;

    /// <summary>A key of a lower level matches when a series (or instance) of the result matches it; asked or not, as lenient SCPs do.</summary>
    public bool SupportsRelationalQueries => true;

    /// <summary>StudyDate with StudyTime, and the performed procedure step's start date with its time (QidoQuery.CombinedDateTimeMatching).</summary>
    public bool SupportsCombinedDateTimeMatching => true;

    public async IAsyncEnumerable<DicomDataset> FindAsync(DicomFindRequest request, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var identifier = request.Identifier;
        // A missing level is taken as STUDY, as lenient SCPs do; a level that names none of the four is the SCU's error.
        var levelCode = identifier.GetString(DicomTag.QueryRetrieveLevel);
        var level = request.Level ?? (string.IsNullOrWhiteSpace(levelCode)
            ? DicomQueryRetrieveLevel.Study
            : throw new DicomStatusException(DicomStatus.IdentifierDoesNotMatchSopClass,
                $"Unknown QueryRetrieveLevel '{levelCode.Trim()}'")); // an Error Comment is at most 64 characters
        var (query, keysNotMatched) = ToQuery(identifier, level);
        query = query with
        {
            FuzzyMatching = request.Association.FuzzySemanticMatching(request.SopClassUid),
            CombinedDateTimeMatching = request.Association.CombinedDateTimeMatching(request.SopClassUid),
        };
        request.OptionalKeysNotSupported = keysNotMatched;
        var seenPatients = new HashSet<string>(StringComparer.Ordinal);
        for (var offset = 0; ; )
        {
            var page = await archive.QueryAsync(query with { Offset = offset, Limit = FindPageSize }, cancellationToken);
            offset += page.Matches.Count; // a page may end before the limit (QueryResult)
            foreach (var match in page.Matches)
            {
                if (level == DicomQueryRetrieveLevel.Patient && !seenPatients.Add(match.GetString(DicomTag.PatientID) ?? string.Empty))
                {
                    continue;
                }

                yield return Response(match, identifier, level);
            }

            if (!page.Truncated)
            {
                yield break;
            }
        }
    }

    /// <summary>
    /// A C-MOVE destination: a DICOM node of the database (managed through /api/dicom_nodes), else of the configuration;
    /// reached over DICOM TLS when the node says so.
    /// </summary>
    public async ValueTask<DicomRemoteNode?> ResolveDestinationAsync(string destinationAE, DicomAssociationInfo association, CancellationToken cancellationToken)
    {
        if (await nodes.FindByPeerAETitleAsync(destinationAE, cancellationToken) is { } stored)
        {
            return new DicomRemoteNode(stored.PeerHost, stored.PeerPort, stored.PeerAETitle, stored.Tls ? tls.Client : null);
        }

        var node = options.Nodes.FirstOrDefault(n => string.Equals(n.AETitle.Trim(), destinationAE.Trim(), StringComparison.Ordinal));
        return node is null ? null : new DicomRemoteNode(node.Host, node.Port, node.AETitle, node.Tls ? tls.Client : null);
    }

    public async ValueTask<IReadOnlyList<DicomInstanceSource>> GetInstancesAsync(DicomRetrieveRequest request, CancellationToken cancellationToken)
    {
        var identifier = request.Identifier;
        var studies = Uids(identifier, DicomTag.StudyInstanceUID);
        if (studies.Count == 0 && identifier.GetString(DicomTag.PatientID) is { Length: > 0 } patient)
        {
            var result = await archive.QueryAsync(new QidoQuery { Level = QueryLevel.Study, Matches = [(DicomTag.PatientID, patient)], Limit = 10_000 }, cancellationToken);
            studies = result.Matches.Select(m => m.GetString(DicomTag.StudyInstanceUID)!).ToList();
        }

        var series = Uids(identifier, DicomTag.SeriesInstanceUID);
        var sops = Uids(identifier, DicomTag.SOPInstanceUID);
        var sources = new List<DicomInstanceSource>();
        foreach (var study in studies)
        {
            foreach (var stored in await archive.ListInstancesAsync(study, null, null, cancellationToken))
            {
                if ((series.Count == 0 || series.Contains(stored.SeriesInstanceUid)) && (sops.Count == 0 || sops.Contains(stored.SopInstanceUid)))
                {
                    sources.Add(Source(archive, stored));
                }
            }
        }

        return sources;
    }

    /// <summary>A stored instance to send as stored (C-MOVE, C-GET, or a store to a DICOM node); the blob opens when it is sent.</summary>
    public static DicomInstanceSource Source(ArchiveService archive, Hounsfield.Archive.Index.StoredInstance stored) =>
        DicomInstanceSource.FromStream(
            _ => ValueTask.FromResult(archive.OpenInstance(stored)),
            stored.SopInstanceUid,
            stored.SopClassUid,
            stored.SopInstanceUid,
            DicomTransferSyntax.Lookup(stored.TransferSyntaxUid));

    /// <summary>
    /// The identifier's keys as a query: values are match keys, empty values are return keys (PS3.4 C.2.2.1); and whether
    /// some key's value could not be matched (such a key is returned only).
    /// </summary>
    private static (QidoQuery Query, bool KeysNotMatched) ToQuery(DicomDataset identifier, DicomQueryRetrieveLevel level)
    {
        var matches = new List<(DicomTag, string)>();
        var sequenceMatches = new List<(DicomTag, IReadOnlyList<(DicomTag, string)>)>();
        var include = new HashSet<DicomTag>();
        var keysNotMatched = false;
        foreach (var element in identifier)
        {
            if (element is DicomSequence { Items: [var item, ..] } sequence && QueryAttributes.Find(sequence.Tag) is { ItemKeys: { } matchable })
            {
                // Keys of the item this server cannot match are returned only, as at the top level.
                sequenceMatches.Add((sequence.Tag, [.. item.Where(key => key is DicomValueElement && matchable.Contains(key.Tag)).Select(key => (key.Tag, KeyValue(item, key.Tag)))]));
                keysNotMatched |= HasValues(item, except: matchable);
                continue;
            }

            if (element.Tag == DicomTag.QueryRetrieveLevel || element.Tag == DicomTag.SpecificCharacterSet)
            {
                continue;
            }

            if (element.Tag == DicomTag.TimezoneOffsetFromUTC)
            {
                // Not a matching key: it names the timezone of the query's dates and times (PS3.4 C.4.1.1.3.1), which only
                // timezone query adjustment, not offered, would use. The study's own offset is returned.
                include.Add(element.Tag);
                continue;
            }

            // A value of a key the archive cannot match (a count, an attribute it keeps no column for, a sequence other than
            // the one above) is taken as universal: the key is returned, those without a column from a stored instance.
            var attribute = QueryAttributes.Find(element.Tag);
            var text = element is DicomValueElement && attribute is { Matchable: true } ? KeyValue(identifier, element.Tag) : string.Empty;
            keysNotMatched |= text.Length == 0 && element switch
            {
                DicomSequence { Items: [var asked, ..] } => HasValues(asked, except: []),
                DicomValueElement => KeyValue(identifier, element.Tag).Length > 0,
                _ => false,
            };
            if (text.Length == 0)
            {
                include.Add(element.Tag);
            }
            else
            {
                matches.Add((element.Tag, text));
            }
        }

        var query = new QidoQuery
        {
            Level = level switch
            {
                DicomQueryRetrieveLevel.Series => QueryLevel.Series,
                DicomQueryRetrieveLevel.Image => QueryLevel.Instance,
                _ => QueryLevel.Study,
            },
            Matches = matches,
            SequenceMatches = sequenceMatches,
            IncludeFields = include,
        };
        return (query, keysNotMatched);
    }

    /// <summary>Whether a key of the item, other than <paramref name="except"/>, carries a value (a nested item's keys too).</summary>
    private static bool HasValues(DicomDataset item, IReadOnlyCollection<DicomTag> except) => item.Any(key =>
        key.Tag != DicomTag.SpecificCharacterSet && !except.Contains(key.Tag)
        && (key is DicomSequence { Items: [var nested, ..] } ? HasValues(nested, except: []) : key is DicomValueElement && KeyValue(item, key.Tag).Length > 0));

    /// <summary>A key's match value; empty for universal matching (no value, or a lone "*").</summary>
    private static string KeyValue(DicomDataset keys, DicomTag tag) => keys.GetString(tag) is { Length: > 0 } text && text != "*" ? text : string.Empty;

    /// <summary>
    /// A C-FIND response: the requested keys with the values found, plus the level (PS3.4 C.4.1.3.1); in the character
    /// set the query declared when that set has every character of the values (an SCU that asks in Latin-1 may read no
    /// other), else in the one they are stored in, as PS3.4 C.4.1.1.3.2 allows.
    /// </summary>
    private DicomDataset Response(DicomDataset match, DicomDataset identifier, DicomQueryRetrieveLevel level)
    {
        var response = ResponseInStoredCharacterSet(match, identifier, level);
        var requested = identifier.GetStrings(DicomTag.SpecificCharacterSet);
        return requested.Length > 0 && !requested.SequenceEqual(response.GetStrings(DicomTag.SpecificCharacterSet))
            ? response.TryReencode(requested) ?? response
            : response;
    }

    private DicomDataset ResponseInStoredCharacterSet(DicomDataset match, DicomDataset identifier, DicomQueryRetrieveLevel level)
    {
        var response = new DicomDataset();
        if (match.Find(DicomTag.SpecificCharacterSet) is { } charset)
        {
            response.Add(charset);
        }

        foreach (var requested in identifier)
        {
            if (requested.Tag == DicomTag.SpecificCharacterSet || requested.Tag == DicomTag.QueryRetrieveLevel)
            {
                continue;
            }

            response.Add(Returned(requested, match.Find(requested.Tag)));
        }

        response.AddOrUpdate(DicomTag.QueryRetrieveLevel, DicomVR.CS, level.ToCode());
        response.AddOrUpdate(DicomTag.RetrieveAETitle, DicomVR.AE, options.AETitle);
        return response;
    }

    /// <summary>
    /// What a return key gets: the value found, or an empty one. A sequence key with an item gets, in each item found, the
    /// attributes that item asks for and no others, each returned the same way (PS3.4 C.2.2.1.3).
    /// </summary>
    private static DicomElement Returned(DicomElement requested, DicomElement? found) => (requested, found) switch
    {
        (DicomSequence { Items.Count: > 0 } asked, DicomSequence items) => new DicomSequence(items.Tag, items.Items.Select(item =>
        {
            var returned = new DicomDataset();
            foreach (var key in asked.Items[0].Where(key => key.Tag != DicomTag.SpecificCharacterSet))
            {
                returned.Add(Returned(key, item.Find(key.Tag)));
            }

            return returned;
        }).ToList()),
        (_, { } value) => value,
        (DicomSequence, null) => new DicomSequence(requested.Tag),
        _ => new DicomValueElement(requested.Tag, requested.VR, ReadOnlyMemory<byte>.Empty),
    };

    private static List<string> Uids(DicomDataset identifier, DicomTag tag) =>
        identifier.GetStrings(tag).Where(u => u.Length > 0).ToList();
}
