using VirtualStack.Contracts.Packets;
using static VirtualStack.Host.Tests.Packets.HandPackets;

namespace VirtualStack.Host.Tests.Packets;

/// <summary>One row of the classifier table: a hand-made packet and everything the classifier must say about it.</summary>
internal sealed record ClassifierCase(
    string Name,
    byte[] Packet,
    DropReason Drop,
    byte Version = 0,
    byte Protocol = 0,
    int Length = 0,
    int TransportOffset = 0,
    int PayloadOffset = 0,
    int PayloadLength = 0,
    PacketFlags Flags = PacketFlags.None,
    byte Dscp = 0,
    byte IcmpType = 0,
    ushort SourcePort = 0,
    ushort DestinationPort = 0);

/// <summary>The table of classifier cases, shared by the table test and the hostile-input tests.</summary>
internal static class ClassifierCases
{
    private const PacketFlags Parsed = PacketFlags.TransportParsed;
    private const PacketFlags Options = PacketFlags.HasOptions;
    private const PacketFlags Malformed = PacketFlags.TransportMalformed;
    private const PacketFlags Fragment = PacketFlags.Fragment;
    private const PacketFlags Later = PacketFlags.LaterFragment;

    private const byte Udp = IpProtocols.Udp;
    private const byte Tcp = IpProtocols.Tcp;
    private const byte Icmp = IpProtocols.Icmp;
    private const byte IcmpV6 = IpProtocols.IcmpV6;
    private const byte Dccp = IpProtocols.Dccp;
    private const byte Gre = 47;

