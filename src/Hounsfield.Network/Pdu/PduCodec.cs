// Encoding and decoding of the association PDUs over spans: A-ASSOCIATE-RQ (PS3.8 §9.3.2, Tables 9-11 ... 9-14),
// A-ASSOCIATE-AC (§9.3.3, Tables 9-17 ... 9-20), A-ASSOCIATE-RJ (§9.3.4), A-RELEASE-RQ/RP (§9.3.6, §9.3.7) and
// A-ABORT (§9.3.8); user information sub-items of PS3.7 Annex D.3.3 and PS3.8 Annex D.1. All multi-byte fields are
// big endian (PS3.8 §9.3.1). Decoding checks every length against its enclosing one and counts items against limits.
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Hounsfield.Dicom.Text;

namespace Hounsfield.Network.Pdu;

/// <summary>Limits applied while decoding association PDUs.</summary>
internal readonly record struct PduLimits(int MaxPresentationContexts, int MaxItems)
{
    public static readonly PduLimits Default = new(128, 1024);
}

internal static class PduCodec
{
    public const int HeaderLength = 6;
    private const int AssociateFixedLength = 68;

    // ---- encoding ----

    public static void WriteAssociateRequest(PooledBufferStream output, DicomAssociationRequest request)
    {
        var lengthOffset = BeginPdu(output, DicomPduType.AssociateRequest);
        WriteAssociateHeader(output, request.ProtocolVersion, request.CalledAE, request.CallingAE);
        WriteStringItem(output, DicomItemType.ApplicationContext, request.ApplicationContextName);
        foreach (var context in request.PresentationContexts)
        {
            var itemOffset = BeginItem(output, DicomItemType.PresentationContextRequest);
            output.WriteByte(context.Id);
            output.WriteByte(0);
            output.WriteByte(0);
            output.WriteByte(0);
            WriteStringItem(output, DicomItemType.AbstractSyntax, context.AbstractSyntax);
            foreach (var syntax in context.TransferSyntaxes)
            {
                WriteStringItem(output, DicomItemType.TransferSyntax, syntax);
            }

            EndItem(output, itemOffset);
        }

        WriteUserInformation(output, request.UserInformation, isRequest: true);
        EndPdu(output, lengthOffset);
    }

    public static void WriteAssociateAccept(PooledBufferStream output, DicomAssociationAccept accept)
    {
        var lengthOffset = BeginPdu(output, DicomPduType.AssociateAccept);
        WriteAssociateHeader(output, accept.ProtocolVersion, accept.CalledAE, accept.CallingAE);
        WriteStringItem(output, DicomItemType.ApplicationContext, accept.ApplicationContextName);
        foreach (var context in accept.PresentationContexts)
        {
            var itemOffset = BeginItem(output, DicomItemType.PresentationContextAccept);
            output.WriteByte(context.Id);
            output.WriteByte(0);
            output.WriteByte((byte)context.Outcome);
            output.WriteByte(0);

            // PS3.8 Table 9-18: the transfer syntax sub-item is always present; its value is not significant when rejected.
            WriteStringItem(output, DicomItemType.TransferSyntax, context.TransferSyntax ?? string.Empty);
            EndItem(output, itemOffset);
        }

        WriteUserInformation(output, accept.UserInformation, isRequest: false);
        EndPdu(output, lengthOffset);
    }

    public static void WriteAssociateReject(PooledBufferStream output, DicomAssociationReject reject)
    {
        var lengthOffset = BeginPdu(output, DicomPduType.AssociateReject);
        output.WriteByte(0);
        output.WriteByte((byte)reject.Result);
        output.WriteByte((byte)reject.Source);
        output.WriteByte(reject.Reason);
        EndPdu(output, lengthOffset);
    }

    public static void WriteReleaseRequest(PooledBufferStream output) => WriteFourReserved(output, DicomPduType.ReleaseRequest);

    public static void WriteReleaseResponse(PooledBufferStream output) => WriteFourReserved(output, DicomPduType.ReleaseResponse);

    public static void WriteAbort(PooledBufferStream output, DicomAbort abort)
    {
        var lengthOffset = BeginPdu(output, DicomPduType.Abort);
        output.WriteByte(0);
        output.WriteByte(0);
        output.WriteByte((byte)abort.Source);
        output.WriteByte((byte)abort.Reason);
        EndPdu(output, lengthOffset);
    }

