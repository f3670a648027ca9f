using System.Buffers.Binary;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;

namespace VirtualStack.Host.Packets;

/// <summary>
/// Builds the <see cref="FlowKey"/> of a packet that <see cref="PacketClassifier"/> has classified. Data path: no
/// allocation, reads only what the classifier vouched for.
/// </summary>
internal static class FlowIdExtractor
{
    /// <summary>Fills <see cref="PacketInfo.Flow"/> from <paramref name="packet"/> and the classifier's findings.</summary>
    /// <remarks>
    /// Ports come from the transport header only when it was parsed (<see cref="PacketFlags.TransportParsed"/>):
    /// fragments, malformed headers and protocols without ports get 0, so every fragment of a datagram lands in one
    /// flow. For ICMP/ICMPv6 echo the identifier is the source port and the destination port is 0. A packet the
    /// classifier dropped gets the default key.
    /// </remarks>
    public static void Extract(ReadOnlySpan<byte> packet, ref PacketInfo info)
    {
        NetAddress source;
        NetAddress destination;
        switch (info.IpVersion)
        {
            case 4 when packet.Length >= PacketClassifier.Ipv4HeaderLength:
                source = NetAddress.FromV4(BinaryPrimitives.ReadUInt32BigEndian(packet[12..]));
                destination = NetAddress.FromV4(BinaryPrimitives.ReadUInt32BigEndian(packet[16..]));
                break;
            case 6 when packet.Length >= PacketClassifier.Ipv6HeaderLength:
                source = NetAddress.Read(packet.Slice(8, 16));
                destination = NetAddress.Read(packet.Slice(24, 16));
                break;
            default:
                info.Flow = default;
                return;
        }

        ushort sourcePort = 0;
        ushort destinationPort = 0;
        int transport = info.TransportOffset;
        if ((info.Flags & PacketFlags.TransportParsed) != 0 && transport + 8 <= packet.Length)
        {
            ReadOnlySpan<byte> header = packet[transport..];
            switch (info.Protocol)
            {
                case IpProtocols.Udp or IpProtocols.Tcp or IpProtocols.Dccp:
                    sourcePort = BinaryPrimitives.ReadUInt16BigEndian(header);
                    destinationPort = BinaryPrimitives.ReadUInt16BigEndian(header[2..]);
                    break;
                case IpProtocols.Icmp or IpProtocols.IcmpV6 when PacketClassifier.IsEcho(info.IpVersion, info.Protocol, info.IcmpType):
                    sourcePort = BinaryPrimitives.ReadUInt16BigEndian(header[4..]);
                    break;
                default:
                    break;
            }
        }

        info.Flow = new FlowKey(info.Protocol, source, sourcePort, destination, destinationPort);
    }
}
