// The least a C-STORE SCP that keeps every acknowledged instance must do: each data set, as received, appended to one file
// (at 4 KiB boundaries, as the archive's segments place records) and flushed with fdatasync before its success answer. No
// parse, no index. With "prewritten", the file is first filled with zeros and flushed, so that the records land in blocks
// already written and their flushes write no file metadata; with "append" the file grows with each record.
//   hounsfield-durable-scp PORT FILE append|prewritten [PREWRITTEN_BYTES]
using System.Net;
using System.Runtime.InteropServices;
using Hounsfield.Network;
using Microsoft.Win32.SafeHandles;

if (args.Length < 3 || !int.TryParse(args[0], out var port) || args[2] is not ("append" or "prewritten"))
{
    Console.Error.WriteLine("usage: hounsfield-durable-scp PORT FILE append|prewritten [PREWRITTEN_BYTES]");
    return 2;
}

using var file = File.OpenHandle(args[1], FileMode.CreateNew, FileAccess.ReadWrite);
if (args[2] == "prewritten")
{
    var length = args.Length > 3 ? long.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 1L << 30;
    var zeros = new byte[4 << 20];
    for (var offset = 0L; offset < length; offset += zeros.Length)
    {
        RandomAccess.Write(file, zeros, offset);
    }

    DurableStore.FlushData(file);
}

await using var server = new DicomServer(new DicomServerOptions
{
    Port = port,
    BindAddress = IPAddress.Loopback,
    AETitle = "DURABLE",
    Store = new DurableStore(file),
});
await server.StartAsync();
Console.Error.WriteLine("ready");
await Task.Delay(Timeout.Infinite);
return 0;

/// <summary>Appends each data set and flushes it; one association at a time is all the benchmark sends.</summary>
internal sealed partial class DurableStore(SafeFileHandle file) : ICStoreProvider
{
    private readonly MemoryStream received = new();
    private long end;

    public async ValueTask<DicomStatus> StoreAsync(DicomStoreRequest request, CancellationToken cancellationToken)
    {
        received.SetLength(0);
        await request.WritePart10Async(received, cancellationToken);
        RandomAccess.Write(file, received.GetBuffer().AsSpan(0, (int)received.Length), end);
        end += (received.Length + 4095) & ~4095L;
        FlushData(file);
        return DicomStatus.Success;
    }

    public static void FlushData(SafeFileHandle handle)
    {
        if (FlushData(handle.DangerousGetHandle().ToInt32()) != 0)
        {
            throw new IOException($"fdatasync failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FlushData(int descriptor);
}