    /// <summary>Writes the 6-byte P-DATA-TF header and the 6-byte header of its single PDV (PS3.8 §9.3.5, Annex E.2).</summary>
    public static void WritePDataHeaders(Span<byte> destination, int payloadLength, byte presentationContextId, bool command, bool last)
    {
        destination[0] = (byte)DicomPduType.PData;
        destination[1] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], (uint)(payloadLength + 6));
        BinaryPrimitives.WriteUInt32BigEndian(destination[6..], (uint)(payloadLength + 2));
        destination[10] = presentationContextId;
        destination[11] = (byte)((command ? 0x01 : 0x00) | (last ? 0x02 : 0x00));
    }

    private static void WriteFourReserved(PooledBufferStream output, DicomPduType type)
    {
        var lengthOffset = BeginPdu(output, type);
        output.WriteUInt32BigEndian(0);
        EndPdu(output, lengthOffset);
    }

    private static int BeginPdu(PooledBufferStream output, DicomPduType type)
    {
        output.WriteByte((byte)type);
        output.WriteByte(0);
        return output.Reserve(4);
    }

    private static void EndPdu(PooledBufferStream output, int lengthOffset) =>
        output.PatchUInt32BigEndian(lengthOffset, (uint)(output.Count - lengthOffset - 4));

    private static int BeginItem(PooledBufferStream output, byte type)
    {
        output.WriteByte(type);
        output.WriteByte(0);
        return output.Reserve(2);
    }

    private static void EndItem(PooledBufferStream output, int lengthOffset)
    {
        var length = output.Count - lengthOffset - 2;
        if (length > ushort.MaxValue)
        {
            throw new InvalidOperationException($"An item of {length} bytes does not fit the 16-bit item length.");
        }

        output.PatchUInt16BigEndian(lengthOffset, (ushort)length);
    }

    private static void WriteAssociateHeader(PooledBufferStream output, ushort protocolVersion, string calledAE, string callingAE)
    {
        output.WriteUInt16BigEndian(protocolVersion);
        output.WriteUInt16BigEndian(0);
        output.WritePadded(calledAE, 16);
        output.WritePadded(callingAE, 16);
        output.GetSpan(32).Clear();
        output.Advance(32);
    }

    private static void WriteStringItem(PooledBufferStream output, byte type, string value)
    {
        var offset = BeginItem(output, type);
        output.WriteAscii(value);
        EndItem(output, offset);
    }

    private static void WriteUserInformation(PooledBufferStream output, DicomUserInformation info, bool isRequest)
    {
        var offset = BeginItem(output, DicomItemType.UserInformation);

        var maxLength = BeginItem(output, DicomItemType.MaximumLength);
        output.WriteUInt32BigEndian(info.MaxPduLength);
        EndItem(output, maxLength);

        if (info.ImplementationClassUid is { } classUid)
        {
            WriteStringItem(output, DicomItemType.ImplementationClassUid, classUid);
        }

        if (info.AsynchronousOperationsWindow is { } window)
        {
            var item = BeginItem(output, DicomItemType.AsynchronousOperationsWindow);
            output.WriteUInt16BigEndian(window.Invoked);
            output.WriteUInt16BigEndian(window.Performed);
            EndItem(output, item);
        }

        foreach (var role in info.RoleSelections)
        {
            var item = BeginItem(output, DicomItemType.RoleSelection);
            output.WriteUInt16BigEndian((ushort)role.SopClassUid.Length);
            output.WriteAscii(role.SopClassUid);
            output.WriteByte(role.ScuRole ? (byte)1 : (byte)0);
            output.WriteByte(role.ScpRole ? (byte)1 : (byte)0);
            EndItem(output, item);
        }

        if (info.ImplementationVersionName is { Length: > 0 } versionName)
        {
            WriteStringItem(output, DicomItemType.ImplementationVersionName, versionName);
        }

        foreach (var negotiation in info.ExtendedNegotiations)
        {
            var item = BeginItem(output, DicomItemType.SopClassExtendedNegotiation);
            output.WriteUInt16BigEndian((ushort)negotiation.SopClassUid.Length);
            output.WriteAscii(negotiation.SopClassUid);
            output.Write(negotiation.Information);
            EndItem(output, item);
        }

        if (isRequest && info.UserIdentity is { } identity)
        {
            var item = BeginItem(output, DicomItemType.UserIdentityRequest);
            output.WriteByte(identity.Type);
            output.WriteByte(identity.PositiveResponseRequested ? (byte)1 : (byte)0);
            output.WriteUInt16BigEndian((ushort)identity.PrimaryField.Length);
            output.Write(identity.PrimaryField);
            output.WriteUInt16BigEndian((ushort)identity.SecondaryField.Length);
            output.Write(identity.SecondaryField);
            EndItem(output, item);
        }

        if (!isRequest && info.UserIdentityResponse is { } response)
        {
            var item = BeginItem(output, DicomItemType.UserIdentityAccept);
            output.WriteUInt16BigEndian((ushort)response.Length);
            output.Write(response);
            EndItem(output, item);
        }

        EndItem(output, offset);
    }

    // ---- decoding ----

    /// <summary>Decodes the body (after the 6-byte PDU header) of an A-ASSOCIATE-RQ.</summary>
    public static DicomAssociationRequest ReadAssociateRequest(ReadOnlySpan<byte> body, PduLimits limits)
    {
        var request = new DicomAssociationRequest();
        var reader = new PduSpanReader(body, "A-ASSOCIATE-RQ");
        ReadAssociateHeader(ref reader, out var version, out var called, out var calling);
        request.ProtocolVersion = version;
        request.CalledAE = called;
        request.CallingAE = calling;
        string? applicationContext = null;
        var items = 0;
        var seenIds = new HashSet<byte>();
        while (reader.Remaining > 0)
        {
            var item = reader.ReadItem(ref items, limits.MaxItems, out var type);
            switch (type)
            {
                case DicomItemType.ApplicationContext:
                    applicationContext = item.ReadRemainingString();
                    break;
                case DicomItemType.PresentationContextRequest:
                    if (request.PresentationContexts.Count >= limits.MaxPresentationContexts)
                    {
                        throw new DicomNetworkLimitException("MaxPresentationContexts", limits.MaxPresentationContexts, request.PresentationContexts.Count + 1L, "Presentation contexts proposed in the A-ASSOCIATE-RQ");
                    }

                    var context = ReadProposedContext(ref item, ref items, limits);
                    if (!seenIds.Add(context.Id))
                    {
                        PduSpanReader.Invalid($"A-ASSOCIATE-RQ proposes presentation context ID {context.Id} twice");
                    }

                    request.PresentationContexts.Add(context);
                    break;
                case DicomItemType.UserInformation:
                    request.UserInformation = ReadUserInformation(ref item, ref items, limits, isRequest: true);
                    break;
                default:
                    // PS3.8 §9.3.2: items of unrecognized type are ignored.
                    break;
            }
        }

        request.ApplicationContextName = applicationContext ?? PduSpanReader.Invalid<string>("A-ASSOCIATE-RQ has no application context item");
        return request;
    }

    /// <summary>Decodes the body of an A-ASSOCIATE-AC.</summary>
    public static DicomAssociationAccept ReadAssociateAccept(ReadOnlySpan<byte> body, PduLimits limits)
    {
        var accept = new DicomAssociationAccept();
        var reader = new PduSpanReader(body, "A-ASSOCIATE-AC");
        ReadAssociateHeader(ref reader, out var version, out var called, out var calling);
        accept.ProtocolVersion = version;
        accept.CalledAE = called;
        accept.CallingAE = calling;
        var items = 0;
        while (reader.Remaining > 0)
        {
            var item = reader.ReadItem(ref items, limits.MaxItems, out var type);
            switch (type)
            {
                case DicomItemType.ApplicationContext:
                    accept.ApplicationContextName = item.ReadRemainingString();
                    break;
                case DicomItemType.PresentationContextAccept:
                    if (accept.PresentationContexts.Count >= limits.MaxPresentationContexts)
                    {
                        throw new DicomNetworkLimitException("MaxPresentationContexts", limits.MaxPresentationContexts, accept.PresentationContexts.Count + 1L, "Presentation contexts in the A-ASSOCIATE-AC");
                    }

                    var id = item.ReadByte();
                    item.Skip(1);
                    var outcome = (DicomPresentationContextOutcome)item.ReadByte();
                    item.Skip(1);
                    string? syntax = null;
                    while (item.Remaining > 0)
                    {
                        var sub = item.ReadItem(ref items, limits.MaxItems, out var subType);
                        if (subType == DicomItemType.TransferSyntax)
                        {
                            syntax = sub.ReadRemainingString();
                        }
                    }

                    accept.PresentationContexts.Add(new DicomPresentationContextResult(
                        id, outcome, outcome == DicomPresentationContextOutcome.Acceptance ? syntax : null));
                    break;
                case DicomItemType.UserInformation:
                    accept.UserInformation = ReadUserInformation(ref item, ref items, limits, isRequest: false);
                    break;
                default:
                    break;
            }
        }

        return accept;
    }

    public static DicomAssociationReject ReadAssociateReject(ReadOnlySpan<byte> body)
    {
        var reader = new PduSpanReader(body, "A-ASSOCIATE-RJ");
        reader.Skip(1);
        var result = reader.ReadByte();
        var source = reader.ReadByte();
        var reason = reader.ReadByte();
        return new DicomAssociationReject((DicomRejectResult)result, (DicomRejectSource)source, reason);
    }

    public static DicomAbort ReadAbort(ReadOnlySpan<byte> body)
    {
        var reader = new PduSpanReader(body, "A-ABORT");
        reader.Skip(2);
        var source = reader.ReadByte();
        var reason = reader.ReadByte();
        return new DicomAbort((DicomAbortSource)source, (DicomAbortReason)reason);
    }

    private static void ReadAssociateHeader(ref PduSpanReader reader, out ushort version, out string called, out string calling)
    {
        if (reader.Remaining < AssociateFixedLength)
        {
            PduSpanReader.Invalid($"{reader.What} is {reader.Remaining} bytes long, shorter than its {AssociateFixedLength}-byte fixed fields");
        }

        version = reader.ReadUInt16();
        reader.Skip(2);
        called = reader.ReadAETitle();
        calling = reader.ReadAETitle();
        reader.Skip(32);
    }

    private static DicomPresentationContextProposal ReadProposedContext(ref PduSpanReader item, ref int items, PduLimits limits)
    {
        var id = item.ReadByte();
        item.Skip(3);
        string? abstractSyntax = null;
        var transferSyntaxes = new List<string>();
        while (item.Remaining > 0)
        {
            var sub = item.ReadItem(ref items, limits.MaxItems, out var type);
            switch (type)
            {
                case DicomItemType.AbstractSyntax:
                    if (abstractSyntax is not null)
                    {
                        PduSpanReader.Invalid($"Presentation context {id} has more than one abstract syntax");
                    }

                    abstractSyntax = sub.ReadRemainingString();
                    break;
                case DicomItemType.TransferSyntax:
                    transferSyntaxes.Add(sub.ReadRemainingString());
                    break;
                default:
                    PduSpanReader.Invalid($"Presentation context {id} holds an item of unexpected type 0x{type:X2}");
                    break;
            }
        }

        if (abstractSyntax is null)
        {
            PduSpanReader.Invalid($"Presentation context {id} has no abstract syntax");
        }

        return new DicomPresentationContextProposal(id, abstractSyntax, transferSyntaxes);
    }

    private static DicomUserInformation ReadUserInformation(ref PduSpanReader reader, ref int items, PduLimits limits, bool isRequest)
    {
        var info = new DicomUserInformation();
        while (reader.Remaining > 0)
        {
            var item = reader.ReadItem(ref items, limits.MaxItems, out var type);
            switch (type)
            {
                case DicomItemType.MaximumLength:
                    info.MaxPduLength = item.ReadUInt32();
                    break;
                case DicomItemType.ImplementationClassUid:
                    info.ImplementationClassUid = item.ReadRemainingString();
                    break;
                case DicomItemType.ImplementationVersionName:
                    info.ImplementationVersionName = item.ReadRemainingString();
                    break;
                case DicomItemType.AsynchronousOperationsWindow:
                    info.AsynchronousOperationsWindow = (item.ReadUInt16(), item.ReadUInt16());
                    break;
                case DicomItemType.RoleSelection:
                {
                    var uid = item.ReadString(item.ReadUInt16());
                    var scu = item.ReadByte() != 0;
                    var scp = item.ReadByte() != 0;
                    info.RoleSelections.Add(new DicomRoleSelection(uid, scu, scp));
                    break;
                }

                case DicomItemType.SopClassExtendedNegotiation:
                {
                    var uid = item.ReadString(item.ReadUInt16());
                    info.ExtendedNegotiations.Add(new DicomExtendedNegotiation(uid, item.ReadBytes(item.Remaining)));
                    break;
                }

                case DicomItemType.UserIdentityRequest when isRequest:
                {
                    var identityType = item.ReadByte();
                    var positive = item.ReadByte() != 0;
                    var primary = item.ReadBytes(item.ReadUInt16());
                    var secondary = item.Remaining >= 2 ? item.ReadBytes(item.ReadUInt16()) : [];
                    info.UserIdentity = new DicomUserIdentity(identityType, positive, primary, secondary);
                    break;
                }

                case DicomItemType.UserIdentityAccept when !isRequest:
                    info.UserIdentityResponse = item.ReadBytes(item.ReadUInt16());
                    break;
                default:
                    // Unknown user information sub-items (e.g. common extended negotiation) are ignored (PS3.7 D.3.3).
                    break;
            }
        }

        return info;
    }
}

