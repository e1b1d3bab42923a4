using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Hounsfield.Testing;

/// <summary>
/// Loopback ports for the servers tests start, taken below the kernel's ephemeral range (ip_local_port_range, from 32768
/// by default). A port the kernel chose for a listener (bind to 0) and released may be the local port it gives next to an
/// outgoing connection of a test running alongside; a server then started on it exits at start, its port in use. Ports
/// below that range are never given to outgoing connections. They are taken in turn, each checked free by binding it,
/// from an offset of the process, so that test processes running at once start apart.
/// </summary>
public static class FreePorts
{
    private const int Lowest = 10_000;
    private static readonly int EphemeralStart = ReadEphemeralStart();
    private static int next = Environment.ProcessId * 7919;

    /// <summary>A TCP port free on loopback now, outside the ephemeral range when there is room below it.</summary>
    public static int Next()
    {
        var count = EphemeralStart - Lowest;
        if (count < 1000)
        {
            return KernelChosen();
        }

        for (var attempt = 0; attempt < count; attempt++)
        {
            var port = Lowest + (int)((uint)Interlocked.Increment(ref next) % (uint)count);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // In use: the next one.
            }
        }

        return KernelChosen();
    }

    private static int KernelChosen()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static int ReadEphemeralStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 49152; // the IANA dynamic range, used where Linux's setting is not there
        }
    }
}
