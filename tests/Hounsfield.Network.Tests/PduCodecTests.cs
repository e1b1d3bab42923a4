using System.Buffers.Binary;
using Hounsfield.Dicom;
using Hounsfield.Network.Association;
using Hounsfield.Network.Pdu;

namespace Hounsfield.Network.Tests;

public sealed class PduCodecTests
{
    private static DicomAssociationRequest SampleRequest()
    {
        var request = new DicomAssociationRequest { CalledAE = "HOUNSFIELD", CallingAE = "MODALITY" };
        request.PresentationContexts.Add(new DicomPresentationContextProposal(1, DicomUids.Verification, [DicomUids.ImplicitVRLittleEndian]));
        request.PresentationContexts.Add(new DicomPresentationContextProposal(3, DicomUids.CTImageStorage, [DicomUids.ExplicitVRLittleEndian, DicomUids.ImplicitVRLittleEndian]));
        request.UserInformation = new DicomUserInformation
        {
            MaxPduLength = 65536,
            ImplementationClassUid = "1.2.3.4",
            ImplementationVersionName = "TEST_1",
            AsynchronousOperationsWindow = (5, 3),
            UserIdentity = new DicomUserIdentity(2, true, "user"u8.ToArray(), "secret"u8.ToArray()),
        };
        request.UserInformation.RoleSelections.Add(new DicomRoleSelection(DicomUids.CTImageStorage, false, true));
        request.UserInformation.ExtendedNegotiations.Add(new DicomExtendedNegotiation(DicomUids.CTImageStorage, [1, 0, 1]));
        return request;
    }

    private static byte[] Encode(Action<PooledBufferStream> write)
    {
        using var buffer = new PooledBufferStream();
        write(buffer);
        return buffer.ToArray();
    }

    [Fact]
    public void An_associate_request_round_trips()
    {
        var bytes = Encode(b => PduCodec.WriteAssociateRequest(b, SampleRequest()));
        Assert.Equal((byte)DicomPduType.AssociateRequest, bytes[0]);
        Assert.Equal((uint)(bytes.Length - 6), BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(2)));

