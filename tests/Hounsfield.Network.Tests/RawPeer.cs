using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Hounsfield.Dicom;
using Hounsfield.Network.Dimse;
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network.Tests;

/// <summary>A peer that writes whatever bytes a test wants: well-formed PDUs, truncated ones, or garbage.</summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private readonly TcpClient client;
    private readonly NetworkStream stream;

    private RawPeer(TcpClient client)
    {
        this.client = client;
        stream = client.GetStream();
    }

    public static async Task<RawPeer> ConnectAsync(int port)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        return new RawPeer(client);
    }

    public Task SendAsync(ReadOnlyMemory<byte> bytes) => stream.WriteAsync(bytes).AsTask();

    /// <summary>The next PDU, or null when the server closed the connection.</summary>
    public async Task<(DicomPduType Type, byte[] Body)?> ReadPduAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var header = new byte[6];
        try
        {
            await stream.ReadExactlyAsync(header, cts.Token);
        }
        catch (EndOfStreamException)
        {
            return null;
        }
        catch (IOException)
        {
            return null;
        }

        var body = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(2))];
        await stream.ReadExactlyAsync(body, cts.Token);
        return ((DicomPduType)header[0], body);
    }

    /// <summary>Whether the server closes the connection within <paramref name="timeout"/> (PDUs it sends first are skipped).</summary>
    public async Task<bool> ClosedWithinAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[4096];
        try
        {
            while (await stream.ReadAsync(buffer, cts.Token) > 0)
            {
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    public async Task AssociateAsync(string calledAE, string abstractSyntax, string transferSyntax, uint maxPduLength = 16384, (ushort Invoked, ushort Performed)? asyncWindow = null)
    {
        var request = new DicomAssociationRequest { CalledAE = calledAE, CallingAE = "RAWPEER" };
        request.PresentationContexts.Add(new DicomPresentationContextProposal(1, abstractSyntax, [transferSyntax]));
        request.UserInformation.MaxPduLength = maxPduLength;
        request.UserInformation.AsynchronousOperationsWindow = asyncWindow;
        using var buffer = new PooledBufferStream();
        PduCodec.WriteAssociateRequest(buffer, request);
        await SendAsync(buffer.ToArray());
        var answer = await ReadPduAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(DicomPduType.AssociateAccept, answer?.Type);
    }

    public static byte[] PData(byte contextId, bool command, bool last, ReadOnlySpan<byte> payload)
    {
        var bytes = new byte[12 + payload.Length];
        PduCodec.WritePDataHeaders(bytes, payload.Length, contextId, command, last);
        payload.CopyTo(bytes.AsSpan(12));
        return bytes;
    }

    public static byte[] Command(DicomDataset command)
    {
        using var buffer = new PooledBufferStream();
        DimseCommand.Encode(command, buffer);
        return buffer.ToArray();
    }

    public static byte[] Abort() => [(byte)DicomPduType.Abort, 0, 0, 0, 0, 4, 0, 0, 0, 0];

    public ValueTask DisposeAsync()
    {
        client.Dispose();
        return ValueTask.CompletedTask;
    }
}
