using System.Buffers.Binary;
using System.Globalization;
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Frames;

namespace Hounsfield.Imaging.Transcoding;

/// <summary>
/// Changes the transfer syntax of a DICOM file or data set (PS3.5 §8 and §10): every frame is decoded with the source
/// syntax's decoder (native frames are read as they are) and encoded with the target's encoder, one frame at a time.
/// </summary>
/// <remarks>
/// <para>A native target gets the frames concatenated (1-bit frames bit-contiguous, PS3.5 §8.1.1), with Photometric
/// Interpretation and Planar Configuration as the decoder produced them (a YBR JPEG becomes RGB). An encapsulated
/// target gets a Basic Offset Table and one fragment per frame (PS3.5 A.4), each of even length, with the attributes
/// the encoder records (JPEG 2000 of RGB: YBR_RCT / YBR_ICT). A stale Extended Offset Table is removed. A lossy
/// target marks the data set lossy (PS3.3 C.7.6.1.1.5: Lossy Image Compression 01, with its ratio and method).</para>
/// <para>Between two native syntaxes, or when source and target are the same, the pixel data is left as it is: the
/// writer re-encodes the data set. A data set without pixel data is only re-encoded.</para>
/// </remarks>
public static class Transcoder
{
    /// <summary>
    /// A new file holding <paramref name="file"/>'s data set in <paramref name="target"/> (meta information kept, the
    /// writer completes it for the new syntax). <paramref name="encoder"/> replaces the target's default encoder
    /// (e.g. a JPEG 2000 encoder with another compression ratio).
    /// </summary>
    /// <exception cref="NotSupportedException">No codec decodes the source or encodes the target syntax.</exception>
    /// <exception cref="ImageCodecException">A frame could not be decoded or encoded (incl. <see cref="CodecUnavailableException"/>).</exception>
    public static DicomFile Transcode(DicomFile file, DicomTransferSyntax target, IFrameEncoder? encoder = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        var dataset = Transcode(file.Dataset, file.TransferSyntax, target, encoder);
        var meta = file.Meta.Clone();
        meta.Remove(DicomTag.ImplementationClassUID);
        meta.Remove(DicomTag.ImplementationVersionName);
        meta.AddOrUpdate(DicomTag.TransferSyntaxUID, DicomVR.UI, target.Uid);
        return new DicomFile(meta, dataset, target, file.Preamble);
    }

    /// <summary>A copy of <paramref name="dataset"/> (read in <paramref name="source"/>) whose pixel data is in <paramref name="target"/>.</summary>
    /// <exception cref="NotSupportedException">No codec decodes the source or encodes the target syntax.</exception>
    /// <exception cref="ImageCodecException">A frame could not be decoded or encoded.</exception>
    public static DicomDataset Transcode(DicomDataset dataset, DicomTransferSyntax source, DicomTransferSyntax target, IFrameEncoder? encoder = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        var result = dataset.Clone();
        var reader = PixelDataReader.Create(dataset, source);
        if (reader is null || (source.Equals(target) && encoder is null) || (!reader.IsEncapsulated && target.IsNative))
        {
            return result;
        }

        if (reader.Description.SampleFormat != PixelSampleFormat.Integer && target.IsEncapsulated)
        {
            throw new NotSupportedException($"Float pixel data cannot be encapsulated ({target.Name}).");
        }

        IFrameDecoder? decoder = null;
        var nativeInfo = reader.Description.ToFrameInfo();
        if (reader.IsEncapsulated)
        {
            decoder = FrameCodecs.GetDecoder(source.Uid)
                ?? throw new NotSupportedException($"No decoder for {source.Name} ({source.Uid}).");
            nativeInfo = decoder.GetDecodedInfo(nativeInfo);
        }

        if (target.IsNative)
        {
            WriteNative(result, reader, decoder, nativeInfo);
            return result;
        }

        encoder ??= FrameCodecs.GetEncoder(target.Uid)
            ?? throw new NotSupportedException($"No encoder for {target.Name} ({target.Uid}).");
        WriteEncapsulated(result, reader, decoder, nativeInfo, encoder, target);
        return result;
    }

    /// <summary>Frame <paramref name="index"/> as native little-endian samples laid out as <paramref name="nativeInfo"/> says.</summary>
    private static byte[] ReadNativeFrame(PixelDataReader reader, IFrameDecoder? decoder, FrameInfo sourceInfo, int index) =>
        decoder is null
            ? reader.ReadFrame(index).Data
            : decoder.Decode(reader.ReadCompressedFrame(index), sourceInfo);

    private static void WriteNative(DicomDataset result, PixelDataReader reader, IFrameDecoder? decoder, FrameInfo decodedInfo)
    {
        var sourceInfo = reader.Description.ToFrameInfo();
        var frames = reader.FrameCount;
        var frameLength = DeflatedFrameCodec.NativeFrameLength(decodedInfo); // YBR_FULL_422 native: 2 samples per pixel
        var frameBits = decodedInfo.BitsAllocated == 1 ? (long)decodedInfo.Rows * decodedInfo.Columns * decodedInfo.SamplesPerPixel : frameLength * 8;
        var total = ((frameBits * frames) + 7) / 8;
        if (total > Array.MaxLength)
        {
            throw new NotSupportedException($"{frames} decoded frames of {frameLength} bytes exceed the largest value this writer holds.");
        }

        var pixels = new byte[total];
        for (var i = 0; i < frames; i++)
        {
            var frame = ReadNativeFrame(reader, decoder, sourceInfo, i);
            if (frame.Length < frameLength)
            {
                throw new ImageCodecException($"Frame {i + 1} decoded to {frame.Length} bytes; {frameLength} are expected.");
            }

            if (frameBits % 8 == 0)
            {
                frame.AsSpan(0, (int)frameLength).CopyTo(pixels.AsSpan((int)(i * frameLength)));
            }
            else
            {
                CopyBits(frame, pixels, i * frameBits, frameBits);
            }
        }

        result.Remove(DicomTag.ExtendedOffsetTable);
        result.Remove(DicomTag.ExtendedOffsetTableLengths);
        result.Add(new DicomValueElement(DicomTag.PixelData, decodedInfo.BitsAllocated > 8 ? DicomVR.OW : DicomVR.OB, pixels));
        SetImageAttributes(result, decodedInfo);
    }

