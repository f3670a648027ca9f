using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VirtualStack.Contracts.Packets;

namespace VirtualStack.Host.Packets;

/// <summary>
/// Reads an IPv4 or IPv6 packet as it came out of the VNIC and fills the classifier part of <see cref="PacketInfo"/>.
/// Runs once per packet on the data path: spans only, no allocation, no exceptions for any input.
/// </summary>
/// <remarks>
/// Only packets that not even the raw stack could carry are dropped (shorter than an IP header, a version that is
/// neither 4 nor 6, header or total lengths that cannot be true). Everything else is classified as far as it can be
/// parsed and flagged: a malformed transport header, a wrong IPv4 header checksum or a truncated IPv6 extension
/// chain leaves <see cref="PacketFlags.TransportParsed"/> clear, so the packet goes to the default (raw) stack
/// unchanged instead of vanishing.
/// </remarks>
internal static class PacketClassifier
{
    /// <summary>Length of an IPv4 header without options.</summary>
    public const int Ipv4HeaderLength = 20;

    /// <summary>Length of the fixed IPv6 header.</summary>
    public const int Ipv6HeaderLength = 40;

    /// <summary>
    /// Most IPv6 extension headers walked before giving up. RFC 8200 §4.1 allows each type once (Destination Options
    /// twice); a longer chain is hostile and must not cost unbounded time.
    /// </summary>
    public const int MaxExtensionHeaders = 8;

    private const int UdpHeaderLength = 8;
    private const int TcpMinHeaderLength = 20;
    private const int IcmpHeaderLength = 8;
    private const int DccpShortGenericHeaderLength = 12;
    private const int DccpLongGenericHeaderLength = 16;

    private const byte IcmpEchoReply = 0;
    private const byte IcmpEchoRequest = 8;
    private const byte IcmpV6EchoRequest = 128;
    private const byte IcmpV6EchoReply = 129;

    private const byte TcpFin = 0x01;
    private const byte TcpSyn = 0x02;
    private const byte TcpRst = 0x04;

    /// <summary>
    /// Classifies <paramref name="packet"/> (the bytes read from the VNIC) into <paramref name="info"/>.
    /// </summary>
    /// <returns>
    /// <see cref="DropReason.None"/> when the packet can travel on (possibly only on the raw stack), else why it must
    /// be dropped. The same value is stored in <see cref="PacketInfo.Drop"/>.
    /// </returns>
    /// <remarks>
    /// Sets Length, IpVersion, Protocol, TransportOffset, PayloadOffset, PayloadLength, Flags, Dscp, IcmpType and
    /// Drop; leaves Flow and Stack to the later stages. Without <see cref="PacketFlags.TransportParsed"/> (unknown
    /// protocol, malformed transport header, any fragment) PayloadOffset and PayloadLength describe the whole IP
    /// payload after the extension headers. A dropped packet leaves every classifier field zero.
    /// </remarks>
    public static DropReason Classify(ReadOnlySpan<byte> packet, ref PacketInfo info)
    {
        Clear(ref info);

        DropReason reason;
        if (packet.IsEmpty)
        {
            reason = DropReason.Truncated;
        }
        else
        {
            reason = (packet[0] >> 4) switch
            {
                4 => ClassifyV4(packet, ref info),
                6 => ClassifyV6(packet, ref info),
                _ => DropReason.BadVersion,
            };
            if (reason == DropReason.None && IsLinkScope(packet, info.IpVersion))
            {
                Clear(ref info); // a dropped packet carries no classification, whatever the reason
                reason = DropReason.LinkScope;
            }
        }

        info.Drop = reason;
        return reason;
    }

    private static void Clear(ref PacketInfo info)
    {
        info.Length = 0;
        info.IpVersion = 0;
        info.Protocol = 0;
        info.TransportOffset = 0;
        info.PayloadOffset = 0;
        info.PayloadLength = 0;
        info.Flags = PacketFlags.None;
        info.Dscp = 0;
        info.IcmpType = 0;
    }

