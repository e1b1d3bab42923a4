using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Hounsfield.Dicom;

namespace Hounsfield.Network.Tests;

/// <summary>Stores received instances as Part 10 files in a folder; a file appears only once its instance arrived whole.</summary>
public sealed class FolderStoreProvider(string folder) : ICStoreProvider
{
    public ConcurrentQueue<DicomStoreRequest> Requests { get; } = new();

    public int Started;

    public async ValueTask<DicomStatus> StoreAsync(DicomStoreRequest request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Started);
        var final = Path.Combine(folder, request.SopInstanceUid + ".dcm");
        var partial = final + ".part";
        try
        {
            await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
            {
                await request.WritePart10Async(file, cancellationToken);
            }

            File.Move(partial, final, overwrite: true);
            Requests.Enqueue(request);
            return DicomStatus.Success;
        }
        catch
        {
            File.Delete(partial);
            throw;
        }
    }
}

/// <summary>Answers C-FIND from a fixed list: a match when every non-empty key of the identifier equals (or wildcard-matches) the candidate's value.</summary>
public sealed class ListFindProvider(IReadOnlyList<DicomDataset> candidates) : ICFindProvider
{
    public TimeSpan DelayPerMatch { get; init; }

    public int Yielded;

    public async IAsyncEnumerable<DicomDataset> FindAsync(DicomFindRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var candidate in candidates)
        {
            if (!Matches(request.Identifier, candidate))
            {
                continue;
            }

            if (DelayPerMatch > TimeSpan.Zero)
            {
                await Task.Delay(DelayPerMatch, cancellationToken);
            }

            var response = new DicomDataset();
            foreach (var key in request.Identifier)
            {
                if (candidate.Find(key.Tag) is { } value)
                {
                    response.Add(value);
                }
                else if (key is DicomValueElement)
                {
                    response.Add(new DicomValueElement(key.Tag, key.VR, ReadOnlyMemory<byte>.Empty));
                }
            }

            response.AddOrUpdate(DicomTag.QueryRetrieveLevel, DicomVR.CS, request.Identifier.GetString(DicomTag.QueryRetrieveLevel) ?? "STUDY");
            Interlocked.Increment(ref Yielded);
            yield return response;
        }
    }

    private static bool Matches(DicomDataset identifier, DicomDataset candidate)
    {
        foreach (var key in identifier)
        {
            if (key.Tag == DicomTag.QueryRetrieveLevel || key.Tag == DicomTag.SpecificCharacterSet || key is not DicomValueElement)
            {
                continue;
            }

            var wanted = identifier.GetString(key.Tag);
            if (string.IsNullOrEmpty(wanted) || wanted == "*")
            {
                continue;
            }

            var actual = candidate.GetString(key.Tag) ?? string.Empty;
            if (wanted.EndsWith('*') ? !actual.StartsWith(wanted[..^1], StringComparison.Ordinal) : actual != wanted)
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>Serves C-MOVE and C-GET from a fixed set of files, selected by StudyInstanceUID (or all when the key is empty).</summary>
public sealed class FileRetrieveProvider(IReadOnlyList<string> paths, IReadOnlyDictionary<string, DicomRemoteNode> nodes) : ICMoveProvider, ICGetProvider
{
    public ValueTask<DicomRemoteNode?> ResolveDestinationAsync(string destinationAE, Association.DicomAssociationInfo association, CancellationToken cancellationToken) =>
        ValueTask.FromResult(nodes.GetValueOrDefault(destinationAE));

    public ValueTask<IReadOnlyList<DicomInstanceSource>> GetInstancesAsync(DicomRetrieveRequest request, CancellationToken cancellationToken)
    {
        var study = request.Identifier.GetString(DicomTag.StudyInstanceUID);
        var selected = paths
            .Where(path => string.IsNullOrEmpty(study) || DicomFile.Open(path, new Dicom.IO.DicomReadOptions { StopBeforePixelData = true }).Dataset.GetString(DicomTag.StudyInstanceUID) == study)
            .Select(path => DicomInstanceSource.FromFile(path))
            .ToList();
        return ValueTask.FromResult<IReadOnlyList<DicomInstanceSource>>(selected);
    }
}
