using System.Buffers;
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Hounsfield.Imaging.Codecs;

namespace Hounsfield.Imaging.Frames;

/// <summary>
/// Reads the frames of a data set's pixel data one at a time (PS3.5 §8.1 native, §8.2 and A.4 encapsulated), touching
/// only that frame's bytes: a lazily loaded value is read by range, so a large multi-frame file is never held whole.
/// </summary>
public sealed class PixelDataReader
{
    private readonly DicomDataset dataset;
    private readonly DicomElement element;
    private readonly DicomTransferSyntax transferSyntax;
    private List<Fragment[]>? encapsulatedFrames;

    private PixelDataReader(PixelDataDescription description, DicomDataset dataset, DicomElement element, DicomTransferSyntax transferSyntax)
    {
        Description = description;
        this.dataset = dataset;
        this.element = element;
        this.transferSyntax = transferSyntax;
    }

    public PixelDataDescription Description { get; }

    /// <summary>Whether the frames are compressed (encapsulated, PS3.5 A.4).</summary>
    public bool IsEncapsulated => element is DicomFragmentSequence;

    public DicomTransferSyntax TransferSyntax => transferSyntax;

    public int FrameCount => Description.NumberOfFrames;

    /// <summary>A reader for the pixel data of <paramref name="file"/>, or null when it has none.</summary>
    public static PixelDataReader? Create(DicomFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return Create(file.Dataset, file.TransferSyntax);
    }

    /// <summary>
    /// A reader for the pixel data of <paramref name="dataset"/> as read in <paramref name="transferSyntax"/> (native values
    /// are little endian whatever the syntax they were read in), or null when the data set has no pixel data.
    /// </summary>
    public static PixelDataReader? Create(DicomDataset dataset, DicomTransferSyntax? transferSyntax = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var description = PixelDataDescription.FromDataset(dataset);
        if (description is null || dataset[description.PixelDataTag] is not { } element || element is DicomSequence)
        {
            return null;
        }

        return new PixelDataReader(description, dataset, element, transferSyntax ?? DicomTransferSyntax.ExplicitVRLittleEndian);
    }

    /// <summary>
    /// Frame <paramref name="index"/> (0-based) as native little-endian samples: as stored for native pixel data, as the
    /// decoder produces it for encapsulated data (see <see cref="IFrameDecoder.GetDecodedInfo"/>).
    /// </summary>
    /// <exception cref="NotSupportedException">No decoder for the transfer syntax is available.</exception>
    /// <exception cref="DicomFormatException">The pixel data ends before the frame, or the fragments cannot be assigned to frames.</exception>
    public PixelFrame ReadFrame(int index)
    {
        CheckIndex(index);
        if (element is DicomValueElement value)
        {
            var data = new byte[Description.FrameLength];
            ReadNativeFrame(value.Buffer, index, data);
            return new PixelFrame(Description, data);
        }

        var decoder = FrameCodecs.GetDecoder(transferSyntax.Uid)
            ?? throw new NotSupportedException($"decoding {transferSyntax.Name} ({transferSyntax.Uid}) is not yet supported");
        var info = Description.ToFrameInfo();
        var decodedInfo = decoder.GetDecodedInfo(info);
        var compressed = ReadCompressedFrame(index);
        var decoded = decoder.Decode(compressed, info);
        var description = Description with
        {
            PhotometricInterpretation = decodedInfo.PhotometricInterpretation,
            PlanarConfiguration = decodedInfo.PlanarConfiguration,
            SamplesPerPixel = decodedInfo.SamplesPerPixel,
            BitsAllocated = decodedInfo.BitsAllocated,
            BitsStored = Math.Min(Description.BitsStored, decodedInfo.BitsAllocated),
            HighBit = Math.Min(Description.HighBit, decodedInfo.BitsAllocated - 1),
            PixelRepresentation = decodedInfo.PixelRepresentation,
        };
        return new PixelFrame(description, decoded);
    }

    /// <summary>
    /// As <see cref="ReadFrame"/>, but a native frame's buffer is rented from <see cref="ArrayPool{T}.Shared"/> and may be
    /// longer than the frame: dispose the frame when done (the hot path of rendering, where a 512 KiB array per request
    /// would otherwise cost full garbage collections).
    /// </summary>
    public PixelFrame RentFrame(int index)
    {
        CheckIndex(index);
        if (element is not DicomValueElement value || Description.FrameLength > Array.MaxLength)
        {
            return ReadFrame(index);
        }

        var data = ArrayPool<byte>.Shared.Rent((int)Description.FrameLength);
        try
        {
            ReadNativeFrame(value.Buffer, index, data);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(data);
            throw;
        }

        return new PixelFrame(Description, data, ArrayPool<byte>.Shared);
    }

    /// <summary>The compressed bytes of frame <paramref name="index"/> (its fragments concatenated), for encapsulated pixel data.</summary>
    public byte[] ReadCompressedFrame(int index)
    {
        CheckIndex(index);
        if (element is not DicomFragmentSequence)
        {
            throw new InvalidOperationException("The pixel data is native, not encapsulated.");
        }

        var fragments = GetEncapsulatedFrames()[index];
        long total = 0;
        foreach (var fragment in fragments)
        {
            total += fragment.Buffer.Length;
        }

        if (total > Array.MaxLength)
        {
            throw new DicomFormatException($"Frame {index + 1} has {total} compressed bytes, more than an array holds.");
        }

        var result = new byte[total];
        var position = 0;
        foreach (var fragment in fragments)
        {
            position += fragment.Buffer.Read(0, result.AsSpan(position));
        }

        return result;
    }

