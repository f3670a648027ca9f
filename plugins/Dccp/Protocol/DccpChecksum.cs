using System.Buffers.Binary;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;

namespace VirtualStack.Plugins.Dccp.Protocol;

/// <summary>
/// The DCCP checksum (RFC 4340 §9.1): the Internet checksum over the IPv4 or IPv6 pseudo-header (protocol 33, the
/// whole DCCP length) and the bytes named by Checksum Coverage (§9.2): the header and options always, then all of
/// the application data when CsCov is 0, else (CsCov - 1) × 4 bytes of it.
/// </summary>
public static class DccpChecksum
{
    /// <summary>Offset of the Checksum field in the generic header.</summary>
    public const int FieldOffset = 6;

    /// <summary>
    /// Bytes covered by the checksum for a packet whose header is well formed (<see cref="DccpPacket.TryParse"/>
    /// returned Ok or MalformedOptions). Never more than the packet length.
    /// </summary>
    public static int Coverage(ReadOnlySpan<byte> packet)
    {
        int csCov = packet[5] & 0x0F;
        if (csCov == 0)
        {
            return packet.Length;
        }

        return Math.Min(packet.Length, (packet[4] * 4) + ((csCov - 1) * 4));
    }

    /// <summary>The partial sum of the pseudo-header for a DCCP packet of <paramref name="length"/> bytes.</summary>
    public static uint PseudoHeaderSum(NetAddress source, NetAddress destination, int length) =>
        InternetChecksum.AddPseudoHeader(0, source, destination, IpProtocols.Dccp, length);

    /// <summary>Computes the checksum and stores it in the packet's Checksum field.</summary>
    public static ushort Write(Span<byte> packet, NetAddress source, NetAddress destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(packet[FieldOffset..], 0);
        uint sum = InternetChecksum.Add(PseudoHeaderSum(source, destination, packet.Length), packet[..Coverage(packet)]);
        ushort checksum = InternetChecksum.Finish(sum);
        BinaryPrimitives.WriteUInt16BigEndian(packet[FieldOffset..], checksum);
        return checksum;
    }

    /// <summary>
    /// True when the packet's Checksum field is right. Summing the covered bytes with the field in place gives
    /// all ones for a correct checksum, so nothing has to be copied or zeroed.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> packet, NetAddress source, NetAddress destination)
    {
        if (packet.Length < DccpPacket.ShortGenericHeaderLength)
        {
            return false;
        }

        uint sum = InternetChecksum.Add(PseudoHeaderSum(source, destination, packet.Length), packet[..Coverage(packet)]);
        return InternetChecksum.Finish(sum) == 0;
    }
}