    private static readonly byte[] P5 = Payload(5);
    private static readonly byte[] LinkLocal = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55];

    public static IReadOnlyDictionary<string, ClassifierCase> All { get; } = Build().ToDictionary(c => c.Name);

    public static TheoryData<string> Names
    {
        get
        {
            var names = new TheoryData<string>();
            foreach (string name in All.Keys)
            {
                names.Add(name);
            }

            return names;
        }
    }

    private static IEnumerable<ClassifierCase> Build()
    {
        DropReason ok = DropReason.None;

        // ---- IPv4: lengths and versions that even the raw stack cannot carry ----
        yield return new("empty", [], DropReason.Truncated);
        yield return new("v4-one-byte", [0x45], DropReason.Truncated);
        yield return new("v4-19-bytes", V4(Udp, HandPackets.Udp(40000, 7, P5))[..19], DropReason.Truncated);
        yield return new("version-5", WithFirstByte(V4(Udp, HandPackets.Udp(40000, 7, P5)), 0x55), DropReason.BadVersion);
        yield return new("version-0", WithFirstByte(V4(Udp, HandPackets.Udp(40000, 7, P5)), 0x05), DropReason.BadVersion);
        yield return new("version-7-one-byte", [0x75], DropReason.BadVersion);
        yield return new("v4-total-length-beyond-read", V4(Udp, HandPackets.Udp(40000, 7, P5), totalLength: 34), DropReason.BadLength);
        yield return new("v4-total-length-below-header", V4(Udp, HandPackets.Udp(40000, 7, P5), totalLength: 19), DropReason.BadLength);
        yield return new("v4-total-length-below-ihl", V4(Udp, HandPackets.Udp(40000, 7, P5), ihlWords: 6, totalLength: 22), DropReason.BadLength);
        yield return new("v4-ihl-below-5", V4(Udp, HandPackets.Udp(40000, 7, P5), ihlWords: 4), DropReason.BadLength);
        yield return new("v4-ihl-beyond-read", V4(Udp, HandPackets.Udp(40000, 7, P5), ihlWords: 15, totalLength: 33), DropReason.BadLength);

        // ---- IPv4 UDP ----
        yield return new("v4-udp", V4(Udp, HandPackets.Udp(40000, 7, P5), tos: 0xb8), ok, 4, Udp, 33, 20, 28, 5, Parsed, Dscp: 46, SourcePort: 40000, DestinationPort: 7);
        yield return new("v4-udp-zero-checksum", V4(Udp, HandPackets.Udp(40000, 7, P5, checksum: 0)), ok, 4, Udp, 33, 20, 28, 5, Parsed, SourcePort: 40000, DestinationPort: 7);
        yield return new("v4-udp-empty-payload", V4(Udp, HandPackets.Udp(40000, 7, [])), ok, 4, Udp, 28, 20, 28, 0, Parsed, SourcePort: 40000, DestinationPort: 7);
        yield return new("v4-udp-padding-after-udp-length", V4(Udp, HandPackets.Udp(40000, 7, P5, length: 10)), ok, 4, Udp, 33, 20, 28, 2, Parsed, SourcePort: 40000, DestinationPort: 7);
        yield return new("v4-udp-length-beyond-ip", V4(Udp, HandPackets.Udp(40000, 7, P5, length: 14)), ok, 4, Udp, 33, 20, 20, 13, Malformed);
        yield return new("v4-udp-length-below-8", V4(Udp, HandPackets.Udp(40000, 7, P5, length: 7)), ok, 4, Udp, 33, 20, 20, 13, Malformed);
        yield return new("v4-udp-truncated-header", V4(Udp, [0x9c, 0x40, 0, 7]), ok, 4, Udp, 24, 20, 20, 4, Malformed);
        yield return new("v4-udp-no-transport-bytes", V4(Udp, []), ok, 4, Udp, 20, 20, 20, 0, Malformed);
        yield return new("v4-trailing-bytes-beyond-total-length", V4(Udp, HandPackets.Udp(40000, 7, P5), trailing: 7), ok, 4, Udp, 33, 20, 28, 5, Parsed, SourcePort: 40000, DestinationPort: 7);
        yield return new("v4-options", V4(Udp, HandPackets.Udp(40000, 7, P5), options: [1, 1, 1, 0]), ok, 4, Udp, 37, 24, 32, 5, Parsed | Options, SourcePort: 40000, DestinationPort: 7);
        yield return new("v4-max-options", V4(Udp, HandPackets.Udp(40000, 7, P5), options: new byte[40]), ok, 4, Udp, 73, 60, 68, 5, Parsed | Options, SourcePort: 40000, DestinationPort: 7);
        yield return new("v4-bad-header-checksum", V4(Udp, HandPackets.Udp(40000, 7, P5), corruptChecksum: true), ok, 4, Udp, 33, 20, 28, 5, Parsed | PacketFlags.BadIpChecksum, SourcePort: 40000, DestinationPort: 7);
        yield return new("v4-no-df", V4(Udp, HandPackets.Udp(40000, 7, P5), fragment: 0), ok, 4, Udp, 33, 20, 28, 5, Parsed, SourcePort: 40000, DestinationPort: 7);

        // ---- IPv4 fragments ----
        yield return new("v4-first-fragment", V4(Udp, HandPackets.Udp(40000, 7, P5, length: 1000), fragment: 0x2000), ok, 4, Udp, 33, 20, 20, 13, Fragment);
        yield return new("v4-middle-fragment", V4(Udp, Payload(16), fragment: 0x2000 | 185), ok, 4, Udp, 36, 20, 20, 16, Fragment | Later);
        yield return new("v4-last-fragment", V4(Udp, Payload(16), fragment: 185), ok, 4, Udp, 36, 20, 20, 16, Fragment | Later);
        yield return new("v4-last-fragment-of-tcp", V4(Tcp, Payload(3), fragment: 1), ok, 4, Tcp, 23, 20, 20, 3, Fragment | Later);
        yield return new("v4-first-fragment-tcp-syn", V4(Tcp, HandPackets.Tcp(40000, 80, 0x02, P5), fragment: 0x2000), ok, 4, Tcp, 45, 20, 20, 25, Fragment | PacketFlags.TcpSyn);

        // ---- IPv4 TCP ----
        yield return new("v4-tcp-syn-with-options", V4(Tcp, HandPackets.Tcp(40000, 80, 0x02, [], optionBytes: 12)), ok, 4, Tcp, 52, 20, 52, 0, Parsed | PacketFlags.TcpSyn, SourcePort: 40000, DestinationPort: 80);
        yield return new("v4-tcp-data", V4(Tcp, HandPackets.Tcp(40000, 80, 0x18, P5)), ok, 4, Tcp, 45, 20, 40, 5, Parsed, SourcePort: 40000, DestinationPort: 80);
        yield return new("v4-tcp-fin", V4(Tcp, HandPackets.Tcp(40000, 80, 0x11, [])), ok, 4, Tcp, 40, 20, 40, 0, Parsed | PacketFlags.TcpFin, SourcePort: 40000, DestinationPort: 80);
        yield return new("v4-tcp-rst", V4(Tcp, HandPackets.Tcp(40000, 80, 0x14, [])), ok, 4, Tcp, 40, 20, 40, 0, Parsed | PacketFlags.TcpRst, SourcePort: 40000, DestinationPort: 80);
        yield return new("v4-tcp-syn-fin-rst", V4(Tcp, HandPackets.Tcp(40000, 80, 0x07, [])), ok, 4, Tcp, 40, 20, 40, 0, Parsed | PacketFlags.TcpSyn | PacketFlags.TcpFin | PacketFlags.TcpRst, SourcePort: 40000, DestinationPort: 80);
        yield return new("v4-tcp-data-offset-below-5", V4(Tcp, HandPackets.Tcp(40000, 80, 0x02, P5, dataOffsetWords: 4)), ok, 4, Tcp, 45, 20, 20, 25, Malformed);
        yield return new("v4-tcp-data-offset-beyond-segment", V4(Tcp, HandPackets.Tcp(40000, 80, 0x02, P5, dataOffsetWords: 7)), ok, 4, Tcp, 45, 20, 20, 25, Malformed);
        yield return new("v4-tcp-truncated-header", V4(Tcp, HandPackets.Tcp(40000, 80, 0x02, [])[..19]), ok, 4, Tcp, 39, 20, 20, 19, Malformed);

        // ---- IPv4 ICMP ----
        yield return new("v4-icmp-echo-request", V4(Icmp, HandPackets.Icmp(8, 0, 0x1234, 1, P5)), ok, 4, Icmp, 33, 20, 28, 5, Parsed, IcmpType: 8, SourcePort: 0x1234);
        yield return new("v4-icmp-echo-reply", V4(Icmp, HandPackets.Icmp(0, 0, 0x1234, 1, P5)), ok, 4, Icmp, 33, 20, 28, 5, Parsed, IcmpType: 0, SourcePort: 0x1234);
        yield return new("v4-icmp-unreachable", V4(Icmp, HandPackets.Icmp(3, 3, 0, 0, Payload(28))), ok, 4, Icmp, 56, 20, 28, 28, Parsed, IcmpType: 3);
        yield return new("v4-icmp-truncated", V4(Icmp, [8, 0, 0, 0]), ok, 4, Icmp, 24, 20, 20, 4, Malformed, IcmpType: 8);

        // ---- IPv4 DCCP ----
        yield return new("v4-dccp-request", V4(Dccp, HandPackets.Dccp(5001, 6000, 0, extended: true, extraHeaderBytes: 4, P5)), ok, 4, Dccp, 45, 20, 40, 5, Parsed, SourcePort: 5001, DestinationPort: 6000);
        yield return new("v4-dccp-data-short-seq", V4(Dccp, HandPackets.Dccp(5001, 6000, 2, extended: false, extraHeaderBytes: 0, P5)), ok, 4, Dccp, 37, 20, 32, 5, Parsed, SourcePort: 5001, DestinationPort: 6000);
        yield return new("v4-dccp-data-offset-below-generic", V4(Dccp, HandPackets.Dccp(5001, 6000, 2, extended: true, extraHeaderBytes: 0, P5, dataOffsetWords: 3)), ok, 4, Dccp, 41, 20, 20, 21, Malformed);
        yield return new("v4-dccp-data-offset-beyond-segment", V4(Dccp, HandPackets.Dccp(5001, 6000, 2, extended: true, extraHeaderBytes: 0, [], dataOffsetWords: 5)), ok, 4, Dccp, 36, 20, 20, 16, Malformed);
        yield return new("v4-dccp-truncated", V4(Dccp, Payload(11)), ok, 4, Dccp, 31, 20, 20, 11, Malformed);

        // ---- IPv4 other protocols ----
        yield return new("v4-gre", V4(Gre, Payload(8)), ok, 4, Gre, 28, 20, 20, 8);
        yield return new("v4-icmpv6-number-is-other", V4(IcmpV6, HandPackets.Icmp(128, 0, 0x1234, 1, P5)), ok, 4, IcmpV6, 33, 20, 20, 13);
        yield return new("v4-ah-is-other", V4(IpProtocols.AuthenticationHeader, AuthenticationHeader(Udp)), ok, 4, IpProtocols.AuthenticationHeader, 44, 20, 20, 24);

        // ---- link scope: the VNIC's own link, never forwarded (a raw send would loop it back into the TUN) ----
        yield return new("v4-to-mdns-224.0.0.251", WithAddress(V4(Udp, HandPackets.Udp(5353, 5353, P5)), 16, [224, 0, 0, 251]), DropReason.LinkScope);
        yield return new("v4-limited-broadcast", WithAddress(V4(Udp, HandPackets.Udp(68, 67, P5)), 16, [255, 255, 255, 255]), DropReason.LinkScope);
        yield return new("v4-from-link-local", WithAddress(V4(Udp, HandPackets.Udp(40000, 7, P5)), 12, [169, 254, 1, 2]), DropReason.LinkScope);
        yield return new("v4-to-link-local", WithAddress(V4(Udp, HandPackets.Udp(40000, 7, P5)), 16, [169, 254, 1, 2]), DropReason.LinkScope);

        // ---- IPv6: lengths ----
        yield return new("v6-39-bytes", V6(Udp, HandPackets.Udp(40000, 7, P5))[..39], DropReason.Truncated);
        yield return new("v6-payload-length-beyond-read", V6(Udp, HandPackets.Udp(40000, 7, P5), payloadLength: 14), DropReason.BadLength);
        yield return new("v6-header-only", V6(IpProtocols.NoNextHeader, []), ok, 6, IpProtocols.NoNextHeader, 40, 40, 40, 0);

        // ---- IPv6 link scope: the kernel's router solicitations and MLD reports on the TUN device, link-local unicast ----
        yield return new("v6-router-solicitation", WithAddress(WithAddress(V6(IcmpV6, HandPackets.Icmp(133, 0, 0, 0, P5)), 8, LinkLocal), 24, [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]), DropReason.LinkScope);
        yield return new("v6-to-interface-local-multicast", WithAddress(V6(Udp, HandPackets.Udp(40000, 7, P5)), 24, [0xff, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), DropReason.LinkScope);
        yield return new("v6-to-link-local", WithAddress(V6(Udp, HandPackets.Udp(40000, 7, P5)), 24, LinkLocal), DropReason.LinkScope);

        // ---- IPv6 UDP ----
        yield return new("v6-udp", V6(Udp, HandPackets.Udp(40000, 7, P5), trafficClass: 0xb8), ok, 6, Udp, 53, 40, 48, 5, Parsed, Dscp: 46, SourcePort: 40000, DestinationPort: 7);
        yield return new("v6-udp-dscp-low-bits", V6(Udp, HandPackets.Udp(40000, 7, P5), trafficClass: 0x2e), ok, 6, Udp, 53, 40, 48, 5, Parsed, Dscp: 11, SourcePort: 40000, DestinationPort: 7);
        yield return new("v6-udp-zero-checksum", V6(Udp, HandPackets.Udp(40000, 7, P5, checksum: 0)), ok, 6, Udp, 53, 40, 40, 13, Malformed);
        yield return new("v6-udp-length-beyond-ip", V6(Udp, HandPackets.Udp(40000, 7, P5, length: 30)), ok, 6, Udp, 53, 40, 40, 13, Malformed);
        yield return new("v6-trailing-bytes-beyond-payload-length", V6(Udp, HandPackets.Udp(40000, 7, P5), trailing: 9), ok, 6, Udp, 53, 40, 48, 5, Parsed, SourcePort: 40000, DestinationPort: 7);

        // ---- IPv6 extension headers ----
        yield return new("v6-hop-by-hop-udp", V6(IpProtocols.HopByHop, [.. Extension(Udp), .. HandPackets.Udp(40000, 7, P5)]), ok, 6, Udp, 61, 48, 56, 5, Parsed | Options, SourcePort: 40000, DestinationPort: 7);
        yield return new("v6-hbh-routing-destopts-udp", V6(IpProtocols.HopByHop, [.. Extension(IpProtocols.Routing), .. Extension(IpProtocols.DestinationOptions, 1), .. Extension(Udp), .. HandPackets.Udp(40000, 7, P5)]), ok, 6, Udp, 85, 72, 80, 5, Parsed | Options, SourcePort: 40000, DestinationPort: 7);
        yield return new("v6-ah-tcp", V6(IpProtocols.AuthenticationHeader, [.. AuthenticationHeader(Tcp), .. HandPackets.Tcp(40000, 443, 0x02, [])]), ok, 6, Tcp, 84, 64, 84, 0, Parsed | Options | PacketFlags.TcpSyn, SourcePort: 40000, DestinationPort: 443);
        yield return new("v6-esp", V6(IpProtocols.Esp, Payload(16)), ok, 6, IpProtocols.Esp, 56, 40, 40, 16);
        yield return new("v6-hbh-esp", V6(IpProtocols.HopByHop, [.. Extension(IpProtocols.Esp), .. Payload(16)]), ok, 6, IpProtocols.Esp, 64, 48, 48, 16, Options);
        yield return new("v6-destopts-no-next-header", V6(IpProtocols.DestinationOptions, Extension(IpProtocols.NoNextHeader)), ok, 6, IpProtocols.NoNextHeader, 48, 48, 48, 0, Options);
        yield return new("v6-hbh-truncated", V6(IpProtocols.HopByHop, Extension(Udp, 1)[..8]), ok, 6, IpProtocols.HopByHop, 48, 40, 40, 8, Options | Malformed);
        yield return new("v6-extension-one-byte", V6(IpProtocols.Routing, [Udp]), ok, 6, IpProtocols.Routing, 41, 40, 40, 1, Options | Malformed);
        yield return new("v6-fragment-header-truncated", V6(IpProtocols.Fragment, FragmentHeader(Udp, 0, true)[..6]), ok, 6, IpProtocols.Fragment, 46, 40, 40, 6, Options | Malformed);
        yield return new("v6-ah-truncated", V6(IpProtocols.AuthenticationHeader, AuthenticationHeader(Udp)[..20]), ok, 6, IpProtocols.AuthenticationHeader, 60, 40, 40, 20, Options | Malformed);
        yield return new("v6-eight-extension-headers", V6(IpProtocols.DestinationOptions, [.. Chain(8, Udp), .. HandPackets.Udp(40000, 7, P5)]), ok, 6, Udp, 117, 104, 112, 5, Parsed | Options, SourcePort: 40000, DestinationPort: 7);
        yield return new("v6-nine-extension-headers", V6(IpProtocols.DestinationOptions, [.. Chain(9, Udp), .. HandPackets.Udp(40000, 7, P5)]), ok, 6, IpProtocols.DestinationOptions, 125, 104, 104, 21, Options | Malformed);

        // ---- IPv6 fragments ----
        yield return new("v6-first-fragment", V6(IpProtocols.Fragment, [.. FragmentHeader(Udp, 0, true), .. HandPackets.Udp(40000, 7, P5, length: 1000)]), ok, 6, Udp, 61, 48, 48, 13, Fragment | Options);
        yield return new("v6-later-fragment", V6(IpProtocols.Fragment, [.. FragmentHeader(Udp, 100, false), .. Payload(13)]), ok, 6, Udp, 61, 48, 48, 13, Fragment | Later | Options);
        yield return new("v6-later-fragment-not-walked-further", V6(IpProtocols.Fragment, [.. FragmentHeader(IpProtocols.HopByHop, 100, true), .. Payload(13)]), ok, 6, IpProtocols.HopByHop, 61, 48, 48, 13, Fragment | Later | Options);
        yield return new("v6-atomic-fragment", V6(IpProtocols.Fragment, [.. FragmentHeader(Udp, 0, false), .. HandPackets.Udp(40000, 7, P5)]), ok, 6, Udp, 61, 48, 56, 5, Parsed | Options, SourcePort: 40000, DestinationPort: 7);
        yield return new("v6-hbh-then-fragment", V6(IpProtocols.HopByHop, [.. Extension(IpProtocols.Fragment), .. FragmentHeader(Tcp, 0, true), .. HandPackets.Tcp(40000, 80, 0x02, [])]), ok, 6, Tcp, 76, 56, 56, 20, Fragment | Options | PacketFlags.TcpSyn);

        // ---- IPv6 ICMPv6, TCP, DCCP, others ----
        yield return new("v6-icmpv6-echo-request", V6(IcmpV6, HandPackets.Icmp(128, 0, 0x4321, 1, P5)), ok, 6, IcmpV6, 53, 40, 48, 5, Parsed, IcmpType: 128, SourcePort: 0x4321);
        yield return new("v6-icmpv6-echo-reply", V6(IcmpV6, HandPackets.Icmp(129, 0, 0x4321, 1, P5)), ok, 6, IcmpV6, 53, 40, 48, 5, Parsed, IcmpType: 129, SourcePort: 0x4321);
        yield return new("v6-icmpv6-neighbour-solicitation", V6(IcmpV6, HandPackets.Icmp(135, 0, 0, 0, Payload(16))), ok, 6, IcmpV6, 64, 40, 48, 16, Parsed, IcmpType: 135);
        yield return new("v6-icmpv6-truncated", V6(IcmpV6, [128, 0, 0]), ok, 6, IcmpV6, 43, 40, 40, 3, Malformed, IcmpType: 128);
        yield return new("v6-icmp-v4-number-is-other", V6(Icmp, HandPackets.Icmp(8, 0, 0x1234, 1, P5)), ok, 6, Icmp, 53, 40, 40, 13);
        yield return new("v6-tcp", V6(Tcp, HandPackets.Tcp(40000, 443, 0x18, P5)), ok, 6, Tcp, 65, 40, 60, 5, Parsed, SourcePort: 40000, DestinationPort: 443);
        yield return new("v6-dccp", V6(Dccp, HandPackets.Dccp(5001, 6000, 0, extended: true, extraHeaderBytes: 4, P5)), ok, 6, Dccp, 65, 40, 60, 5, Parsed, SourcePort: 5001, DestinationPort: 6000);
        yield return new("v6-gre", V6(Gre, Payload(8)), ok, 6, Gre, 48, 40, 40, 8);
        yield return new("v6-mobility-is-other", V6(IpProtocols.Mobility, Payload(8)), ok, 6, IpProtocols.Mobility, 48, 40, 40, 8);
    }

    /// <summary>The packet with an address replaced (IPv4 offsets 12/16, IPv6 8/24); the IPv4 header checksum is left as it was.</summary>
    public static byte[] WithAddress(byte[] packet, int offset, byte[] address)
    {
        byte[] copy = (byte[])packet.Clone();
        address.CopyTo(copy, offset);
        return copy;
    }

    private static byte[] WithFirstByte(byte[] packet, byte first)
    {
        packet[0] = first;
        return packet;
    }

    /// <summary>A chain of <paramref name="count"/> 8-byte Destination Options headers ending in <paramref name="last"/>.</summary>
    private static byte[] Chain(int count, byte last)
    {
        var bytes = new List<byte>();
        for (int i = 0; i < count; i++)
        {
            bytes.AddRange(Extension(i == count - 1 ? last : IpProtocols.DestinationOptions));
        }

        return bytes.ToArray();
    }
}
