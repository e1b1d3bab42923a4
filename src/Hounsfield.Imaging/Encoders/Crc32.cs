namespace Hounsfield.Imaging.Encoders;

/// <summary>
/// CRC-32 as PNG uses it (RFC 2083 §3.4 / ISO 3309: polynomial 0x04C11DB7 reflected, i.e. 0xEDB88320, initial value and
/// final XOR 0xFFFFFFFF), table-driven eight bytes at a time ("slicing by 8").
/// </summary>
internal static class Crc32
{
    private static readonly uint[] Tables = BuildTables();

    /// <summary>Continues a running CRC (start with 0) over <paramref name="data"/>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        var c = ~crc;
        var tables = Tables.AsSpan();
        while (data.Length >= 8)
        {
            var low = c ^ (uint)(data[0] | (data[1] << 8) | (data[2] << 16) | (data[3] << 24));
            var high = (uint)(data[4] | (data[5] << 8) | (data[6] << 16) | (data[7] << 24));
            c = tables[(7 * 256) + (int)(low & 0xFF)]
                ^ tables[(6 * 256) + (int)((low >> 8) & 0xFF)]
                ^ tables[(5 * 256) + (int)((low >> 16) & 0xFF)]
                ^ tables[(4 * 256) + (int)(low >> 24)]
                ^ tables[(3 * 256) + (int)(high & 0xFF)]
                ^ tables[(2 * 256) + (int)((high >> 8) & 0xFF)]
                ^ tables[(1 * 256) + (int)((high >> 16) & 0xFF)]
                ^ tables[(int)(high >> 24)];
            data = data[8..];
        }

        foreach (var b in data)
        {
            c = tables[(int)((c ^ b) & 0xFF)] ^ (c >> 8);
        }

        return ~c;
    }

    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    private static uint[] BuildTables()
    {
        var tables = new uint[8 * 256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            tables[n] = c;
        }

        for (var t = 1; t < 8; t++)
        {
            for (var n = 0; n < 256; n++)
            {
                var previous = tables[((t - 1) * 256) + n];
                tables[(t * 256) + n] = (previous >> 8) ^ tables[(int)(previous & 0xFF)];
            }
        }

        return tables;
    }
}
