using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Packets;

namespace VirtualStack.Host.Tests.Packets;

public class PacketClassifierTests
{
    public static TheoryData<string> CaseNames => ClassifierCases.Names;

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Classifies_and_extracts_the_flow(string name)
    {
        ClassifierCase c = ClassifierCases.All[name];

        // Garbage in every field first: the classifier must overwrite what it owns, not rely on a fresh struct.
        var info = new PacketInfo
        {
            Length = 999, IpVersion = 9, Protocol = 99, TransportOffset = 999, PayloadOffset = 999, PayloadLength = 999,
            Flags = (PacketFlags)0xffff, Dscp = 99, IcmpType = 99, Drop = DropReason.StackError, Stack = 3,
        };

        DropReason drop = PacketClassifier.Classify(c.Packet, ref info);
        FlowIdExtractor.Extract(c.Packet, ref info);

        Assert.Equal(c.Drop, drop);
        Assert.Equal(c.Drop, info.Drop);
        Assert.Equal(c.Version, info.IpVersion);
        Assert.Equal(c.Protocol, info.Protocol);
        Assert.Equal(c.Length, info.Length);
        Assert.Equal(c.TransportOffset, info.TransportOffset);
        Assert.Equal(c.PayloadOffset, info.PayloadOffset);
        Assert.Equal(c.PayloadLength, info.PayloadLength);
        Assert.Equal(c.Flags, info.Flags);
        Assert.Equal(c.Dscp, info.Dscp);
        Assert.Equal(c.IcmpType, info.IcmpType);
        Assert.Equal(3, info.Stack);

        FlowKey expected = c.Drop != DropReason.None
            ? default
            : c.Version == 4
                ? new FlowKey(c.Protocol, NetAddress.Read(HandPackets.V4Source), c.SourcePort, NetAddress.Read(HandPackets.V4Destination), c.DestinationPort)
                : new FlowKey(c.Protocol, NetAddress.Read(HandPackets.V6Source), c.SourcePort, NetAddress.Read(HandPackets.V6Destination), c.DestinationPort);
        Assert.Equal(expected, info.Flow);
    }

    [Fact]
    public void Table_covers_every_flag_and_drop_reason_the_classifier_can_give()
    {
        PacketFlags seen = PacketFlags.None;
        var drops = new HashSet<DropReason>();
        foreach (ClassifierCase c in ClassifierCases.All.Values)
        {
            seen |= c.Flags;
            drops.Add(c.Drop);
        }

        Assert.Equal((PacketFlags)0x1ff, seen);
        Assert.Equal([DropReason.None, DropReason.Truncated, DropReason.BadVersion, DropReason.BadLength, DropReason.LinkScope], drops.Order());
    }

    [Fact]
    public void Payload_offsets_point_at_the_payload_bytes()
    {
        byte[] payload = HandPackets.Payload(11, seed: 40);
        byte[][] packets =
        [
            HandPackets.V4(IpProtocols.Udp, HandPackets.Udp(1, 2, payload), options: [1, 1, 1, 1, 1, 1, 1, 0]),
            HandPackets.V6(IpProtocols.HopByHop, [.. HandPackets.Extension(IpProtocols.Tcp, 2), .. HandPackets.Tcp(1, 2, 0x18, payload, optionBytes: 8)]),
            HandPackets.V6(IpProtocols.IcmpV6, HandPackets.Icmp(128, 0, 7, 1, payload)),
            HandPackets.V4(IpProtocols.Dccp, HandPackets.Dccp(1, 2, 2, extended: true, extraHeaderBytes: 8, payload)),
        ];

        foreach (byte[] packet in packets)
        {
            var info = default(PacketInfo);
            Assert.Equal(DropReason.None, PacketClassifier.Classify(packet, ref info));
            Assert.True(info.HasTransport);
            Assert.Equal(payload, packet.AsSpan(info.PayloadOffset, info.PayloadLength).ToArray());
        }
    }

    [Fact]
    public void A_dropped_packet_leaves_no_stale_classification()
    {
        var info = default(PacketInfo);
        byte[] good = ClassifierCases.All["v6-tcp"].Packet;
        Assert.Equal(DropReason.None, PacketClassifier.Classify(good, ref info));
        FlowIdExtractor.Extract(good, ref info);
        Assert.NotEqual(default, info.Flow);

        Assert.Equal(DropReason.Truncated, PacketClassifier.Classify(good.AsSpan(0, 39), ref info));
        FlowIdExtractor.Extract(good.AsSpan(0, 39), ref info);
        Assert.Equal(0, info.IpVersion);
        Assert.Equal(0, info.Length);
        Assert.Equal(PacketFlags.None, info.Flags);
        Assert.Equal(default, info.Flow);
    }

    [Theory]
    [InlineData(4, 16, new byte[] { 239, 1, 2, 3 })]                                            // administratively scoped
    [InlineData(4, 16, new byte[] { 224, 0, 1, 1 })]                                            // internetwork control (NTP)
    [InlineData(6, 24, new byte[] { 0xff, 0x0e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 })]   // global scope
    [InlineData(6, 24, new byte[] { 0xff, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 })]   // site-local scope
    public void Multicast_beyond_the_link_is_routed_like_any_packet(int version, int offset, byte[] destination)
    {
        byte[] udp = HandPackets.Udp(40000, 7, HandPackets.Payload(5));
        byte[] packet = ClassifierCases.WithAddress(version == 4 ? HandPackets.V4(IpProtocols.Udp, udp) : HandPackets.V6(IpProtocols.Udp, udp), offset, destination);
        var info = default(PacketInfo);
        Assert.Equal(DropReason.None, PacketClassifier.Classify(packet, ref info));
        Assert.True((info.Flags & PacketFlags.TransportParsed) != 0);
    }
}
