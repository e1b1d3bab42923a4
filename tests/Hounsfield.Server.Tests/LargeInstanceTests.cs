using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Numerics;
using System.Security.Cryptography;
using System.Text.Json;
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Microsoft.AspNetCore.WebUtilities;
using Xunit.Abstractions;

namespace Hounsfield.Server.Tests;

/// <summary>
/// Issue 4's bounded-memory acceptance: a ~1 GB native multi-frame instance, generated on disk and never held in
/// memory, is stored through STOW-RS and served back through WADO-RS while the server's peak RSS stays under 200 MB.
/// </summary>
[Trait("Category", "Large")]
public sealed class LargeInstanceTests(ITestOutputHelper output)
{
    private const int Rows = 512;
    private const int Columns = 512;
    private const int Frames = 2000;
    private const int FrameLength = Rows * Columns * 2;
    private const long PeakResidentBudget = 200L * 1024 * 1024;

    [Fact]
    public async Task A_1_GB_multi_frame_instance_is_stored_and_served_with_the_server_peak_rss_under_200_MB()
    {
        var directory = Directory.CreateTempSubdirectory("hounsfield-large-");
        try
        {
            // The generated file, the blob and its temporary copy while ingesting.
            var needed = 3L * FrameLength * Frames;
            var available = new DriveInfo(directory.FullName).AvailableFreeSpace;
            Assert.True(available > needed, $"{directory.FullName} has {available >> 20} MB free; this test needs {needed >> 20} MB.");

            var stopwatch = Stopwatch.StartNew();
            var path = Path.Combine(directory.FullName, "multiframe.dcm");
            var (study, series, instance) = WriteMultiFrameFile(path);
            string fileHash;
            await using (var file = File.OpenRead(path))
            {
                fileHash = Convert.ToHexStringLower(await SHA256.HashDataAsync(file));
            }

            output.WriteLine($"generated {new FileInfo(path).Length >> 20} MB in {stopwatch.Elapsed.TotalSeconds:F1} s");

            await using var server = await ServerProcess.StartAsync(directory.CreateSubdirectory("data"));
            using var client = new HttpClient { BaseAddress = server.Client.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.AccessToken);
            stopwatch.Restart();
            using (var content = new MultipartContent("related", "large-instance-boundary"))
            {
                content.Headers.ContentType!.Parameters.Add(new NameValueHeaderValue("type", "\"application/dicom\""));
                var part = new StreamContent(File.OpenRead(path), 1 << 20);
                part.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
                content.Add(part);

                var stored = await client.PostAsync("/dicomweb/studies", content);

                Assert.True(stored.StatusCode == HttpStatusCode.OK, $"STOW: {(int)stored.StatusCode} {await stored.Content.ReadAsStringAsync()}");
            }

            var peakAfterIngest = server.PeakResidentBytes();
            output.WriteLine($"stored in {stopwatch.Elapsed.TotalSeconds:F1} s; server peak RSS {peakAfterIngest >> 20} MB");
            Assert.True(peakAfterIngest < PeakResidentBudget, $"the server's peak RSS reached {peakAfterIngest >> 20} MB while ingesting (budget {PeakResidentBudget >> 20} MB)");

            var instanceUrl = $"/dicomweb/studies/{study}/series/{series}/instances/{instance}";
            var found = JsonDocument.Parse(await client.GetStringAsync($"/dicomweb/instances?SOPInstanceUID={instance}")).RootElement;
            Assert.Equal(Frames, Assert.Single(found.EnumerateArray()).GetProperty("00280008").GetProperty("Value")[0].GetInt32());

            stopwatch.Restart();
            var frame = Assert.Single(await DicomWebClient.ReadMultipartAsync(await client.GetAsync($"{instanceUrl}/frames/1000")));
            var expectedFrame = new byte[FrameLength];
            FillFrame(999, expectedFrame);
            Assert.True(expectedFrame.AsSpan().SequenceEqual(frame), "frame 1000 differs from the generated one");

            // 1500 frames (750 MB; as many as fit Kestrel's 8 KB request line) stream out one at a time.
            using (var framesResponse = await client.GetAsync($"{instanceUrl}/frames/{string.Join(',', Enumerable.Range(1, 1500))}", HttpCompletionOption.ResponseHeadersRead))
            {
                Assert.Equal(HttpStatusCode.OK, framesResponse.StatusCode);
                var (frameParts, lastFrameHash) = await HashPartsAsync(framesResponse);
                Assert.Equal(1500, frameParts);
                FillFrame(1499, expectedFrame);
                Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(expectedFrame)), lastFrameHash);
            }

