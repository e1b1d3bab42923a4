// DIMSE command sets (PS3.7 §6.3, §9.3 and Annex E): group 0000 elements, always encoded in implicit VR little endian
// (PS3.7 §6.3.1), led by Command Group Length (0000,0000). Command Data Set Type 0101H means no data set follows.
using Hounsfield.Dicom;
using Hounsfield.Dicom.IO;
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network.Dimse;

/// <summary>Command Field (0000,0100) values of the DIMSE-C services (PS3.7 E.1).</summary>
public enum DicomCommandField : ushort
{
    CStoreRequest = 0x0001,
    CStoreResponse = 0x8001,
    CGetRequest = 0x0010,
    CGetResponse = 0x8010,
    CFindRequest = 0x0020,
    CFindResponse = 0x8020,
    CMoveRequest = 0x0021,
    CMoveResponse = 0x8021,
    CEchoRequest = 0x0030,
    CEchoResponse = 0x8030,
    CCancelRequest = 0x0FFF,
}

/// <summary>Priority (0000,0700).</summary>
public enum DicomPriority : ushort
{
    Medium = 0x0000,
    High = 0x0001,
    Low = 0x0002,
}

/// <summary>Builds, reads, encodes and decodes command sets.</summary>
public static class DimseCommand
{
    /// <summary>Command Data Set Type value meaning that no data set follows.</summary>
    public const ushort NoDataSet = 0x0101;

    /// <summary>The value this implementation writes when a data set follows (any value but 0101H, PS3.7 E.1).</summary>
    public const ushort DataSetPresent = 0x0001;

    public static DicomDataset CreateRequest(DicomCommandField field, string sopClassUid, ushort messageId, bool hasDataSet, DicomPriority? priority = null)
    {
        var command = new DicomDataset();
        command.AddOrUpdate(DicomTag.AffectedSOPClassUID, DicomVR.UI, sopClassUid);
        command.AddOrUpdate<ushort>(DicomTag.CommandField, DicomVR.US, (ushort)field);
        command.AddOrUpdate<ushort>(DicomTag.MessageID, DicomVR.US, messageId);
        if (priority is { } p)
        {
            command.AddOrUpdate<ushort>(DicomTag.Priority, DicomVR.US, (ushort)p);
        }

        command.AddOrUpdate<ushort>(DicomTag.CommandDataSetType, DicomVR.US, hasDataSet ? DataSetPresent : NoDataSet);
        return command;
    }

    /// <summary>A response to <paramref name="request"/>: its SOP class and instance UIDs, the message ID it answers, a status.</summary>
    public static DicomDataset CreateResponse(DicomDataset request, DicomStatus status, bool hasDataSet, string? errorComment = null)
    {
        var field = (DicomCommandField)(GetField(request) | 0x8000);
        var command = new DicomDataset();
        if (request.GetString(DicomTag.AffectedSOPClassUID) is { Length: > 0 } sopClass)
        {
            command.AddOrUpdate(DicomTag.AffectedSOPClassUID, DicomVR.UI, sopClass);
        }

        command.AddOrUpdate<ushort>(DicomTag.CommandField, DicomVR.US, (ushort)field);
        command.AddOrUpdate<ushort>(DicomTag.MessageIDBeingRespondedTo, DicomVR.US, GetMessageId(request));
        command.AddOrUpdate<ushort>(DicomTag.CommandDataSetType, DicomVR.US, hasDataSet ? DataSetPresent : NoDataSet);
        command.AddOrUpdate<ushort>(DicomTag.Status, DicomVR.US, status.Code);
        if (field == DicomCommandField.CStoreResponse && request.GetString(DicomTag.AffectedSOPInstanceUID) is { Length: > 0 } instance)
        {
            command.AddOrUpdate(DicomTag.AffectedSOPInstanceUID, DicomVR.UI, instance);
        }

        if (errorComment is { Length: > 0 } && !status.IsSuccess && !status.IsPending)
        {
            command.AddOrUpdate(DicomTag.ErrorComment, DicomVR.LO, SanitizeComment(errorComment));
        }

        return command;
    }

    public static DicomDataset CreateCancel(ushort messageIdBeingRespondedTo)
    {
        var command = new DicomDataset();
        command.AddOrUpdate<ushort>(DicomTag.CommandField, DicomVR.US, (ushort)DicomCommandField.CCancelRequest);
        command.AddOrUpdate<ushort>(DicomTag.MessageIDBeingRespondedTo, DicomVR.US, messageIdBeingRespondedTo);
        command.AddOrUpdate<ushort>(DicomTag.CommandDataSetType, DicomVR.US, NoDataSet);
        return command;
    }

