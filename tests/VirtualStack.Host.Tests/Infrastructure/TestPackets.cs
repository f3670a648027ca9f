using System.Buffers.Binary;

namespace VirtualStack.Host.Tests.Infrastructure;

/// <summary>Hand-built IPv4/UDP packets for pipeline tests (checksums left zero: VS does not require them).</summary>
internal static class TestPackets
{
    public static byte[] Udp(byte[] source, ushort sourcePort, byte[] destination, ushort destinationPort, byte[] payload)
    {
        var packet = new byte[28 + payload.Length];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        packet[8] = 64;
        packet[9] = 17;
        source.CopyTo(packet, 12);
        destination.CopyTo(packet, 16);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(20), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(22), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(24), (ushort)(8 + payload.Length));
        payload.CopyTo(packet, 28);
        ushort checksum = VirtualStack.Contracts.Packets.InternetChecksum.Compute(packet.AsSpan(0, 20));
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), checksum);
        return packet;
    }
}