        var decoded = PduCodec.ReadAssociateRequest(bytes.AsSpan(6), PduLimits.Default);
        Assert.Equal("HOUNSFIELD", decoded.CalledAE);
        Assert.Equal("MODALITY", decoded.CallingAE);
        Assert.Equal(DicomApplicationContext.Name, decoded.ApplicationContextName);
        Assert.Equal(2, decoded.PresentationContexts.Count);
        Assert.Equal([DicomUids.ExplicitVRLittleEndian, DicomUids.ImplicitVRLittleEndian], decoded.PresentationContexts[1].TransferSyntaxes);
        Assert.Equal(65536u, decoded.UserInformation.MaxPduLength);
        Assert.Equal("1.2.3.4", decoded.UserInformation.ImplementationClassUid);
        Assert.Equal("TEST_1", decoded.UserInformation.ImplementationVersionName);
        Assert.Equal(((ushort)5, (ushort)3), decoded.UserInformation.AsynchronousOperationsWindow);
        Assert.Equal(new DicomRoleSelection(DicomUids.CTImageStorage, false, true), decoded.UserInformation.RoleSelections.Single());
        Assert.Equal([1, 0, 1], decoded.UserInformation.ExtendedNegotiations.Single().Information);
        Assert.Equal("user"u8.ToArray(), decoded.UserInformation.UserIdentity!.PrimaryField);
        Assert.Equal("secret"u8.ToArray(), decoded.UserInformation.UserIdentity.SecondaryField);
    }

    [Fact]
    public void Negotiation_accepts_what_the_policy_allows_and_honours_role_selection()
    {
        var request = SampleRequest();
        var (accept, info) = DicomNegotiation.Accept(request, new AcceptAll(), DicomAssociationOptions.Default, null);
        var bytes = Encode(b => PduCodec.WriteAssociateAccept(b, accept));
        var decoded = PduCodec.ReadAssociateAccept(bytes.AsSpan(6), PduLimits.Default);
        // The requestor invokes up to 5 and performs up to 3 (both under our default of 16): we perform 5 at once and
        // invoke up to 3 (C-GET sub-operations).
        Assert.Equal(((ushort)3, (ushort)5), decoded.UserInformation.AsynchronousOperationsWindow);
        Assert.Equal(5, info.RequestorOperationsWindow);
        Assert.Equal(3, info.AcceptorOperationsWindow);
        Assert.Equal(DicomAssociationOptions.Default.MaxPduLength, decoded.UserInformation.MaxPduLength);

        var requestor = DicomNegotiation.FromAccept(request, decoded, null);
        Assert.Equal((5, 3), (requestor.RequestorOperationsWindow, requestor.AcceptorOperationsWindow));
        Assert.Equal((5, 3), (requestor.OwnOperationsWindow, requestor.PeerOperationsWindow));
        Assert.Equal((3, 5), (info.OwnOperationsWindow, info.PeerOperationsWindow));
        var (limited, _) = DicomNegotiation.Accept(request, new AcceptAll(), DicomAssociationOptions.Default with { MaxAsyncOperations = 2 }, null);
        Assert.Equal(((ushort)2, (ushort)2), limited.UserInformation.AsynchronousOperationsWindow);
        // 0 proposes no limit (PS3.7 D.3.3.3); a hostile 65535 gets no more than our limit either.
        foreach (var proposed in new ushort[] { 0, ushort.MaxValue })
        {
            request.UserInformation.AsynchronousOperationsWindow = (proposed, proposed);
            var (unlimited, acceptor) = DicomNegotiation.Accept(request, new AcceptAll(), DicomAssociationOptions.Default, null);
            Assert.Equal(((ushort)16, (ushort)16), unlimited.UserInformation.AsynchronousOperationsWindow);
            Assert.Equal((16, 16), (acceptor.RequestorOperationsWindow, acceptor.AcceptorOperationsWindow));
        }
        var ct = requestor.PresentationContexts.Single(c => c.Id == 3);
        Assert.True(ct.IsAccepted);
        Assert.Equal(DicomTransferSyntax.ExplicitVRLittleEndian, ct.TransferSyntax);
        Assert.False(ct.RequestorIsScu);
        Assert.True(ct.RequestorIsScp);
        Assert.True(info.CanSendRequests(info.GetContext(3)!));
        Assert.False(requestor.CanSendRequests(ct));
        Assert.True(requestor.CanReceiveRequests(ct));
    }

    [Fact]
    public void An_extended_negotiation_is_answered_once_per_accepted_sop_class_and_both_sides_read_fuzzy_matching_from_it()
    {
        var request = SampleRequest();
        request.PresentationContexts.Add(new DicomPresentationContextProposal(5, DicomUids.StudyRootQueryRetrieveInformationModelFind, [DicomUids.ImplicitVRLittleEndian]));
        request.UserInformation.ExtendedNegotiations.Add(new DicomExtendedNegotiation(DicomUids.StudyRootQueryRetrieveInformationModelFind, QueryExtendedNegotiation.Ask(combinedDateTime: false, fuzzySemantic: true)));
        request.UserInformation.ExtendedNegotiations.Add(new DicomExtendedNegotiation(DicomUids.MRImageStorage, [1])); // no context proposed: no answer
        var policy = new AcceptAll { Answer = proposed => proposed.SopClassUid == DicomUids.StudyRootQueryRetrieveInformationModelFind ? [0, 0, 1, 0] : null };

        var (accept, acceptor) = DicomNegotiation.Accept(request, policy, DicomAssociationOptions.Default, null);
        var decoded = PduCodec.ReadAssociateAccept(Encode(b => PduCodec.WriteAssociateAccept(b, accept)).AsSpan(6), PduLimits.Default);
        var answered = Assert.Single(decoded.UserInformation.ExtendedNegotiations);
        Assert.Equal(DicomUids.StudyRootQueryRetrieveInformationModelFind, answered.SopClassUid);
        Assert.Equal([0, 0, 1, 0], answered.Information);
        var requestor = DicomNegotiation.FromAccept(request, decoded, null);
        Assert.True(acceptor.FuzzySemanticMatching(DicomUids.StudyRootQueryRetrieveInformationModelFind));
        Assert.True(requestor.FuzzySemanticMatching(DicomUids.StudyRootQueryRetrieveInformationModelFind));
        Assert.False(requestor.FuzzySemanticMatching(DicomUids.PatientRootQueryRetrieveInformationModelFind));

        // An acceptor that answers 0 for it, or not at all, agrees to nothing.
        foreach (var refusing in new AcceptAll[] { new() { Answer = _ => [0, 0, 0, 0] }, new() })
        {
            var (refusal, _) = DicomNegotiation.Accept(request, refusing, DicomAssociationOptions.Default, null);
            Assert.False(DicomNegotiation.FromAccept(request, refusal, null).FuzzySemanticMatching(DicomUids.StudyRootQueryRetrieveInformationModelFind));
        }
    }

    [Fact]
    public void The_scp_agrees_to_the_query_options_its_find_provider_supports_and_to_nothing_else()
    {
        var request = SampleRequest();
        var find = DicomUids.StudyRootQueryRetrieveInformationModelFind;
        var asked = new DicomExtendedNegotiation(find, [1, 1, 1, 1]);
        Assert.Equal([1, 0, 1, 0], Handler(new OptionsFindProvider(relational: true, fuzzy: true)).AnswerExtendedNegotiation(asked));
        Assert.Equal([0, 0, 1, 0], Handler(new OptionsFindProvider(relational: false, fuzzy: true)).AnswerExtendedNegotiation(asked));
        Assert.Equal([1, 1, 1, 0], Handler(new OptionsFindProvider(relational: true, fuzzy: true, combined: true)).AnswerExtendedNegotiation(asked));
        Assert.Equal([0, 0, 0, 0], Handler(new ListFindProvider([])).AnswerExtendedNegotiation(asked)); // the interface's defaults: neither
        Assert.Equal([1], Handler(new OptionsFindProvider(relational: true, fuzzy: true)).AnswerExtendedNegotiation(new DicomExtendedNegotiation(find, [1])));
        Assert.Null(Handler(new OptionsFindProvider(relational: true, fuzzy: true)).AnswerExtendedNegotiation(new DicomExtendedNegotiation(DicomUids.CTImageStorage, [1, 1, 1])));
        Assert.Null(Handler(null).AnswerExtendedNegotiation(asked)); // no C-FIND here

        DicomServiceHandler Handler(ICFindProvider? provider) => new(new DicomServerOptions { Find = provider }, request);
    }

    private sealed class OptionsFindProvider(bool relational, bool fuzzy, bool combined = false) : ICFindProvider
    {
        public bool SupportsRelationalQueries => relational;

        public bool SupportsCombinedDateTimeMatching => combined;

        public bool SupportsFuzzySemanticMatching => fuzzy;

        public IAsyncEnumerable<DicomDataset> FindAsync(DicomFindRequest request, CancellationToken cancellationToken) => AsyncEnumerable.Empty<DicomDataset>();
    }

    [Fact]
    public void Too_many_presentation_contexts_exceed_the_named_limit()
    {
        var request = new DicomAssociationRequest { CalledAE = "A", CallingAE = "B" };
        for (var i = 0; i < 10; i++)
        {
            request.PresentationContexts.Add(new DicomPresentationContextProposal((byte)((i * 2) + 1), DicomUids.Verification, [DicomUids.ImplicitVRLittleEndian]));
        }

        var bytes = Encode(b => PduCodec.WriteAssociateRequest(b, request));
        var failure = Assert.Throws<DicomNetworkLimitException>(() => PduCodec.ReadAssociateRequest(bytes.AsSpan(6), new PduLimits(4, 1024)));
        Assert.Equal("MaxPresentationContexts", failure.LimitName);

        var items = Assert.Throws<DicomNetworkLimitException>(() => PduCodec.ReadAssociateRequest(bytes.AsSpan(6), new PduLimits(128, 12)));
        Assert.Equal("MaxItems", items.LimitName);
    }

    [Fact]
    public void An_item_longer_than_its_pdu_is_rejected()
    {
        var bytes = Encode(b => PduCodec.WriteAssociateRequest(b, SampleRequest()));

        // The application context item follows the 68 fixed bytes: claim it is far longer than the PDU.
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(6 + 68 + 2), 60000);
        var failure = Assert.Throws<DicomNetworkException>(() => PduCodec.ReadAssociateRequest(bytes.AsSpan(6), PduLimits.Default));
        Assert.Contains("declares length 60000", failure.Message);
        Assert.Equal(DicomAbortReason.InvalidPduParameterValue, failure.AbortReason);
    }

    [Fact]
    public void Every_truncation_of_an_associate_request_is_a_network_exception()
    {
        var bytes = Encode(b => PduCodec.WriteAssociateRequest(b, SampleRequest()));
        for (var length = 6; length < bytes.Length; length++)
        {
            try
            {
                PduCodec.ReadAssociateRequest(bytes.AsSpan(6, length - 6), PduLimits.Default);
            }
            catch (DicomNetworkException)
            {
            }
        }
    }

    [Fact]
    public void Reject_and_abort_round_trip()
    {
        var reject = new DicomAssociationReject(DicomRejectResult.Transient, DicomRejectSource.ServiceProviderPresentation, DicomRejectReason.LocalLimitExceeded);
        var bytes = Encode(b => PduCodec.WriteAssociateReject(b, reject));
        Assert.Equal(10, bytes.Length);
        Assert.Equal(reject, PduCodec.ReadAssociateReject(bytes.AsSpan(6)));
        Assert.Contains("local limit exceeded", reject.ToString());

        var abort = new DicomAbort(DicomAbortSource.ServiceProvider, DicomAbortReason.UnexpectedPdu);
        Assert.Equal(abort, PduCodec.ReadAbort(Encode(b => PduCodec.WriteAbort(b, abort)).AsSpan(6)));
    }

    [Fact]
    public void A_command_set_round_trips_with_its_group_length()
    {
        var command = Dimse.DimseCommand.CreateRequest(Dimse.DicomCommandField.CFindRequest, DicomUids.StudyRootQueryRetrieveInformationModelFind, 7, true, Dimse.DicomPriority.High);
        using var buffer = new PooledBufferStream();
        Dimse.DimseCommand.Encode(command, buffer);
        var decoded = Dimse.DimseCommand.Decode(buffer.ToArray());
        Assert.Equal((uint)(buffer.Count - 12), decoded.GetValue<uint>(DicomTag.CommandGroupLength));
        Assert.Equal((ushort)Dimse.DicomCommandField.CFindRequest, Dimse.DimseCommand.GetField(decoded));
        Assert.Equal(7, Dimse.DimseCommand.GetMessageId(decoded));
        Assert.Equal(Dimse.DicomPriority.High, Dimse.DimseCommand.GetPriority(decoded));
        Assert.True(Dimse.DimseCommand.HasDataSet(decoded));
        Assert.Equal(DicomUids.StudyRootQueryRetrieveInformationModelFind, decoded.GetString(DicomTag.AffectedSOPClassUID));
    }

    private sealed class AcceptAll : IDicomAcceptPolicy
    {
        public (DicomPresentationContextOutcome Outcome, string? TransferSyntax) Select(DicomPresentationContextProposal proposal) =>
            (DicomPresentationContextOutcome.Acceptance, proposal.TransferSyntaxes[0]);

        public (bool ScuRole, bool ScpRole) SelectRoles(DicomRoleSelection proposed) => (true, true);

        public byte[]? AnswerExtendedNegotiation(DicomExtendedNegotiation proposed) => Answer?.Invoke(proposed);

        public Func<DicomExtendedNegotiation, byte[]?>? Answer { get; init; }
    }
}
