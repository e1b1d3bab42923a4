// The head of a Part 10 file (PS3.10 §7.1): 128-byte preamble, "DICM", and the file meta information group 0002 in
// explicit VR little endian. Walked element by element only to find where the data set starts and to read the SOP
// class, SOP instance and transfer syntax UIDs, so that the data set can be sent as stored, without re-encoding.
using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Hounsfield.Dicom.Text;

namespace Hounsfield.Network;

internal sealed class Part10Prefix : IDisposable
{
    private const int MaxMetaLength = 4 * 1024 * 1024;
    private readonly Stream stream;
    private byte[] buffer;

    private Part10Prefix(Stream stream)
    {
        this.stream = stream;
        buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
    }

    /// <summary>Bytes read from the stream so far; the data set begins at <see cref="DataSetOffset"/> within them.</summary>
    public ReadOnlyMemory<byte> Buffered => buffer.AsMemory(0, Filled);

    public int Filled { get; private set; }

    public int DataSetOffset { get; private set; }

    public bool HasMeta { get; private set; }

    public string? SopClassUid { get; private set; }

    public string? SopInstanceUid { get; private set; }

    public string? TransferSyntaxUid { get; private set; }

    /// <summary>Reads the preamble and meta information of <paramref name="stream"/>; with neither, the data set starts at 0.</summary>
    public static async ValueTask<Part10Prefix> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var prefix = new Part10Prefix(stream);
        try
        {
            await prefix.ParseAsync(cancellationToken).ConfigureAwait(false);
            return prefix;
        }
        catch
        {
            prefix.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = [];
        }
    }

    private async ValueTask ParseAsync(CancellationToken cancellationToken)
    {
        var offset = 0;
        if (await EnsureAsync(132, cancellationToken).ConfigureAwait(false) && buffer.AsSpan(128, 4).SequenceEqual("DICM"u8))
        {
            offset = 132;
            HasMeta = true;
        }
        else if (Filled >= 8 && BinaryPrimitives.ReadUInt16LittleEndian(buffer) == 0x0002)
        {
            HasMeta = true;
        }

        while (HasMeta && await EnsureAsync(offset + 8, cancellationToken).ConfigureAwait(false)
            && BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(offset)) == 0x0002)
        {
            var element = BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(offset + 2));
            int headerLength;
            uint length;
            var v0 = buffer[offset + 4];
            var v1 = buffer[offset + 5];
            if (v0 is >= (byte)'A' and <= (byte)'Z' && v1 is >= (byte)'A' and <= (byte)'Z')
            {
                if (IsLongVR(v0, v1))
                {
                    if (!await EnsureAsync(offset + 12, cancellationToken).ConfigureAwait(false))
                    {
                        break;
                    }

                    length = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(offset + 8));
                    headerLength = 12;
                }
                else
                {
                    length = BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(offset + 6));
                    headerLength = 8;
                }
            }
            else
            {
                // Implicit VR meta information, which some writers produce, is tolerated.
                length = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(offset + 4));
                headerLength = 8;
            }

            if (length > MaxMetaLength || offset + headerLength + (long)length > MaxMetaLength)
            {
                throw new InvalidDataException($"The file meta information element (0002,{element:X4}) declares length {length}, beyond {MaxMetaLength} bytes.");
            }

            var end = offset + headerLength + (int)length;
            if (!await EnsureAsync(end, cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidDataException("The file ends inside its meta information.");
            }

            var value = buffer.AsSpan(offset + headerLength, (int)length);
            switch (element)
            {
                case 0x0002:
                    SopClassUid = Uid(value);
                    break;
                case 0x0003:
                    SopInstanceUid = Uid(value);
                    break;
                case 0x0010:
                    TransferSyntaxUid = Uid(value);
                    break;
            }

            offset = end;
        }

        DataSetOffset = offset;
    }

    private static bool IsLongVR(byte a, byte b) => (char)a switch
    {
        'O' => b is (byte)'B' or (byte)'D' or (byte)'F' or (byte)'L' or (byte)'V' or (byte)'W',
        'S' => b is (byte)'Q' or (byte)'V',
        'U' => b is (byte)'C' or (byte)'N' or (byte)'R' or (byte)'T' or (byte)'V',
        _ => false,
    };

    private static string? Uid(ReadOnlySpan<byte> value)
    {
        var text = Encoding.ASCII.GetString(value).TrimPadding();
        return text.Length == 0 ? null : text;
    }

    private async ValueTask<bool> EnsureAsync(int count, CancellationToken cancellationToken)
    {
        if (count <= Filled)
        {
            return true;
        }

        if (count > buffer.Length)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(count, buffer.Length * 2));
            buffer.AsSpan(0, Filled).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = grown;
        }

        while (Filled < count)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(Filled), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return false;
            }

            Filled += n;
        }

        return true;
    }
}
