using System.Buffers;
using System.Text;
using Hounsfield.Dicom;
using Hounsfield.Dicom.Json;

namespace Hounsfield.Archive.Ingest;

/// <summary>
/// The stored per-instance DICOM JSON (PS3.18 F). Bulk data URIs are kept relative to the DICOMweb root
/// ("studies/…/bulkdata/…") and made absolute when served, so stored metadata does not depend on the host name.
/// </summary>
public static class MetadataBuilder
{
    private const int MaxKeptBuildBuffer = 1024 * 1024;

    private static readonly byte[] BulkDataUriProperty = "\"BulkDataURI\":\""u8.ToArray();

    /// <summary>The buffer each thread builds metadata in, reused from one ingest to the next (one copy per instance, not a growing stream's).</summary>
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? buildBuffer;

    public static byte[] Build(DicomDataset dataset, string studyUid, string seriesUid, string instanceUid, int bulkDataThreshold)
    {
        var prefix = $"studies/{studyUid}/series/{seriesUid}/instances/{instanceUid}/bulkdata/";
        var options = new DicomJsonOptions
        {
            BulkDataThreshold = bulkDataThreshold,
            BulkDataUri = (path, _) => prefix + path.ToString(),
        };
        var output = buildBuffer ??= new ArrayBufferWriter<byte>(16 * 1024);
        output.ResetWrittenCount();
        DicomJsonWriter.Write(output, dataset, options);
        var metadata = output.WrittenSpan.ToArray();
        if (output.Capacity > MaxKeptBuildBuffer)
        {
            buildBuffer = null; // an unusually large data set: its buffer is not kept for the thread's next ingest
        }

        return metadata;
    }

    /// <summary>Writes stored metadata with each relative BulkDataURI prefixed by <paramref name="baseUri"/> (ending in '/').</summary>
    public static async Task WriteWithBaseAsync(Stream destination, byte[] metadata, byte[] baseUri, CancellationToken cancellationToken)
    {
        var start = 0;
        while (true)
        {
            var found = metadata.AsSpan(start).IndexOf(BulkDataUriProperty);
            if (found < 0)
            {
                await destination.WriteAsync(metadata.AsMemory(start), cancellationToken);
                return;
            }

            var end = start + found + BulkDataUriProperty.Length;
            await destination.WriteAsync(metadata.AsMemory(start, end - start), cancellationToken);
            await destination.WriteAsync(baseUri, cancellationToken);
            start = end;
        }
    }

    /// <summary>
    /// Reads stored metadata back as a data set for another representation (DICOM XML): each element stored as a
    /// BulkDataURI is empty, and <paramref name="options"/> writes it as that URI made absolute under <paramref name="dicomWebRoot"/>.
    /// </summary>
    public static (DicomDataset Dataset, DicomJsonOptions Options) ReadWithBase(byte[] metadata, string dicomWebRoot)
    {
        var baseUri = BaseUriText(dicomWebRoot);
        var bulkData = new Dictionary<string, string>(StringComparer.Ordinal);
        var dataset = DicomJsonReader.Read(metadata, new DicomJsonReadOptions { UnresolvedBulkData = reference => bulkData[reference.Path.ToString()] = reference.Uri });
        var options = new DicomJsonOptions
        {
            BulkDataThreshold = -1,
            BulkDataUri = (path, _) => bulkData.TryGetValue(path.ToString(), out var uri) ? baseUri + uri : null,
        };
        return (dataset, options);
    }

    public static byte[] BaseUri(string dicomWebRoot) => Encoding.UTF8.GetBytes(BaseUriText(dicomWebRoot));

    /// <summary>What each stored relative BulkDataURI is prefixed with: the DICOMweb root, ending in '/'.</summary>
    private static string BaseUriText(string dicomWebRoot) => dicomWebRoot.TrimEnd('/') + "/";
}
