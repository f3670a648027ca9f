using System.Buffers.Binary;
using System.Net;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// Hand-built IP packets for the malformed-input test. Checksums are computed here, independently of the code
/// under test, so "bad checksum" means bad by RFC 791/768/8200 and not by VS's own arithmetic.
/// </summary>
internal static class TestPackets
{
    public static byte[] Ipv4Udp(IPAddress source, IPAddress destination, ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> payload)
    {
        var packet = new byte[20 + 8 + payload.Length];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), 0x1234);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(6), 0x4000); // DF
        packet[8] = 64;
        packet[9] = 17;
        source.TryWriteBytes(packet.AsSpan(12, 4), out _);
        destination.TryWriteBytes(packet.AsSpan(16, 4), out _);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), Checksum(packet.AsSpan(0, 20), 0));

        var udp = packet.AsSpan(20);
        WriteUdp(udp, sourcePort, destinationPort, payload);
        var pseudo = Sum(packet.AsSpan(12, 8)) + 17u + (uint)udp.Length;
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], NonZero(Checksum(udp, pseudo)));
        return packet;
    }

    public static byte[] Ipv6Udp(IPAddress source, IPAddress destination, ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> payload)
    {
        var packet = new byte[40 + 8 + payload.Length];
        packet[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), (ushort)(8 + payload.Length));
        packet[6] = 17;
        packet[7] = 64;
        source.TryWriteBytes(packet.AsSpan(8, 16), out _);
        destination.TryWriteBytes(packet.AsSpan(24, 16), out _);
        var udp = packet.AsSpan(40);
        WriteUdp(udp, sourcePort, destinationPort, payload);
        var pseudo = Sum(packet.AsSpan(8, 32)) + 17u + (uint)udp.Length;
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], NonZero(Checksum(udp, pseudo)));
        return packet;
    }

    /// <summary>Recomputes the IPv4 header checksum after a deliberate change to the header.</summary>
    public static byte[] FixIpv4HeaderChecksum(byte[] packet)
    {
        var headerLength = Math.Min((packet[0] & 0x0f) * 4, packet.Length);
        packet[10] = 0;
        packet[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), Checksum(packet.AsSpan(0, Math.Max(headerLength, 20)), 0));
        return packet;
    }

    private static void WriteUdp(Span<byte> udp, ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udp.Length);
        payload.CopyTo(udp[8..]);
    }

    private static ushort NonZero(ushort checksum) => checksum == 0 ? (ushort)0xffff : checksum;

    private static uint Sum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (var i = 0; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if ((data.Length & 1) != 0)
        {
            sum += (uint)data[^1] << 8;
        }

        return sum;
    }

    private static ushort Checksum(ReadOnlySpan<byte> data, uint initial)
    {
        var sum = initial + Sum(data);
        while (sum > 0xffff)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
