using System.Buffers.Binary;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;

namespace VirtualStack.Host.Packets;

/// <summary>
/// Writes the complete IP packet that carries a reply back to the application through the VNIC. The reply goes from
/// the endpoint the application addressed (<see cref="FlowKey.DestinationEndpoint"/>) to the application
/// (<see cref="FlowKey.SourceEndpoint"/>), so the application sees an answer from whom it asked. Data path: no
/// allocation; every checksum is computed (the kernel verifies them on TUN input).
/// </summary>
internal static class ReplyPacketBuilder
{
    /// <summary>Time to live / hop limit of built packets (the Linux default).</summary>
    public const byte HopLimit = 64;

    /// <summary>Length of the UDP header.</summary>
    public const int UdpHeaderLength = 8;

    private const int MaxIpv4TotalLength = ushort.MaxValue;
    private const int MaxIpv6PayloadLength = ushort.MaxValue;
    private const ushort DontFragment = 0x4000;

    // IPv4 Identification: a counter shared by all writers. With DF set it only has to tell datagrams apart for
    // diagnostics (RFC 6864), so a wrapping Interlocked counter is enough.
    private static int _identification;

    /// <summary>Length of the IP header this builder writes for <paramref name="flow"/>: 20 (IPv4) or 40 (IPv6).</summary>
    public static int IpHeaderLength(in FlowKey flow) =>
        flow.Source.IsV4 ? PacketClassifier.Ipv4HeaderLength : PacketClassifier.Ipv6HeaderLength;

    /// <summary>Where a UDP reply's payload starts in the packet: 28 (IPv4) or 48 (IPv6).</summary>
    /// <remarks>A stack can receive straight into this offset of a TUN buffer and call <see cref="CompleteUdp"/>.</remarks>
    public static int UdpPayloadOffset(in FlowKey flow) => IpHeaderLength(flow) + UdpHeaderLength;

    /// <summary>
    /// Writes an IP + UDP packet carrying <paramref name="payload"/> into <paramref name="packet"/>, from the flow's
    /// destination endpoint to its source endpoint.
    /// </summary>
    /// <returns>The packet length, or 0 when it does not fit in <paramref name="packet"/> or in an IP packet, or the
    /// flow mixes address families (the caller counts it).</returns>
    public static int BuildUdp(in FlowKey flow, ReadOnlySpan<byte> payload, Span<byte> packet)
    {
        int offset = UdpPayloadOffset(flow);
        if (offset + payload.Length > packet.Length)
        {
            return 0;
        }

        // CopyTo is a memmove, so a payload that already sits inside packet (even at this very offset) is safe.
        payload.CopyTo(packet[offset..]);
        return CompleteUdp(flow, payload.Length, packet);
    }

    /// <summary>
    /// Like <see cref="BuildUdp"/> for a payload of <paramref name="payloadLength"/> bytes that is already in place at
    /// <see cref="UdpPayloadOffset"/> of <paramref name="packet"/>: writes the UDP and IP headers around it.
    /// </summary>
    public static int CompleteUdp(in FlowKey flow, int payloadLength, Span<byte> packet)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        int ipHeader = IpHeaderLength(flow);
        int udpLength = UdpHeaderLength + payloadLength;
        if (ipHeader + udpLength > packet.Length || udpLength > ushort.MaxValue)
        {
            return 0;
        }

        Span<byte> udp = packet[ipHeader..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, flow.DestinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], flow.SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        return Build(flow, IpProtocols.Udp, udpLength, checksumOffset: 6, packet);
    }

    /// <summary>
    /// Writes the IP header in front of a transport segment of <paramref name="transportLength"/> bytes that the caller
    /// already wrote at <see cref="IpHeaderLength"/> of <paramref name="packet"/> (for DCCP, raw replies, and UDP).
    /// </summary>
    /// <param name="flow">The application's flow; only its addresses are used here.</param>
    /// <param name="protocol">IPv4 Protocol / IPv6 Next Header.</param>
    /// <param name="transportLength">Length of the transport header plus payload.</param>
    /// <param name="checksumOffset">
    /// Offset of a 16-bit checksum inside the segment to fill over the pseudo-header and the whole segment (6 for UDP,
    /// 16 for TCP, 6 for DCCP with full coverage), or -1 when the caller computed its own (e.g. DCCP with CsCov).
    /// </param>
    /// <param name="packet">The buffer: the segment at the IP header's length, the IP header is written before it.</param>
    /// <returns>The packet length, or 0 when it does not fit or the flow mixes address families.</returns>
    public static int Build(in FlowKey flow, byte protocol, int transportLength, int checksumOffset, Span<byte> packet)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(transportLength);
        if (checksumOffset >= 0 && checksumOffset > transportLength - 2)
        {
            throw new ArgumentOutOfRangeException(nameof(checksumOffset), "The checksum must lie inside the segment.");
        }

        // The reply travels from what the application addressed back to the application.
        NetAddress source = flow.Destination;
        NetAddress destination = flow.Source;
        bool v4 = source.IsV4;
        if (v4 != destination.IsV4)
        {
            return 0;
        }

        int ipHeader = v4 ? PacketClassifier.Ipv4HeaderLength : PacketClassifier.Ipv6HeaderLength;
        int totalLength = ipHeader + transportLength;
        if (totalLength > packet.Length || (v4 ? totalLength > MaxIpv4TotalLength : transportLength > MaxIpv6PayloadLength))
        {
            return 0;
        }

        Span<byte> segment = packet.Slice(ipHeader, transportLength);
        if (checksumOffset >= 0)
        {
            Span<byte> field = segment.Slice(checksumOffset, 2);
            field.Clear();
            uint partial = InternetChecksum.AddPseudoHeader(0, source, destination, protocol, transportLength);
            ushort checksum = InternetChecksum.Finish(InternetChecksum.Add(partial, segment));

            // On UDP an all-zero checksum means "not computed"; a computed zero is sent as all ones (RFC 768).
            if (checksum == 0 && protocol == IpProtocols.Udp)
            {
                checksum = 0xffff;
            }

            BinaryPrimitives.WriteUInt16BigEndian(field, checksum);
        }

        Span<byte> header = packet[..ipHeader];
        if (v4)
        {
            header[0] = 0x45;
            header[1] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)totalLength);
            BinaryPrimitives.WriteUInt16BigEndian(header[4..], (ushort)Interlocked.Increment(ref _identification));
            BinaryPrimitives.WriteUInt16BigEndian(header[6..], DontFragment);
            header[8] = HopLimit;
            header[9] = protocol;
            header[10] = 0;
            header[11] = 0;
            source.Write(header[12..]);
            destination.Write(header[16..]);
            BinaryPrimitives.WriteUInt16BigEndian(header[10..], InternetChecksum.Compute(header));
        }
        else
        {
            // Version 6, traffic class 0, flow label 0.
            BinaryPrimitives.WriteUInt32BigEndian(header, 0x6000_0000u);
            BinaryPrimitives.WriteUInt16BigEndian(header[4..], (ushort)transportLength);
            header[6] = protocol;
            header[7] = HopLimit;
            source.Write(header[8..]);
            destination.Write(header[24..]);
        }

        return totalLength;
    }
}
