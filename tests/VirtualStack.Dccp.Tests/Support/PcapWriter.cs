using System.Buffers.Binary;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;

namespace VirtualStack.Dccp.Tests.Support;

/// <summary>Writes a classic pcap file with link type RAW (101): each record is a bare IPv4 or IPv6 packet.</summary>
internal sealed class PcapWriter : IDisposable
{
    private readonly FileStream _stream;
    private int _count;

    public PcapWriter(string path)
    {
        _stream = File.Create(path);
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xa1b2c3d4);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], 65535);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], 101); // LINKTYPE_RAW
        _stream.Write(header);
    }

    public int Count => _count;

    /// <summary>Wraps a DCCP packet in an IPv4 or IPv6 header (protocol / next header 33) and appends it.</summary>
    public void WriteDccp(NetAddress source, NetAddress destination, ReadOnlySpan<byte> dccp)
    {
        byte[] ip = WrapInIp(source, destination, IpProtocols.Dccp, dccp);
        Span<byte> record = stackalloc byte[16];
        _count++;
        BinaryPrimitives.WriteUInt32LittleEndian(record, 1_700_000_000u + (uint)_count);
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)ip.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)ip.Length);
        _stream.Write(record);
        _stream.Write(ip);
    }

    public static byte[] WrapInIp(NetAddress source, NetAddress destination, byte protocol, ReadOnlySpan<byte> payload)
    {
        if (source.IsV4)
        {
            byte[] packet = new byte[20 + payload.Length];
            packet[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
            packet[8] = 64;
            packet[9] = protocol;
            source.Write(packet.AsSpan(12));
            destination.Write(packet.AsSpan(16));
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), InternetChecksum.Compute(packet.AsSpan(0, 20)));
            payload.CopyTo(packet.AsSpan(20));
            return packet;
        }

        byte[] v6 = new byte[40 + payload.Length];
        v6[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(v6.AsSpan(4), (ushort)payload.Length);
        v6[6] = protocol;
        v6[7] = 64;
        source.Write(v6.AsSpan(8));
        destination.Write(v6.AsSpan(24));
        payload.CopyTo(v6.AsSpan(40));
        return v6;
    }

    public void Dispose() => _stream.Dispose();
}