    private static void WriteEncapsulated(DicomDataset result, PixelDataReader reader, IFrameDecoder? decoder, FrameInfo nativeInfo, IFrameEncoder encoder, DicomTransferSyntax target)
    {
        var sourceInfo = reader.Description.ToFrameInfo();
        var frames = reader.FrameCount;
        var fragments = new List<DicomBuffer>(frames);
        var offsets = new byte[frames * 4];
        long position = 0;
        long nativeBytes = 0;
        for (var i = 0; i < frames; i++)
        {
            var frame = ReadNativeFrame(reader, decoder, sourceInfo, i);
            nativeBytes += frame.Length;
            var encoded = encoder.Encode(frame, nativeInfo);
            if ((encoded.Length & 1) == 1)
            {
                Array.Resize(ref encoded, encoded.Length + 1); // a fragment is even (PS3.5 A.4); the pad byte is zero
            }

            if (offsets.Length > 0 && position <= uint.MaxValue)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(offsets.AsSpan(i * 4), (uint)position);
            }

            position += 8 + encoded.Length;
            fragments.Add(DicomBuffer.FromBytes(encoded));
        }

        // Offsets past 4 GiB do not fit the Basic Offset Table: leave it empty (frames are one fragment each).
        var table = position - 8 - fragments[^1].Length > uint.MaxValue ? DicomBuffer.Empty : DicomBuffer.FromBytes(offsets);
        result.Remove(DicomTag.ExtendedOffsetTable);
        result.Remove(DicomTag.ExtendedOffsetTableLengths);
        result.Remove(DicomTag.FloatPixelData);
        result.Remove(DicomTag.DoubleFloatPixelData);
        result.Add(new DicomFragmentSequence(DicomTag.PixelData, DicomVR.OB, table, fragments));
        SetImageAttributes(result, encoder.GetEncodedInfo(nativeInfo));
        if (target.IsLossy && IsLossyEncoder(encoder))
        {
            MarkLossy(result, target, nativeBytes, position - (8L * frames));
        }
    }

    private static void SetImageAttributes(DicomDataset dataset, FrameInfo info)
    {
        dataset.AddOrUpdate(DicomTag.PhotometricInterpretation, DicomVR.CS, info.PhotometricInterpretation);
        if (info.SamplesPerPixel > 1)
        {
            dataset.AddOrUpdate(DicomTag.PlanarConfiguration, DicomVR.US, (ushort)info.PlanarConfiguration);
        }
    }

    /// <summary>The encoders that lose information even in a lossy syntax (a lossless encoder may write .91 or .81 too).</summary>
    private static bool IsLossyEncoder(IFrameEncoder encoder) => encoder switch
    {
        JpegLsEncoder jls => jls.Options.NearLossless > 0,
        Jpeg2000Encoder j2k => !j2k.Options.Lossless,
        _ => true,
    };

    /// <summary>PS3.3 C.7.6.1.1.5: Lossy Image Compression, its ratio and method, added to those of earlier compressions.</summary>
    private static void MarkLossy(DicomDataset dataset, DicomTransferSyntax target, long nativeBytes, long compressedBytes)
    {
        var method = target.Uid switch
        {
            FrameCodecs.JpegBaseline or FrameCodecs.JpegExtended => "ISO_10918_1",
            FrameCodecs.JpegLSNearLossless => "ISO_14495_1",
            FrameCodecs.Jpeg2000 => "ISO_15444_1",
            FrameCodecs.HtJpeg2000 => "ISO_15444_15",
            _ => null,
        };
        var ratio = compressedBytes > 0 ? ((double)nativeBytes / compressedBytes).ToString("0.##", CultureInfo.InvariantCulture) : "0";
        var wasLossy = dataset.GetString(DicomTag.LossyImageCompression)?.Trim() == "01";
        dataset.AddOrUpdate(DicomTag.LossyImageCompression, DicomVR.CS, "01");
        dataset.AddOrUpdate(DicomTag.LossyImageCompressionRatio, DicomVR.DS, wasLossy ? [.. dataset.GetStrings(DicomTag.LossyImageCompressionRatio), ratio] : [ratio]);
        if (method is not null)
        {
            dataset.AddOrUpdate(DicomTag.LossyImageCompressionMethod, DicomVR.CS, wasLossy ? [.. dataset.GetStrings(DicomTag.LossyImageCompressionMethod), method] : [method]);
        }
    }

    /// <summary>Copies the first <paramref name="bits"/> bits of <paramref name="frame"/> (from bit 0) to <paramref name="pixels"/> from bit <paramref name="start"/>.</summary>
    private static void CopyBits(byte[] frame, byte[] pixels, long start, long bits)
    {
        for (long b = 0; b < bits; b++)
        {
            if ((frame[b >> 3] & (1 << (int)(b & 7))) != 0)
            {
                var target = start + b;
                pixels[target >> 3] |= (byte)(1 << (int)(target & 7));
            }
        }
    }
}