    /// <summary>Sets the Number of Remaining/Completed/Failed/Warning Sub-operations of a C-MOVE or C-GET response.</summary>
    public static void SetSubOperations(DicomDataset command, int? remaining, int completed, int failed, int warning)
    {
        if (remaining is { } r)
        {
            command.AddOrUpdate<ushort>(DicomTag.NumberOfRemainingSuboperations, DicomVR.US, Clamp(r));
        }

        command.AddOrUpdate<ushort>(DicomTag.NumberOfCompletedSuboperations, DicomVR.US, Clamp(completed));
        command.AddOrUpdate<ushort>(DicomTag.NumberOfFailedSuboperations, DicomVR.US, Clamp(failed));
        command.AddOrUpdate<ushort>(DicomTag.NumberOfWarningSuboperations, DicomVR.US, Clamp(warning));

        static ushort Clamp(int value) => (ushort)Math.Clamp(value, 0, ushort.MaxValue);
    }

    public static ushort GetField(DicomDataset command) =>
        command.TryGetValue<ushort>(DicomTag.CommandField, out var value)
            ? value
            : throw new DicomNetworkException("The command set has no Command Field (0000,0100)", DicomAbortReason.InvalidPduParameterValue);

    public static bool IsResponse(ushort field) => (field & 0x8000) != 0;

    public static ushort GetMessageId(DicomDataset command) =>
        command.TryGetValue<ushort>(DicomTag.MessageID, out var value) ? value : (ushort)0;

    public static ushort GetMessageIdBeingRespondedTo(DicomDataset command) =>
        command.TryGetValue<ushort>(DicomTag.MessageIDBeingRespondedTo, out var value) ? value : (ushort)0;

    public static bool HasDataSet(DicomDataset command) =>
        !command.TryGetValue<ushort>(DicomTag.CommandDataSetType, out var value) || value != NoDataSet;

    public static DicomStatus GetStatus(DicomDataset command) =>
        command.TryGetValue<ushort>(DicomTag.Status, out var value) ? new DicomStatus(value) : DicomStatus.ProcessingFailure;

    public static DicomPriority GetPriority(DicomDataset command) =>
        command.TryGetValue<ushort>(DicomTag.Priority, out var value) ? (DicomPriority)value : DicomPriority.Medium;

    /// <summary>Encodes a command set in implicit VR little endian with its Command Group Length.</summary>
    public static void Encode(DicomDataset command, Stream output)
    {
        command.Remove(DicomTag.CommandGroupLength);
        var length = DicomWriter.EncodedLength(command, DicomTransferSyntax.ImplicitVRLittleEndian);
        command.AddOrUpdate<uint>(DicomTag.CommandGroupLength, DicomVR.UL, (uint)length);
        DicomWriter.WriteDataSet(output, command, DicomTransferSyntax.ImplicitVRLittleEndian);
    }

    /// <summary>Decodes a command set; anything outside group 0000 or unreadable is a protocol error.</summary>
    public static DicomDataset Decode(ReadOnlyMemory<byte> bytes)
    {
        DicomDataset command;
        try
        {
            command = DicomReader.ReadDataSet(bytes, DicomTransferSyntax.ImplicitVRLittleEndian, CommandReadOptions);
        }
        catch (DicomFormatException ex)
        {
            throw new DicomNetworkException($"Unreadable command set: {ex.Message}", DicomAbortReason.InvalidPduParameterValue, ex);
        }

        foreach (var element in command)
        {
            if (element.Tag.Group != 0x0000)
            {
                throw new DicomNetworkException($"The command set holds {element.Tag}, outside group 0000", DicomAbortReason.InvalidPduParameterValue);
            }
        }

        return command;
    }

    private static readonly DicomReadOptions CommandReadOptions = new() { MaxDepth = 4, MaxElementCount = 1024, LazyValueThreshold = long.MaxValue };

    private static string SanitizeComment(string text)
    {
        Span<char> chars = stackalloc char[Math.Min(text.Length, 64)];
        for (var i = 0; i < chars.Length; i++)
        {
            var c = text[i];
            chars[i] = c is >= ' ' and <= '~' and not '\\' ? c : ' ';
        }

        return new string(chars).Trim();
    }
}
