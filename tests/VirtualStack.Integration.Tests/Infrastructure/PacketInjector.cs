namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// Hands arbitrary bytes to VS as if they had been routed into its TUN device.
/// </summary>
/// <remarks>
/// The kernel never routes a malformed IP packet, and a raw IP socket rewrites the very fields the test wants
/// wrong (IP_HDRINCL always fills in the total length and the header checksum). An AF_PACKET socket sending on the
/// TUN interface does no such thing: what it sends is "transmitted" by the TUN device, which means queued unchanged
/// for the program holding the device open, i.e. VS reads exactly these bytes from its TUN file descriptor.
/// The socket is made with protocol 0, so it receives nothing.
/// </remarks>
internal sealed class PacketInjector : IDisposable
{
    private readonly int _fd;
    private readonly int _ifIndex;

    private PacketInjector(int fd, int ifIndex)
    {
        _fd = fd;
        _ifIndex = ifIndex;
    }

    public string Device { get; private init; } = "";

    /// <summary>Opens the injector on device <paramref name="device"/> of namespace <paramref name="ns"/>.</summary>
    public static PacketInjector Open(string ns, string device) => Netns.Run(ns, () =>
    {
        var index = LibC.if_nametoindex(device);
        if (index == 0)
        {
            throw new InvalidOperationException($"no device {device}: {LibC.LastError()}");
        }

        var fd = LibC.socket(LibC.AfPacket, LibC.SockRaw, 0);
        return fd < 0
            ? throw new InvalidOperationException($"socket(AF_PACKET) failed: {LibC.LastError()}")
            : new PacketInjector(fd, (int)index) { Device = device };
    });

    /// <summary>Sends one packet; <paramref name="etherType"/> tells the kernel what it claims to be.</summary>
    public unsafe void Send(ReadOnlySpan<byte> packet, ushort etherType = LibC.EthPIp)
    {
        // struct sockaddr_ll: family, protocol (network order), ifindex, hatype, pkttype, halen, addr[8].
        Span<byte> addr = stackalloc byte[20];
        addr.Clear();
        BitConverter.TryWriteBytes(addr[..2], (ushort)LibC.AfPacket);
        addr[2] = (byte)(etherType >> 8);
        addr[3] = (byte)etherType;
        BitConverter.TryWriteBytes(addr.Slice(4, 4), _ifIndex);
        fixed (byte* p = packet)
        fixed (byte* a = addr)
        {
            var sent = LibC.sendto(_fd, p, packet.Length, 0, a, addr.Length);
            if (sent != packet.Length)
            {
                throw new InvalidOperationException($"sendto({Device}, {packet.Length} bytes) returned {sent}: {LibC.LastError()}");
            }
        }
    }

    public void Dispose() => LibC.close(_fd);
}
