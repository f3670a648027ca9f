using System.Buffers.Binary;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Packets;

namespace VirtualStack.Host.Tests.Packets;

public class ReplyPacketBuilderTests
{
    // The application's flow: it sent from Source:SourcePort to Destination:DestinationPort.
    private static readonly FlowKey V4Flow = new(IpProtocols.Udp, NetAddress.Parse("10.200.0.1"), 40000, NetAddress.Parse("10.201.0.2"), 7);
    private static readonly FlowKey V6Flow = new(IpProtocols.Udp, NetAddress.Parse("fd00:200::1"), 40001, NetAddress.Parse("fd00:201::2"), 53);

    public static TheoryData<bool, int> Sizes => new()
    {
        { false, 0 }, { false, 1 }, { false, 2 }, { false, 7 }, { false, 8 }, { false, 101 }, { false, 1472 }, { false, 8972 }, { false, 65507 },
        { true, 0 }, { true, 1 }, { true, 3 }, { true, 1452 }, { true, 8952 }, { true, 65487 },
    };

    // The largest IPv6 case stops at 65535 bytes in all: PacketInfo.Length is 16 bits and no TUN MTU is larger, so
    // the classifier refuses a longer packet although the builder may write one (payload length up to 65535).
    [Theory]
    [MemberData(nameof(Sizes))]
    public void Built_packet_classifies_back_to_the_reversed_flow_and_payload(bool v6, int payloadLength)
    {
        FlowKey flow = v6 ? V6Flow : V4Flow;
        byte[] payload = HandPackets.Payload(payloadLength, seed: payloadLength);
        byte[] buffer = new byte[70_000];

        int length = ReplyPacketBuilder.BuildUdp(flow, payload, buffer);

        Assert.Equal((v6 ? 48 : 28) + payloadLength, length);
        byte[] packet = buffer[..length];
        var info = default(PacketInfo);
        Assert.Equal(DropReason.None, PacketClassifier.Classify(packet, ref info));
        FlowIdExtractor.Extract(packet, ref info);

        Assert.Equal(PacketFlags.TransportParsed, info.Flags);
        Assert.Equal(IpProtocols.Udp, info.Protocol);
        Assert.Equal(length, info.Length);
        Assert.Equal(new FlowKey(IpProtocols.Udp, flow.Destination, flow.DestinationPort, flow.Source, flow.SourcePort), info.Flow);
        Assert.Equal(payload, packet.AsSpan(info.PayloadOffset, info.PayloadLength).ToArray());
        AssertHeadersValid(packet, flow);
    }

