using System.Buffers.Binary;

namespace Hounsfield.Imaging.Codecs;

/// <summary>Moves little-endian integer samples between widths (1, 2 or 4 bytes) and colour-by-pixel / colour-by-plane layouts.</summary>
internal static class SampleLayout
{
    /// <summary>
    /// Copies <paramref name="pixels"/> × <paramref name="components"/> samples from <paramref name="source"/> to
    /// <paramref name="destination"/>, changing the sample width (values are truncated to the destination width, or
    /// zero-extended) and the layout (planar: all samples of component 0, then of component 1...).
    /// </summary>
    public static void Convert(
        ReadOnlySpan<byte> source, int sourceBytes, bool sourcePlanar,
        Span<byte> destination, int destinationBytes, bool destinationPlanar,
        int pixels, int components)
    {
        if (sourceBytes == destinationBytes && (components == 1 || sourcePlanar == destinationPlanar))
        {
            source[..(pixels * components * sourceBytes)].CopyTo(destination);
            return;
        }

        for (var c = 0; c < components; c++)
        {
            for (var p = 0; p < pixels; p++)
            {
                var from = sourcePlanar ? (c * pixels) + p : (p * components) + c;
                var to = destinationPlanar ? (c * pixels) + p : (p * components) + c;
                var value = Read(source, from, sourceBytes);
                Write(destination, to, destinationBytes, value);
            }
        }
    }

    public static uint Read(ReadOnlySpan<byte> samples, int index, int bytes) => bytes switch
    {
        1 => samples[index],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(samples[(index * 2)..]),
        _ => BinaryPrimitives.ReadUInt32LittleEndian(samples[(index * 4)..]),
    };

    public static void Write(Span<byte> samples, int index, int bytes, uint value)
    {
        switch (bytes)
        {
            case 1:
                samples[index] = (byte)value;
                break;
            case 2:
                BinaryPrimitives.WriteUInt16LittleEndian(samples[(index * 2)..], (ushort)value);
                break;
            default:
                BinaryPrimitives.WriteUInt32LittleEndian(samples[(index * 4)..], value);
                break;
        }
    }

    /// <summary>Whether every sample of the frame is below 2^<paramref name="bits"/> (no bit above Bits Stored is set).</summary>
    public static bool FitsUnsigned(ReadOnlySpan<byte> frame, int bytesPerSample, int bits)
    {
        if (bits >= bytesPerSample * 8)
        {
            return true;
        }

        var count = frame.Length / bytesPerSample;
        var limit = 1u << bits;
        for (var i = 0; i < count; i++)
        {
            if (Read(frame, i, bytesPerSample) >= limit)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether every sample, read as a two's complement value of the sample width, lies in the range of a signed <paramref name="bits"/>-bit value.</summary>
    public static bool FitsSigned(ReadOnlySpan<byte> frame, int bytesPerSample, int bits)
    {
        if (bits >= bytesPerSample * 8)
        {
            return true;
        }

        var count = frame.Length / bytesPerSample;
        var min = -(1L << (bits - 1));
        var max = (1L << (bits - 1)) - 1;
        for (var i = 0; i < count; i++)
        {
            var value = SignExtend(Read(frame, i, bytesPerSample), bytesPerSample * 8);
            if (value < min || value > max)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The two's complement value of the low <paramref name="bits"/> bits of <paramref name="value"/>.</summary>
    public static long SignExtend(uint value, int bits)
    {
        var shift = 64 - bits;
        return ((long)value << shift) >> shift;
    }
}