            using var request = new HttpRequestMessage(HttpMethod.Get, instanceUrl);
            request.Headers.TryAddWithoutValidation("Accept", "multipart/related; type=\"application/dicom\"; transfer-syntax=*");
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var (parts, retrievedHash) = await HashPartsAsync(response);
            Assert.Equal(1, parts);
            Assert.Equal(fileHash, retrievedHash);

            var peakAfterRetrieve = server.PeakResidentBytes();
            output.WriteLine($"frames and instance retrieved in {stopwatch.Elapsed.TotalSeconds:F1} s; server peak RSS {peakAfterRetrieve >> 20} MB");
            Assert.True(peakAfterRetrieve < PeakResidentBudget, $"the server's peak RSS reached {peakAfterRetrieve >> 20} MB while serving the instance (budget {PeakResidentBudget >> 20} MB)");

            // Converted to Implicit VR Little Endian on the way out: still streamed, and the Pixel Data still ends with the last frame.
            stopwatch.Restart();
            using var implicitRequest = new HttpRequestMessage(HttpMethod.Get, instanceUrl);
            implicitRequest.Headers.TryAddWithoutValidation("Accept", "multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2");
            using var implicitResponse = await client.SendAsync(implicitRequest, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, implicitResponse.StatusCode);
            var tail = await ReadSinglePartTailAsync(implicitResponse, FrameLength);
            FillFrame(Frames - 1, expectedFrame);
            Assert.True(expectedFrame.AsSpan().SequenceEqual(tail), "the converted instance does not end with the last frame");