    [Fact]
    public void Ipv4_identification_changes_from_packet_to_packet()
    {
        byte[] a = new byte[64];
        byte[] b = new byte[64];
        ReplyPacketBuilder.BuildUdp(V4Flow, [1], a);
        ReplyPacketBuilder.BuildUdp(V4Flow, [1], b);
        Assert.NotEqual(BinaryPrimitives.ReadUInt16BigEndian(a.AsSpan(4)), BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(4)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Returns_zero_when_the_packet_does_not_fit_the_buffer(bool v6)
    {
        FlowKey flow = v6 ? V6Flow : V4Flow;
        byte[] payload = HandPackets.Payload(33);
        int needed = (v6 ? 48 : 28) + payload.Length;
        for (int size = 0; size < needed; size++)
        {
            // Exact-size buffers: writing one byte too far would throw.
            Assert.Equal(0, ReplyPacketBuilder.BuildUdp(flow, payload, new byte[size]));
        }

        Assert.Equal(needed, ReplyPacketBuilder.BuildUdp(flow, payload, new byte[needed]));
    }

    [Fact]
    public void Returns_zero_for_a_payload_no_ip_packet_can_hold()
    {
        byte[] buffer = new byte[70_000];
        Assert.Equal(0, ReplyPacketBuilder.BuildUdp(V4Flow, new byte[65508], buffer));
        Assert.Equal(0, ReplyPacketBuilder.BuildUdp(V6Flow, new byte[65528], buffer));
        Assert.Equal(65535, ReplyPacketBuilder.BuildUdp(V4Flow, new byte[65507], buffer));
        Assert.Equal(65575, ReplyPacketBuilder.BuildUdp(V6Flow, new byte[65527], buffer));
    }

    [Fact]
    public void Returns_zero_when_the_flow_mixes_address_families()
    {
        var mixed = new FlowKey(IpProtocols.Udp, NetAddress.Parse("10.0.0.1"), 1, NetAddress.Parse("fd00::1"), 2);
        Assert.Equal(0, ReplyPacketBuilder.BuildUdp(mixed, [1, 2, 3], new byte[100]));
        var reversed = new FlowKey(IpProtocols.Udp, NetAddress.Parse("fd00::1"), 1, NetAddress.Parse("10.0.0.1"), 2);
        Assert.Equal(0, ReplyPacketBuilder.BuildUdp(reversed, [1, 2, 3], new byte[100]));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_computed_zero_udp_checksum_is_sent_as_all_ones(bool v6)
    {
        FlowKey flow = v6 ? V6Flow : V4Flow;
        int checksumAt = (v6 ? 40 : 20) + 6;
        byte[] buffer = new byte[100];

        // With a zero payload word the checksum is c = ~S. A payload word of c adds exactly the complement of S, so
        // the one's-complement sum becomes 0xffff and the checksum computes to 0, which UDP must send as 0xffff.
        ReplyPacketBuilder.BuildUdp(flow, [0, 0], buffer);
        ushort c = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(checksumAt));
        int length = ReplyPacketBuilder.BuildUdp(flow, [(byte)(c >> 8), (byte)c], buffer);

        Assert.Equal(0xffff, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(checksumAt)));
        AssertHeadersValid(buffer[..length], flow);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Payload_received_in_place_gives_the_same_packet(bool v6)
    {
        FlowKey flow = v6 ? V6Flow : V4Flow;
        byte[] payload = HandPackets.Payload(300, seed: 9);
        byte[] copied = new byte[400];
        byte[] inPlace = new byte[400];
        payload.CopyTo(inPlace, ReplyPacketBuilder.UdpPayloadOffset(flow));

        int a = ReplyPacketBuilder.BuildUdp(flow, payload, copied);
        int b = ReplyPacketBuilder.CompleteUdp(flow, payload.Length, inPlace);

        Assert.Equal(a, b);
        if (!v6)
        {
            // Only the Identification counter differs between two IPv4 packets; align it and its checksum.
            copied.AsSpan(4, 2).CopyTo(inPlace.AsSpan(4));
            copied.AsSpan(10, 2).CopyTo(inPlace.AsSpan(10));
        }

        Assert.Equal(copied[..a], inPlace[..b]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Generic_overload_wraps_a_dccp_segment_with_a_valid_checksum(bool v6)
    {
        var flow = v6
            ? new FlowKey(IpProtocols.Dccp, NetAddress.Parse("fd00:200::1"), 5001, NetAddress.Parse("fd00:201::2"), 6000)
            : new FlowKey(IpProtocols.Dccp, NetAddress.Parse("10.200.0.1"), 5001, NetAddress.Parse("10.201.0.2"), 6000);
        byte[] payload = HandPackets.Payload(21);
        byte[] segment = HandPackets.Dccp(6000, 5001, 2, extended: true, extraHeaderBytes: 0, payload);
        byte[] buffer = new byte[200];
        segment.CopyTo(buffer, ReplyPacketBuilder.IpHeaderLength(flow));

        int length = ReplyPacketBuilder.Build(flow, IpProtocols.Dccp, segment.Length, checksumOffset: 6, buffer);

        byte[] packet = buffer[..length];
        var info = default(PacketInfo);
        Assert.Equal(DropReason.None, PacketClassifier.Classify(packet, ref info));
        FlowIdExtractor.Extract(packet, ref info);
        Assert.Equal(PacketFlags.TransportParsed, info.Flags);
        Assert.Equal(new FlowKey(IpProtocols.Dccp, flow.Destination, 6000, flow.Source, 5001), info.Flow);
        Assert.Equal(payload, packet.AsSpan(info.PayloadOffset, info.PayloadLength).ToArray());
        AssertHeadersValid(packet, flow);
    }

    [Fact]
    public void Generic_overload_leaves_a_caller_checksum_alone()
    {
        byte[] buffer = new byte[64];
        byte[] segment = [1, 2, 3, 4, 5, 6, 0xab, 0xcd];
        segment.CopyTo(buffer, 20);
        int length = ReplyPacketBuilder.Build(V4Flow, 47, segment.Length, checksumOffset: -1, buffer);
        Assert.Equal(28, length);
        Assert.Equal(segment, buffer[20..28]);
        Assert.Throws<ArgumentOutOfRangeException>(() => ReplyPacketBuilder.Build(V4Flow, 47, segment.Length, checksumOffset: 7, buffer));
    }

    /// <summary>Checks the IP header fields and both checksums with the test's own RFC 1071 code.</summary>
    internal static void AssertHeadersValid(byte[] packet, FlowKey flow)
    {
        byte[] replySource = AddressBytes(flow.Destination);
        byte[] replyDestination = AddressBytes(flow.Source);
        if (flow.Source.IsV4)
        {
            Assert.Equal(0x45, packet[0]);
            Assert.Equal(packet.Length, BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(2)));
            Assert.Equal(0x40, packet[6]);                 // DF, no MF, offset 0
            Assert.Equal(0, packet[7]);
            Assert.Equal(64, packet[8]);
            Assert.Equal(0, HandPackets.Checksum(packet.AsSpan(0, 20)));
            Assert.Equal(replySource, packet[12..16]);
            Assert.Equal(replyDestination, packet[16..20]);
            Assert.Equal(0, HandPackets.TransportChecksum(replySource, replyDestination, packet[9], packet.AsSpan(20)));
        }
        else
        {
            Assert.Equal(0x60, packet[0]);
            Assert.Equal(packet.Length - 40, BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(4)));
            Assert.Equal(64, packet[7]);
            Assert.Equal(replySource, packet[8..24]);
            Assert.Equal(replyDestination, packet[24..40]);
            Assert.Equal(0, HandPackets.TransportChecksum(replySource, replyDestination, packet[6], packet.AsSpan(40)));
        }
    }

    private static byte[] AddressBytes(NetAddress address) => address.ToIPAddress().GetAddressBytes();
}
