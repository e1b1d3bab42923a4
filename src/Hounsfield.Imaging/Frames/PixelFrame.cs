using System.Buffers;
using System.Buffers.Binary;

namespace Hounsfield.Imaging.Frames;

/// <summary>
/// One native frame: samples little-endian, Bits Allocated wide (1-bit frames packed from bit 0 of byte 0, PS3.5 §8.1.1),
/// laid out as the photometric interpretation and planar configuration say (PS3.3 C.7.6.3.1).
/// </summary>
public sealed class PixelFrame : IDisposable
{
    private ArrayPool<byte>? pool;

    public PixelFrame(PixelDataDescription description, byte[] data)
        : this(description, data, null)
    {
    }

    /// <summary>A frame whose <paramref name="data"/> was rented from <paramref name="pool"/> and goes back to it on <see cref="Dispose"/>.</summary>
    internal PixelFrame(PixelDataDescription description, byte[] data, ArrayPool<byte>? pool)
    {
        ArgumentNullException.ThrowIfNull(description);
        ArgumentNullException.ThrowIfNull(data);
        if (data.LongLength < description.FrameLength)
        {
            throw new ArgumentException($"A frame of {description.Columns}x{description.Rows} needs {description.FrameLength} bytes; {data.Length} given.", nameof(data));
        }

        Description = description with { NumberOfFrames = 1 };
        Data = data;
        this.pool = pool;
    }

    /// <summary>The layout of <see cref="Data"/> (Number of Frames is 1).</summary>
    public PixelDataDescription Description { get; }

    public int Width => Description.Columns;

    public int Height => Description.Rows;

    public int SamplesPerPixel => Description.SamplesPerPixel;

    public int BitsAllocated => Description.BitsAllocated;

    public int BitsStored => Description.BitsStored;

    public bool IsSigned => Description.IsSigned;

    public string PhotometricInterpretation => Description.PhotometricInterpretation;

    /// <summary>The frame's bytes (at least <see cref="PixelDataDescription.FrameLength"/>).</summary>
    public byte[] Data { get; }

    /// <summary>Returns a rented buffer (see <see cref="PixelDataReader.RentFrame"/>) to its pool; <see cref="Data"/> must not be used after.</summary>
    public void Dispose()
    {
        pool?.Return(Data);
        pool = null;
    }

    /// <summary>
    /// The same pixels colour-by-pixel with one value per sample: planar configuration 1 is interleaved, and
    /// YBR_FULL_422 / YBR_PARTIAL_422 native data (Y1 Y2 Cb Cr per pixel pair) is expanded to three samples per pixel, each
    /// pair sharing its chrominance, labelled YBR_FULL (resp. "YBR_PARTIAL", full resolution with the partial value range:
    /// not a defined term). Other frames are returned as they are.
    /// </summary>
    public PixelFrame ToColorByPixel()
    {
        var d = Description;
        if (d.SamplesPerPixel == 1 || d.SampleFormat != PixelSampleFormat.Integer || d.BitsAllocated < 8)
        {
            return this;
        }

        var bytes = d.BytesPerSample;
        var pixels = (long)d.Rows * d.Columns;
        if (d.IsSubsampled422)
        {
            var output = new byte[pixels * 3 * bytes];
            var pairsPerRow = (d.Columns + 1) / 2;
            for (var row = 0; row < d.Rows; row++)
            {
                for (var pair = 0; pair < pairsPerRow; pair++)
                {
                    var source = ((long)row * pairsPerRow + pair) * 4 * bytes;
                    for (var k = 0; k < 2; k++)
                    {
                        var column = (pair * 2) + k;
                        if (column >= d.Columns)
                        {
                            break;
                        }

                        var target = (((long)row * d.Columns) + column) * 3 * bytes;
                        Data.AsSpan((int)(source + (k * bytes)), bytes).CopyTo(output.AsSpan((int)target, bytes));
                        Data.AsSpan((int)(source + (2 * bytes)), 2 * bytes).CopyTo(output.AsSpan((int)(target + bytes), 2 * bytes));
                    }
                }
            }

            var full = d.PhotometricInterpretation == "YBR_PARTIAL_422" ? "YBR_PARTIAL" : "YBR_FULL";
            return new PixelFrame(d with { PhotometricInterpretation = full, PlanarConfiguration = 0 }, output);
        }

        if (d.PlanarConfiguration != 1)
        {
            return this;
        }

        var samples = d.SamplesPerPixel;
        var interleaved = new byte[pixels * samples * bytes];
        for (var s = 0; s < samples; s++)
        {
            var plane = Data.AsSpan((int)(s * pixels * bytes), (int)(pixels * bytes));
            for (long p = 0; p < pixels; p++)
            {
                plane.Slice((int)(p * bytes), bytes).CopyTo(interleaved.AsSpan((int)(((p * samples) + s) * bytes), bytes));
            }
        }

        return new PixelFrame(d with { PlanarConfiguration = 0 }, interleaved);
    }

    /// <summary>Stored value of sample <paramref name="index"/> (masked to Bits Stored, sign-extended), for integer frames.</summary>
    public long GetStoredValue(long index)
    {
        var d = Description;
        ulong raw;
        if (d.BitsAllocated == 1)
        {
            raw = (ulong)((Data[index >> 3] >> (int)(index & 7)) & 1);
        }
        else
        {
            var span = Data.AsSpan();
            raw = d.BytesPerSample switch
            {
                1 => span[(int)index],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(span[(int)(index * 2)..]),
                3 => span[(int)(index * 3)] | ((ulong)span[(int)(index * 3) + 1] << 8) | ((ulong)span[(int)(index * 3) + 2] << 16),
                4 => BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(index * 4)..]),
                _ => BinaryPrimitives.ReadUInt64LittleEndian(span[(int)(index * 8)..]),
            };
        }

        return StoredValue.Extract(raw, d.BitsStored, d.HighBit, d.IsSigned);
    }
}

/// <summary>Bits Stored masking and sign extension (PS3.5 §8.1.1, PS3.3 C.7.6.3.1).</summary>
internal static class StoredValue
{
    public static long Extract(ulong raw, int bitsStored, int highBit, bool signed)
    {
        var shift = highBit - bitsStored + 1;
        var value = raw >> shift;
        if (bitsStored < 64)
        {
            value &= (1UL << bitsStored) - 1;
            if (signed && ((value >> (bitsStored - 1)) & 1) != 0)
            {
                value |= ~((1UL << bitsStored) - 1);
            }
        }

        return (long)value;
    }

    /// <summary>Smallest stored value the representation allows.</summary>
    public static long Minimum(int bitsStored, bool signed) => signed ? -(1L << (Math.Min(bitsStored, 63) - 1)) : 0;

    /// <summary>Largest stored value the representation allows.</summary>
    public static long Maximum(int bitsStored, bool signed) =>
        signed ? (1L << (Math.Min(bitsStored, 63) - 1)) - 1 : bitsStored >= 63 ? long.MaxValue : (1L << bitsStored) - 1;
}
