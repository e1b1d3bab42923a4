// An instance to send with C-STORE (PS3.4 Annex B, PS3.7 §9.1.1): its SOP class, SOP instance and transfer syntax,
// needed before the association to propose presentation contexts, and its data set, sent as stored when the
// accepted transfer syntax is the stored one, else re-encoded between native syntaxes (PS3.5 §10), or decompressed by
// an <see cref="IDicomTranscoder"/> when the peer accepted only native syntaxes (the whole data set is then in memory).
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Hounsfield.Network.Dimse;

namespace Hounsfield.Network;

/// <summary>What a C-STORE needs to know of an instance before it is sent.</summary>
public sealed record DicomInstanceHeader(string SopClassUid, string SopInstanceUid, DicomTransferSyntax TransferSyntax);

/// <summary>An instance to send: a Part 10 file, a Part 10 stream, or a <see cref="DicomFile"/> in memory.</summary>
public abstract class DicomInstanceSource
{
    private DicomInstanceHeader? header;

    private protected DicomInstanceSource(DicomInstanceHeader? knownHeader)
    {
        header = knownHeader;
    }

    /// <summary>A name for results and logs: the path, or what the caller said.</summary>
    public abstract string Description { get; }

    /// <summary>A Part 10 file on disk. Known UIDs and transfer syntax (e.g. from an index) spare reading its header twice.</summary>
    public static DicomInstanceSource FromFile(string path, string? sopClassUid = null, string? sopInstanceUid = null, DicomTransferSyntax? transferSyntax = null) =>
        new Part10Source(
            _ => ValueTask.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan)),
            path,
            path,
            Known(sopClassUid, sopInstanceUid, transferSyntax));

    /// <summary>Part 10 bytes from a stream opened on demand (a blob store), perhaps twice: once for the header, once to send.</summary>
    public static DicomInstanceSource FromStream(
        Func<CancellationToken, ValueTask<Stream>> open, string description, string? sopClassUid = null, string? sopInstanceUid = null, DicomTransferSyntax? transferSyntax = null) =>
        new Part10Source(open, description, null, Known(sopClassUid, sopInstanceUid, transferSyntax));

    /// <summary>A file in memory; its data set is encoded while it is sent.</summary>
    public static DicomInstanceSource FromDicomFile(DicomFile file, string? description = null) => new FileObjectSource(file, description);

    /// <summary>Whether a data set stored in <paramref name="stored"/> can be sent in <paramref name="target"/> without a codec.</summary>
    public static bool CanSend(DicomTransferSyntax stored, DicomTransferSyntax target) =>
        stored.Equals(target) || (stored.IsKnown && target.IsKnown && stored.IsNative && target.IsNative);

    public async ValueTask<DicomInstanceHeader> GetHeaderAsync(CancellationToken cancellationToken = default) =>
        header ??= await ReadHeaderAsync(cancellationToken).ConfigureAwait(false);

    public override string ToString() => Description;

    private protected abstract ValueTask<DicomInstanceHeader> ReadHeaderAsync(CancellationToken cancellationToken);

    internal abstract ValueTask WriteDataSetAsync(PDataWriter writer, DicomTransferSyntax target, IDicomTranscoder? transcoder, CancellationToken cancellationToken);

    /// <summary>Writes <paramref name="dataset"/> (in <paramref name="stored"/>) in <paramref name="target"/>, decompressing it if it must and can.</summary>
    private protected static void WriteConverted(PDataWriter writer, DicomDataset dataset, DicomTransferSyntax stored, DicomTransferSyntax target, IDicomTranscoder? transcoder)
    {
        if (CanSend(stored, target))
        {
            DicomWriter.WriteDataSet(writer, dataset, target);
        }
        else if (transcoder is not null && transcoder.CanTranscode(stored, target))
        {
            DicomWriter.WriteDataSet(writer, transcoder.Transcode(dataset, stored, target), target);
        }
        else
        {
            throw CannotSend(stored, target);
        }
    }

    private static DicomInstanceHeader? Known(string? sopClassUid, string? sopInstanceUid, DicomTransferSyntax? transferSyntax) =>
        sopClassUid is { Length: > 0 } && sopInstanceUid is { Length: > 0 } && transferSyntax is not null
            ? new DicomInstanceHeader(sopClassUid, sopInstanceUid, transferSyntax)
            : null;

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private protected static InvalidOperationException CannotSend(DicomTransferSyntax stored, DicomTransferSyntax target) =>
        new($"An instance stored in {stored.Name} cannot be sent in {target.Name} without a codec.");

    private sealed class Part10Source(Func<CancellationToken, ValueTask<Stream>> open, string description, string? path, DicomInstanceHeader? known)
        : DicomInstanceSource(known)
    {
        private static readonly DicomReadOptions HeaderOnly = new() { StopBeforePixelData = true };

        public override string Description => description;

        private protected override async ValueTask<DicomInstanceHeader> ReadHeaderAsync(CancellationToken cancellationToken)
        {
            // The data set's UIDs are the instance's identity (PS3.4 B.4.1); the meta information only repeats them, not
            // always faithfully. Reading stops before the pixel data, so this costs the header only.
            var file = await ReadFileAsync(HeaderOnly, cancellationToken).ConfigureAwait(false);
            var sopClassUid = NonEmpty(file.Dataset.GetString(DicomTag.SOPClassUID)) ?? file.Meta.GetString(DicomTag.MediaStorageSOPClassUID);
            var sopInstanceUid = NonEmpty(file.Dataset.GetString(DicomTag.SOPInstanceUID)) ?? file.Meta.GetString(DicomTag.MediaStorageSOPInstanceUID);
            if (string.IsNullOrEmpty(sopClassUid) || string.IsNullOrEmpty(sopInstanceUid))
            {
                throw new InvalidDataException($"{description} has no SOP Class UID or SOP Instance UID.");
            }

            return new DicomInstanceHeader(sopClassUid, sopInstanceUid, file.TransferSyntax);
        }

        internal override async ValueTask WriteDataSetAsync(PDataWriter writer, DicomTransferSyntax target, IDicomTranscoder? transcoder, CancellationToken cancellationToken)
        {
            var stored = (await GetHeaderAsync(cancellationToken).ConfigureAwait(false)).TransferSyntax;
            if (stored.Equals(target))
            {
                var stream = await open(cancellationToken).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    using var prefix = await Part10Prefix.ReadAsync(stream, cancellationToken).ConfigureAwait(false);
                    await writer.WriteAsync(prefix.Buffered[prefix.DataSetOffset..], cancellationToken).ConfigureAwait(false);
                    while (true)
                    {
                        var room = await writer.GetMemoryAsync().ConfigureAwait(false);
                        var n = await stream.ReadAsync(room, cancellationToken).ConfigureAwait(false);
                        if (n == 0)
                        {
                            return;
                        }

                        writer.Advance(n);
                    }
                }
            }

            if (!CanSend(stored, target) && transcoder?.CanTranscode(stored, target) != true)
            {
                throw CannotSend(stored, target);
            }

            var file = await ReadFileAsync(null, cancellationToken).ConfigureAwait(false);
            WriteConverted(writer, file.Dataset, stored, target, transcoder);
        }

        private async ValueTask<DicomFile> ReadFileAsync(DicomReadOptions? options, CancellationToken cancellationToken)
        {
            if (path is not null)
            {
                return DicomFile.Open(path, options);
            }

            var stream = await open(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                return DicomFile.Read(stream, options);
            }
        }
    }

    private sealed class FileObjectSource(DicomFile file, string? description) : DicomInstanceSource(null)
    {
        public override string Description => description ?? file.Dataset.GetString(DicomTag.SOPInstanceUID) ?? "(data set)";

        private protected override ValueTask<DicomInstanceHeader> ReadHeaderAsync(CancellationToken cancellationToken)
        {
            var sopClassUid = NonEmpty(file.Dataset.GetString(DicomTag.SOPClassUID)) ?? file.Meta.GetString(DicomTag.MediaStorageSOPClassUID);
            var sopInstanceUid = NonEmpty(file.Dataset.GetString(DicomTag.SOPInstanceUID)) ?? file.Meta.GetString(DicomTag.MediaStorageSOPInstanceUID);
            if (string.IsNullOrEmpty(sopClassUid) || string.IsNullOrEmpty(sopInstanceUid))
            {
                throw new InvalidDataException($"{Description} has no SOP Class UID or SOP Instance UID.");
            }

            return ValueTask.FromResult(new DicomInstanceHeader(sopClassUid, sopInstanceUid, file.TransferSyntax));
        }

        internal override ValueTask WriteDataSetAsync(PDataWriter writer, DicomTransferSyntax target, IDicomTranscoder? transcoder, CancellationToken cancellationToken)
        {
            WriteConverted(writer, file.Dataset, file.TransferSyntax, target, transcoder);
            return ValueTask.CompletedTask;
        }
    }
}