    private void CheckIndex(int index)
    {
        if (index < 0 || index >= FrameCount)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"The pixel data has {FrameCount} frame(s).");
        }
    }

    private void ReadNativeFrame(DicomBuffer buffer, int index, Span<byte> destination)
    {
        var bitsPerFrame = Description.BitsPerFrame;
        var firstBit = bitsPerFrame * index;
        var frameLength = Description.FrameLength;
        if ((firstBit & 7) == 0)
        {
            var read = buffer.Read(firstBit / 8, destination[..(int)frameLength]);
            if (read < frameLength)
            {
                throw Truncated(index, buffer.Length);
            }

            ClearPaddingBits(destination, bitsPerFrame);
            return;
        }

        // 1-bit frames that do not start on a byte boundary: re-pack from bit 0 (pixel 0 in the lowest bit of byte 0).
        var shift = (int)(firstBit & 7);
        var sourceLength = (int)(((firstBit + bitsPerFrame + 7) / 8) - (firstBit / 8));
        var source = new byte[sourceLength];
        if (buffer.Read(firstBit / 8, source) < sourceLength)
        {
            throw Truncated(index, buffer.Length);
        }

        for (var i = 0; i < frameLength; i++)
        {
            var low = source[i] >> shift;
            var high = i + 1 < sourceLength ? source[i + 1] << (8 - shift) : 0;
            destination[i] = (byte)(low | high);
        }

        ClearPaddingBits(destination, bitsPerFrame);
    }

    private static void ClearPaddingBits(Span<byte> frame, long bits)
    {
        var used = (int)(bits & 7);
        if (used != 0)
        {
            frame[(int)(bits / 8)] &= (byte)((1 << used) - 1);
        }
    }

    private DicomFormatException Truncated(int index, long available) =>
        new($"The pixel data ({available} bytes) ends before the end of frame {index + 1} of {FrameCount} ({Description.FrameLength} bytes each).");

    private List<Fragment[]> GetEncapsulatedFrames() => encapsulatedFrames ??= SplitFrames((DicomFragmentSequence)element);

    /// <summary>Assigns fragments to frames (PS3.5 A.4): Extended Offset Table, Basic Offset Table, or the rules for none.</summary>
    private List<Fragment[]> SplitFrames(DicomFragmentSequence sequence)
    {
        var frames = FrameCount;

        // Position of each fragment's item tag, relative to the first item after the Basic Offset Table item.
        var fragments = new Fragment[sequence.Fragments.Count];
        long position = 0;
        for (var i = 0; i < fragments.Length; i++)
        {
            fragments[i] = new Fragment(sequence.Fragments[i], position);
            position += 8 + sequence.Fragments[i].Length;
        }

        if (fragments.Length == 0)
        {
            throw new DicomFormatException("The encapsulated pixel data has no fragments.");
        }

        if (frames == 1)
        {
            return [fragments];
        }

        var offsets = GetOffsets(sequence);
        if (offsets is not null && offsets.Length >= frames)
        {
            var result = new List<Fragment[]>(frames);
            for (var f = 0; f < frames; f++)
            {
                var start = offsets[f];
                var end = f + 1 < frames ? offsets[f + 1] : long.MaxValue;
                var group = Array.FindAll(fragments, g => g.Position >= start && g.Position < end);
                if (group.Length == 0)
                {
                    result = null;
                    break;
                }

                result.Add(group);
            }

            if (result is not null)
            {
                return result;
            }
        }

        if (fragments.Length == frames)
        {
            return [.. fragments.Select(f => new[] { f })];
        }

        // No usable table: a frame starts at each fragment that begins a codestream (JPEG / JPEG-LS SOI, JPEG 2000 SOC).
        var frameStarts = new List<int>();
        Span<byte> head = stackalloc byte[2];
        for (var i = 0; i < fragments.Length; i++)
        {
            if (fragments[i].Buffer.Read(0, head) == 2 && head[0] == 0xFF && head[1] is 0xD8 or 0x4F)
            {
                frameStarts.Add(i);
            }
        }

        if (frameStarts.Count != frames || frameStarts[0] != 0)
        {
            throw new DicomFormatException($"Cannot assign {fragments.Length} fragments to {frames} frames: no usable offset table and {frameStarts.Count} codestream starts.");
        }

        var frameList = new List<Fragment[]>(frames);
        for (var f = 0; f < frames; f++)
        {
            var end = f + 1 < frames ? frameStarts[f + 1] : fragments.Length;
            frameList.Add(fragments[frameStarts[f]..end]);
        }

        return frameList;
    }

    private long[]? GetOffsets(DicomFragmentSequence sequence)
    {
        if (dataset[DicomTag.ExtendedOffsetTable] is DicomValueElement extended && extended.Length >= 8)
        {
            var values = dataset.GetValues<ulong>(extended);
            return Array.ConvertAll(values, v => v > long.MaxValue ? long.MaxValue : (long)v);
        }

        var basic = sequence.GetBasicOffsets();
        return basic.Length == 0 ? null : Array.ConvertAll(basic, v => (long)v);
    }

    private readonly record struct Fragment(DicomBuffer Buffer, long Position);
}
