using System.Buffers.Binary;
using System.Net;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;

namespace VirtualStack.Plugins.Tests.Infrastructure;

/// <summary>
/// Hand-built IP/UDP packets in slots of one pinned array, the way the host's batches hold them (the stacks keep
/// pointers into it until their flush), each with the <see cref="PacketInfo"/> the classifier would have written.
/// </summary>
internal sealed class PacketSlab(int slots, int slotSize = 2048)
{
    private const int V4Header = 20;
    private const int V6Header = 40;
    private const int UdpHeader = 8;

    private readonly byte[] _memory = GC.AllocateArray<byte>(slots * slotSize, pinned: true);
    private readonly PacketInfo[] _info = new PacketInfo[slots];

    public int Slots => slots;

    public Span<byte> Packet(int slot) => _memory.AsSpan(slot * slotSize, _info[slot].Length);

    /// <summary>All the memory of a slot, for packets whose length does not fit <see cref="PacketInfo.Length"/>.</summary>
    public Span<byte> Slot(int slot) => _memory.AsSpan(slot * slotSize, slotSize);

    public ref PacketInfo Info(int slot) => ref _info[slot];

    /// <summary>The payload bytes of a slot, to rewrite in place (a sequence number) between sends.</summary>
    public Span<byte> Payload(int slot) => _memory.AsSpan((slot * slotSize) + _info[slot].PayloadOffset, _info[slot].PayloadLength);

    /// <summary>Writes a UDP packet from <paramref name="source"/> to <paramref name="destination"/> into a slot.</summary>
    public ref PacketInfo WriteUdp(int slot, IPEndPoint source, IPEndPoint destination, ReadOnlySpan<byte> payload)
    {
        var src = NetEndpoint.FromIPEndPoint(source);
        var dst = NetEndpoint.FromIPEndPoint(destination);
        bool v4 = src.Address.IsV4;
        int header = v4 ? V4Header : V6Header;
        int length = header + UdpHeader + payload.Length;
        if (length > slotSize)
        {
            throw new ArgumentException("payload too big for the slot", nameof(payload));
        }

        Span<byte> packet = _memory.AsSpan(slot * slotSize, length);
        packet.Clear();
        if (v4)
        {
            packet[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(packet[2..], (ushort)length);
            BinaryPrimitives.WriteUInt16BigEndian(packet[4..], (ushort)slot);
            packet[6] = 0x40; // DF
            packet[8] = 64;
            packet[9] = IpProtocols.Udp;
            src.Address.Write(packet[12..]);
            dst.Address.Write(packet[16..]);
            BinaryPrimitives.WriteUInt16BigEndian(packet[10..], InternetChecksum.Compute(packet[..V4Header]));
        }
        else
        {
            packet[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(packet[4..], (ushort)(UdpHeader + payload.Length));
            packet[6] = IpProtocols.Udp;
            packet[7] = 64;
            src.Address.Write(packet[8..]);
            dst.Address.Write(packet[24..]);
        }

        Span<byte> udp = packet[header..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, src.Port);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], dst.Port);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(UdpHeader + payload.Length));
        payload.CopyTo(udp[UdpHeader..]);
        uint sum = InternetChecksum.AddPseudoHeader(0, src.Address, dst.Address, IpProtocols.Udp, UdpHeader + payload.Length);
        ushort checksum = InternetChecksum.Finish(InternetChecksum.Add(sum, udp[..(UdpHeader + payload.Length)]));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], checksum == 0 ? (ushort)0xffff : checksum);

        ref PacketInfo info = ref _info[slot];
        info = new PacketInfo
        {
            Length = (ushort)length,
            IpVersion = v4 ? (byte)4 : (byte)6,
            Protocol = IpProtocols.Udp,
            TransportOffset = (ushort)header,
            PayloadOffset = (ushort)(header + UdpHeader),
            PayloadLength = (ushort)payload.Length,
            Flags = PacketFlags.TransportParsed,
            Flow = new FlowKey(IpProtocols.Udp, src.Address, src.Port, dst.Address, dst.Port),
            Stack = 0,
        };
        return ref info;
    }
}