            var peak = server.PeakResidentBytes();
            output.WriteLine($"converted instance retrieved in {stopwatch.Elapsed.TotalSeconds:F1} s; server peak RSS {peak >> 20} MB");
            Assert.True(peak < PeakResidentBudget, $"the server's peak RSS reached {peak >> 20} MB while converting the instance (budget {PeakResidentBudget >> 20} MB)");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>Writes a Multi-frame Grayscale Word SC instance through the toolkit's writer, which streams the lazy Pixel Data value.</summary>
    private static (string Study, string Series, string Instance) WriteMultiFrameFile(string path)
    {
        var (study, series, instance) = (NewUid(), NewUid(), NewUid());
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTag.SOPClassUID, DicomVR.UI, "1.2.840.10008.5.1.4.1.1.7.3")
            .AddOrUpdate(DicomTag.SOPInstanceUID, DicomVR.UI, instance)
            .AddOrUpdate(DicomTag.Modality, DicomVR.CS, "OT")
            .AddOrUpdate(DicomTag.PatientName, DicomVR.PN, "Large^Multiframe")
            .AddOrUpdate(DicomTag.PatientID, DicomVR.LO, "LARGE-1GB")
            .AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, study)
            .AddOrUpdate(DicomTag.SeriesInstanceUID, DicomVR.UI, series)
            .AddOrUpdate(DicomTag.SamplesPerPixel, DicomVR.US, (ushort)1)
            .AddOrUpdate(DicomTag.PhotometricInterpretation, DicomVR.CS, "MONOCHROME2")
            .AddOrUpdate(DicomTag.NumberOfFrames, DicomVR.IS, Frames.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .AddOrUpdate(DicomTag.Rows, DicomVR.US, (ushort)Rows)
            .AddOrUpdate(DicomTag.Columns, DicomVR.US, (ushort)Columns)
            .AddOrUpdate(DicomTag.BitsAllocated, DicomVR.US, (ushort)16)
            .AddOrUpdate(DicomTag.BitsStored, DicomVR.US, (ushort)16)
            .AddOrUpdate(DicomTag.HighBit, DicomVR.US, (ushort)15)
            .AddOrUpdate(DicomTag.PixelRepresentation, DicomVR.US, (ushort)0)
            .Add(new DicomValueElement(DicomTag.PixelData, DicomVR.OW, new GeneratedFrames()));
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        DicomWriter.WriteFile(stream, new DicomFile(dataset), DicomTransferSyntax.ExplicitVRLittleEndian);
        return (study, series, instance);
    }

    private static string NewUid() => "2.25." + new BigInteger(Guid.NewGuid().ToByteArray(), isUnsigned: true).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Frame <paramref name="frame"/> (0-based): distinct per frame and per pixel, cheap to regenerate.</summary>
    private static void FillFrame(int frame, Span<byte> destination)
    {
        for (var i = 0; i < destination.Length / 2; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(destination[(2 * i)..], (ushort)((((uint)i * 2654435761u) + ((uint)frame * 40503u)) >> 16));
        }
    }

    /// <summary>Reads a multipart/related response part by part, hashing each part's bytes as they stream by.</summary>
    private static async Task<(int Parts, string LastHash)> HashPartsAsync(HttpResponseMessage response)
    {
        var boundary = response.Content.Headers.ContentType!.Parameters.Single(p => p.Name == "boundary").Value!.Trim('"');
        var reader = new MultipartReader(boundary, await response.Content.ReadAsStreamAsync());
        var (parts, hash) = (0, string.Empty);
        var buffer = new byte[1 << 20];
        while (await reader.ReadNextSectionAsync() is { } section)
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            int read;
            while ((read = await section.Body.ReadAsync(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, read);
            }

            (parts, hash) = (parts + 1, Convert.ToHexStringLower(sha.GetHashAndReset()));
        }

        return (parts, hash);
    }

    /// <summary>The last <paramref name="length"/> bytes of the only part of a multipart/related response, read as they stream by.</summary>
    private static async Task<byte[]> ReadSinglePartTailAsync(HttpResponseMessage response, int length)
    {
        var boundary = response.Content.Headers.ContentType!.Parameters.Single(p => p.Name == "boundary").Value!.Trim('"');
        var reader = new MultipartReader(boundary, await response.Content.ReadAsStreamAsync());
        var section = await reader.ReadNextSectionAsync() ?? throw new Xunit.Sdk.XunitException("no part");
        var buffer = new byte[1 << 20];
        var tail = new byte[length];
        var total = 0L;
        int read;
        while ((read = await section.Body.ReadAsync(buffer)) > 0)
        {
            // Keep the last `length` bytes seen: shift what stays, append what came.
            var keep = Math.Max(0, length - read);
            tail.AsSpan(length - keep).CopyTo(tail);
            buffer.AsSpan(Math.Max(0, read - length), Math.Min(read, length)).CopyTo(tail.AsSpan(keep));
            total += read;
        }

        Assert.Null(await reader.ReadNextSectionAsync());
        Assert.True(total > (long)length * Frames, $"the part has only {total} bytes");
        return tail;
    }

    /// <summary>The Pixel Data value of all frames, produced frame by frame as the writer streams it.</summary>
    private sealed class GeneratedFrames : DicomBuffer
    {
        public override long Length => (long)FrameLength * Frames;

        public override bool IsInMemory => false;

        public override ReadOnlyMemory<byte> GetMemory() => throw new InvalidOperationException("the generated value is only ever streamed");

        public override int Read(long offset, Span<byte> destination)
        {
            var frame = new byte[FrameLength];
            var total = 0;
            while (total < destination.Length && offset + total < Length)
            {
                var position = offset + total;
                FillFrame((int)(position / FrameLength), frame);
                var start = (int)(position % FrameLength);
                var count = Math.Min(FrameLength - start, destination.Length - total);
                frame.AsSpan(start, count).CopyTo(destination[total..]);
                total += count;
            }

            return total;
        }

        public override void CopyTo(Stream destination)
        {
            var frame = new byte[FrameLength];
            for (var i = 0; i < Frames; i++)
            {
                FillFrame(i, frame);
                destination.Write(frame);
            }
        }

        public override Task CopyToAsync(Stream destination, CancellationToken cancellationToken = default)
        {
            CopyTo(destination);
            return Task.CompletedTask;
        }
    }
}