    /// <summary>
    /// True for packets that belong to the VNIC's own link and must not be forwarded (RFC 4291 §2.5.6, RFC 3927 §2.7,
    /// RFC 5771 §4): the kernel's router solicitations, MLD reports and DAD probes on the TUN device, or an
    /// application's link-local traffic. Carried out by the raw stack, the kernel routes link-scope multicast straight
    /// back into the VNIC: a loop that, seen in a namespace with nothing but VS's device, kept a core busy.
    /// </summary>
    private static bool IsLinkScope(ReadOnlySpan<byte> packet, byte version)
    {
        if (version == 4)
        {
            // Source or destination 169.254/16; destination 224.0.0/24 or 255.255.255.255.
            return (packet[12] == 169 && packet[13] == 254)
                || (packet[16] == 169 && packet[17] == 254)
                || (packet[16] == 224 && packet[17] == 0 && packet[18] == 0)
                || BinaryPrimitives.ReadUInt32BigEndian(packet[16..]) == uint.MaxValue;
        }

        // Source or destination fe80::/10; destination multicast of interface- or link-local scope (ffx1::, ffx2::).
        return IsIpv6LinkLocal(packet[8..]) || IsIpv6LinkLocal(packet[24..]) || (packet[24] == 0xff && (packet[25] & 0x0f) is 1 or 2);
    }

    private static bool IsIpv6LinkLocal(ReadOnlySpan<byte> address) => address[0] == 0xfe && (address[1] & 0xc0) == 0x80;

    private static DropReason ClassifyV4(ReadOnlySpan<byte> packet, ref PacketInfo info)
    {
        if (packet.Length < Ipv4HeaderLength)
        {
            return DropReason.Truncated;
        }

        int headerLength = (packet[0] & 0x0f) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        if (headerLength < Ipv4HeaderLength || headerLength > packet.Length ||
            totalLength < headerLength || totalLength > packet.Length)
        {
            return DropReason.BadLength;
        }

        // Bytes after the total length (link padding, a sloppy writer) are not part of the packet.
        packet = packet[..totalLength];
        ReadOnlySpan<byte> header = packet[..headerLength];

        info.Length = (ushort)totalLength;
        info.IpVersion = 4;
        info.Dscp = (byte)(header[1] >> 2);
        byte protocol = header[9];
        info.Protocol = protocol;
        info.TransportOffset = (ushort)headerLength;

        PacketFlags flags = PacketFlags.None;
        if (headerLength > Ipv4HeaderLength)
        {
            flags |= PacketFlags.HasOptions;
        }

        // A header that sums to anything but 0xffff (complement 0) is corrupt; the raw stack still carries it as is.
        if (InternetChecksum.Compute(header) != 0)
        {
            flags |= PacketFlags.BadIpChecksum;
        }

        ushort fragment = BinaryPrimitives.ReadUInt16BigEndian(header[6..]);
        bool moreFragments = (fragment & 0x2000) != 0;
        bool laterFragment = (fragment & 0x1fff) != 0;
        if (moreFragments || laterFragment)
        {
            flags |= PacketFlags.Fragment;
        }

        info.Flags = flags;
        if (laterFragment)
        {
            info.Flags |= PacketFlags.LaterFragment;
            SetWholePayload(ref info);
            return DropReason.None;
        }

        byte transport = protocol switch
        {
            IpProtocols.Udp => IpProtocols.Udp,
            IpProtocols.Tcp => IpProtocols.Tcp,
            IpProtocols.Icmp => IpProtocols.Icmp,
            IpProtocols.Dccp => IpProtocols.Dccp,
            _ => 0,
        };
        ClassifyTransport(packet, transport, isV6: false, ref info);
        return DropReason.None;
    }