/// <summary>A bounds-checked big-endian cursor over a PDU body; every overrun is a <see cref="DicomNetworkException"/>.</summary>
internal ref struct PduSpanReader
{
    private readonly ReadOnlySpan<byte> span;
    private int position;

    public PduSpanReader(ReadOnlySpan<byte> span, string what)
    {
        this.span = span;
        What = what;
    }

    public readonly string What { get; }

    public readonly int Remaining => span.Length - position;

    public byte ReadByte()
    {
        Need(1);
        return span[position++];
    }

    public ushort ReadUInt16()
    {
        Need(2);
        var value = BinaryPrimitives.ReadUInt16BigEndian(span[position..]);
        position += 2;
        return value;
    }

    public uint ReadUInt32()
    {
        Need(4);
        var value = BinaryPrimitives.ReadUInt32BigEndian(span[position..]);
        position += 4;
        return value;
    }

    public void Skip(int count)
    {
        Need(count);
        position += count;
    }

    public byte[] ReadBytes(int count)
    {
        Need(count);
        var bytes = span.Slice(position, count).ToArray();
        position += count;
        return bytes;
    }

    /// <summary>A UID or name: ASCII, trailing NUL and space padding removed.</summary>
    public string ReadString(int count)
    {
        Need(count);
        var bytes = span.Slice(position, count);
        position += count;
        return Encoding.Latin1.GetString(bytes).TrimEnd('\0', ' ');
    }

    public string ReadRemainingString() => ReadString(Remaining);

    /// <summary>A 16-byte AE title field; leading and trailing spaces are not significant (PS3.8 Table 9-11).</summary>
    public string ReadAETitle()
    {
        Need(16);
        var text = Encoding.Latin1.GetString(span.Slice(position, 16)).TrimPadding();
        position += 16;
        return text;
    }

    /// <summary>Reads an item header (type, reserved, 16-bit length) and returns a reader over its body.</summary>
    public PduSpanReader ReadItem(ref int items, int maxItems, out byte type)
    {
        if (++items > maxItems)
        {
            throw new DicomNetworkLimitException("MaxItems", maxItems, items, $"Items and sub-items in the {What}");
        }

        Need(4);
        type = span[position];
        var length = BinaryPrimitives.ReadUInt16BigEndian(span[(position + 2)..]);
        position += 4;
        if (length > Remaining)
        {
            Invalid($"An item of type 0x{type:X2} in the {What} declares length {length} but only {Remaining} bytes remain");
        }

        var item = new PduSpanReader(span.Slice(position, length), What);
        position += length;
        return item;
    }

    [DoesNotReturn]
    public static void Invalid(string message) => throw new DicomNetworkException(message, DicomAbortReason.InvalidPduParameterValue);

    [DoesNotReturn]
    public static T Invalid<T>(string message) => throw new DicomNetworkException(message, DicomAbortReason.InvalidPduParameterValue);

    private readonly void Need(int count)
    {
        if (count < 0 || count > Remaining)
        {
            Invalid($"The {What} ends {count - Remaining} bytes too early");
        }
    }
}