    private static DropReason ClassifyV6(ReadOnlySpan<byte> packet, ref PacketInfo info)
    {
        if (packet.Length < Ipv6HeaderLength)
        {
            return DropReason.Truncated;
        }

        // PacketInfo.Length is 16 bits; a packet longer than 65535 bytes cannot come through a TUN device either.
        int totalLength = Ipv6HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
        if (totalLength > packet.Length || totalLength > ushort.MaxValue)
        {
            return DropReason.BadLength;
        }

        packet = packet[..totalLength];
        info.Length = (ushort)totalLength;
        info.IpVersion = 6;
        info.Dscp = (byte)(((packet[0] & 0x0f) << 2) | (packet[1] >> 6));

        byte next = packet[6];
        int offset = Ipv6HeaderLength;
        PacketFlags flags = PacketFlags.None;
        bool laterFragment = false;
        bool chainBroken = false;

        for (int walked = 0; ; walked++)
        {
            if (!IsExtensionHeader(next))
            {
                break;
            }

            flags |= PacketFlags.HasOptions;
            if (walked == MaxExtensionHeaders)
            {
                chainBroken = true;
                break;
            }

            ReadOnlySpan<byte> rest = packet[offset..];
            int length;
            if (next == IpProtocols.Fragment)
            {
                length = 8;
                if (rest.Length < length)
                {
                    chainBroken = true;
                    break;
                }

                ushort offsetAndFlags = BinaryPrimitives.ReadUInt16BigEndian(rest[2..]);
                bool more = (offsetAndFlags & 0x0001) != 0;
                bool later = (offsetAndFlags & 0xfff8) != 0;

                // An atomic fragment (offset 0, M clear) is a whole datagram (RFC 6946): carried like any other.
                if (more || later)
                {
                    flags |= PacketFlags.Fragment;
                }

                laterFragment |= later;
            }
            else
            {
                if (rest.Length < 2)
                {
                    chainBroken = true;
                    break;
                }

                // AH counts its length in 4-octet units minus 2 (RFC 4302), the others in 8-octet units minus 1.
                length = next == IpProtocols.AuthenticationHeader ? (rest[1] + 2) * 4 : (rest[1] + 1) * 8;
                if (rest.Length < length)
                {
                    chainBroken = true;
                    break;
                }
            }

            next = rest[0];
            offset += length;
            if (laterFragment)
            {
                // What follows a non-first fragment header is the middle of someone's payload, not more headers.
                break;
            }
        }

        info.Protocol = next;
        info.TransportOffset = (ushort)offset;
        info.Flags = flags;

        if (chainBroken)
        {
            info.Flags |= PacketFlags.TransportMalformed;
            SetWholePayload(ref info);
            return DropReason.None;
        }

        if (laterFragment)
        {
            info.Flags |= PacketFlags.LaterFragment;
            SetWholePayload(ref info);
            return DropReason.None;
        }

        byte transport = next switch
        {
            IpProtocols.Udp => IpProtocols.Udp,
            IpProtocols.Tcp => IpProtocols.Tcp,
            IpProtocols.IcmpV6 => IpProtocols.IcmpV6,
            IpProtocols.Dccp => IpProtocols.Dccp,
            _ => 0,
        };
        ClassifyTransport(packet, transport, isV6: true, ref info);
        return DropReason.None;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsExtensionHeader(byte next) =>
        next is IpProtocols.HopByHop or IpProtocols.Routing or IpProtocols.Fragment or
            IpProtocols.DestinationOptions or IpProtocols.AuthenticationHeader;

    /// <summary>
    /// Parses the transport header at <see cref="PacketInfo.TransportOffset"/> of <paramref name="packet"/> (already cut
    /// to the IP total length). <paramref name="transport"/> is 0 for protocols without a header VS understands.
    /// </summary>
    private static void ClassifyTransport(ReadOnlySpan<byte> packet, byte transport, bool isV6, ref PacketInfo info)
    {
        ReadOnlySpan<byte> segment = packet[info.TransportOffset..];
        bool fragment = (info.Flags & PacketFlags.Fragment) != 0;
        int headerLength;

        switch (transport)
        {
            case IpProtocols.Udp:
                headerLength = UdpHeaderLength;
                if (segment.Length < UdpHeaderLength)
                {
                    MarkMalformed(ref info);
                    return;
                }

                int udpLength = BinaryPrimitives.ReadUInt16BigEndian(segment[4..]);
                if (!fragment)
                {
                    // The UDP length must fit in the IP payload; a shorter one leaves padding, which the kernel trims
                    // too (udp_rcv). A zero checksum means "none" on IPv4 but is forbidden on IPv6 (RFC 8200 §8.1).
                    if (udpLength < UdpHeaderLength || udpLength > segment.Length ||
                        (isV6 && BinaryPrimitives.ReadUInt16BigEndian(segment[6..]) == 0))
                    {
                        MarkMalformed(ref info);
                        return;
                    }

                    segment = segment[..udpLength];
                }

                break;

            case IpProtocols.Tcp:
                if (segment.Length < TcpMinHeaderLength)
                {
                    MarkMalformed(ref info);
                    return;
                }

                headerLength = (segment[12] >> 4) * 4;
                if (headerLength < TcpMinHeaderLength || headerLength > segment.Length)
                {
                    MarkMalformed(ref info);
                    return;
                }

                byte tcpFlags = segment[13];
                if ((tcpFlags & TcpSyn) != 0)
                {
                    info.Flags |= PacketFlags.TcpSyn;
                }

                if ((tcpFlags & TcpFin) != 0)
                {
                    info.Flags |= PacketFlags.TcpFin;
                }

                if ((tcpFlags & TcpRst) != 0)
                {
                    info.Flags |= PacketFlags.TcpRst;
                }

                break;

            case IpProtocols.Icmp:
            case IpProtocols.IcmpV6:
                if (!segment.IsEmpty)
                {
                    info.IcmpType = segment[0];
                }

                // Every ICMP and ICMPv6 message starts with type, code, checksum and four more header bytes.
                headerLength = IcmpHeaderLength;
                if (segment.Length < IcmpHeaderLength)
                {
                    MarkMalformed(ref info);
                    return;
                }

                break;

            case IpProtocols.Dccp:
                if (segment.Length < DccpShortGenericHeaderLength)
                {
                    MarkMalformed(ref info);
                    return;
                }

                // RFC 4340 §5.1: X (extended sequence numbers) selects the 16- or 12-byte generic header; Data Offset
                // (32-bit words) covers generic header, type-specific fields and options.
                int generic = (segment[8] & 0x01) != 0 ? DccpLongGenericHeaderLength : DccpShortGenericHeaderLength;
                headerLength = segment[4] * 4;
                if (headerLength < generic || headerLength > segment.Length)
                {
                    MarkMalformed(ref info);
                    return;
                }

                break;

            default:
                SetWholePayload(ref info);
                return;
        }

        // A first fragment has its transport header (flags and ICMP type above are real), but its payload is only
        // part of the datagram: no stack may take it for the whole payload, so TransportParsed stays clear (and the
        // flow gets no ports, as the later fragments of the same datagram cannot have any).
        if (fragment)
        {
            SetWholePayload(ref info);
            return;
        }

        info.PayloadOffset = (ushort)(info.TransportOffset + headerLength);
        info.PayloadLength = (ushort)(segment.Length - headerLength);
        info.Flags |= PacketFlags.TransportParsed;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MarkMalformed(ref PacketInfo info)
    {
        info.Flags |= PacketFlags.TransportMalformed;
        SetWholePayload(ref info);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetWholePayload(ref PacketInfo info)
    {
        info.PayloadOffset = info.TransportOffset;
        info.PayloadLength = (ushort)(info.Length - info.TransportOffset);
    }

    /// <summary>True for ICMP (on IPv4) or ICMPv6 (on IPv6) echo request and reply, whose identifier names the flow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsEcho(byte ipVersion, byte protocol, byte icmpType) =>
        (ipVersion == 4 && protocol == IpProtocols.Icmp && icmpType is IcmpEchoRequest or IcmpEchoReply) ||
        (ipVersion == 6 && protocol == IpProtocols.IcmpV6 && icmpType is IcmpV6EchoRequest or IcmpV6EchoReply);
}
