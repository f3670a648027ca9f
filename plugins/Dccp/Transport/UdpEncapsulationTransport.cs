using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Net;

namespace VirtualStack.Plugins.Dccp.Transport;

/// <summary>
/// DCCP over UDP, for paths where raw IP protocol 33 cannot go (DCCP-UDP, RFC 6773). Each UDP datagram carries one
/// whole DCCP packet, generic header with its DCCP ports included (§3, §3.2); the UDP ports only name the
/// encapsulation service on each side (§3.1). The UDP checksum, which the kernel always computes and checks, does
/// the DCCP checksum's job: the DCCP Checksum field is sent as zero and ignored on receipt (§3.3,
/// <see cref="ProvidesChecksum"/>). One UDP socket carries any number of DCCP connections and ports; connections
/// are told apart by the DCCP ports inside (§3.8, the second demultiplexing method).
/// </summary>
/// <remarks>
/// The peer's UDP port is learned per (peer address, peer DCCP port, our DCCP port) from what arrives; before
/// anything arrived (a client's Request) it is <see cref="DefaultRemotePort"/>, or the DCCP destination port when
/// that is 0 (a VS listener binds its UDP socket to the same number as its DCCP port). Not checked here, because a
/// UDP socket does not show it: a received UDP checksum of zero (§3.3 says drop) passes the kernel on IPv4.
/// </remarks>
public sealed class UdpEncapsulationTransport : IDccpTransport
{
    /// <summary>The IANA port for a DCCP-UDP service (RFC 6773 §3.8, §7.1).</summary>
    public const ushort DefaultPort = 6511;

    /// <summary>UDP length below which a datagram cannot hold a DCCP-UDP header (RFC 6773 §3.3: 8 + 12).</summary>
    private const int MinimumDccpLength = 12;

    /// <summary>Peers remembered at most; a table this full is cleared (entries are learned again from traffic).</summary>
    private const int MaxPeers = 65536;

    private readonly Socket _socket;
    private readonly DestinationCache _destinations = new();
    private readonly SocketAddress _from;
    private readonly Lock _peersGate = new();
    private readonly Dictionary<PeerKey, ushort> _peers = [];
    private volatile bool _disposed;

    /// <summary>Binds a UDP socket to <paramref name="localAddress"/>:<paramref name="port"/> (0: ephemeral).</summary>
    /// <param name="localAddress">The address packets are sent from and received on.</param>
    /// <param name="port">Local UDP port (0: ephemeral).</param>
    /// <param name="mtu">Path MTU; the largest DCCP packet is this less the IP and UDP headers.</param>
    /// <param name="mark">SO_MARK for every packet (0: none).</param>
    /// <param name="defaultRemotePort">UDP port of a peer not heard from yet (0: the DCCP destination port).</param>
    public UdpEncapsulationTransport(NetAddress localAddress, ushort port = 0, int mtu = 1500, int mark = 0, ushort defaultRemotePort = 0)
    {
        _socket = new Socket(localAddress.Family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            SocketHelpers.SetMark(_socket, mark);
            _socket.ReceiveBufferSize = 4 << 20;
            _socket.SendBufferSize = 1 << 20;
            _socket.Bind(new IPEndPoint(localAddress.ToIPAddress(), port));
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        LocalAddress = localAddress;
        UdpPort = (ushort)((IPEndPoint)_socket.LocalEndPoint!).Port;
        DefaultRemotePort = defaultRemotePort;
        MaxPacketSize = mtu - (localAddress.IsV4 ? 20 : 40) - 8;
        _from = new SocketAddress(localAddress.Family);
    }

    /// <inheritdoc />
    public NetAddress LocalAddress { get; }

    /// <inheritdoc />
    public int MaxPacketSize { get; }

    /// <summary>Null: the DCCP ports travel inside the UDP payload, so any DCCP port can be used (RFC 6773 §3.8).</summary>
    public ushort? BoundPort => null;

    /// <summary>The local UDP port of the encapsulation service.</summary>
    public ushort UdpPort { get; }

    /// <summary>UDP port of a peer not heard from yet; 0 means "the DCCP destination port".</summary>
    public ushort DefaultRemotePort { get; }

    /// <inheritdoc />
    public bool ProvidesChecksum => true;

    /// <summary>UDP datagrams dropped because they cannot hold a DCCP header, or came from a second UDP port for a DCCP port pair that has one.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    private long _rejected;

    /// <inheritdoc />
    public void Send(ReadOnlySpan<byte> packet, NetAddress destination)
    {
        if (_disposed || packet.Length < MinimumDccpLength)
        {
            return;
        }

        ushort localDccp = (ushort)((packet[0] << 8) | packet[1]);
        ushort remoteDccp = (ushort)((packet[2] << 8) | packet[3]);
        ushort udpPort;
        lock (_peersGate)
        {
            if (!_peers.TryGetValue(new PeerKey(destination, remoteDccp, localDccp), out udpPort))
            {
                udpPort = DefaultRemotePort != 0 ? DefaultRemotePort : remoteDccp;
            }
        }

        try
        {
            _socket.SendTo(packet, SocketFlags.None, _destinations.Get(destination, udpPort));
        }
        catch (SocketException)
        {
            // A lost datagram (e.g. ICMP port unreachable reported on the next send); CCID 2 handles loss.
        }
    }

    /// <inheritdoc />
    public int Receive(Span<byte> buffer, out NetAddress source, out NetAddress destination, TimeSpan timeout)
    {
        source = destination = default;
        while (!_disposed)
        {
            try
            {
                if (!SocketHelpers.WaitReadable(_socket, timeout))
                {
                    return 0;
                }

                int n = _socket.ReceiveFrom(buffer, SocketFlags.None, _from);
                source = SocketHelpers.ReadAddress(_from, out ushort sourceUdpPort);
                destination = LocalAddress;
                if (n < MinimumDccpLength)
                {
                    Interlocked.Increment(ref _rejected); // §3.3: UDP Length < 20
                    continue;
                }

                if (!Learn(source, sourceUdpPort, buffer[..n]))
                {
                    Interlocked.Increment(ref _rejected);
                    continue;
                }

                return n;
            }
            catch (SocketException)
            {
                continue; // e.g. ECONNREFUSED from an earlier send
            }
            catch (ObjectDisposedException)
            {
                break;
            }
        }

        return -1;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _disposed = true;
        _socket.Dispose();
    }

    /// <summary>
    /// Remembers which UDP port a peer's DCCP port pair uses, so that replies go back through its NAT mapping.
    /// A packet from a second UDP port for a known pair is refused unless it is a Request (a new connection): one
    /// DCCP connection per 6-tuple (RFC 6773 §3.8).
    /// </summary>
    private bool Learn(NetAddress source, ushort udpPort, ReadOnlySpan<byte> packet)
    {
        var key = new PeerKey(source, (ushort)((packet[0] << 8) | packet[1]), (ushort)((packet[2] << 8) | packet[3]));
        bool isRequest = ((packet[8] >> 1) & 0x0F) == 0; // Type 0 = Request (§5.1)
        lock (_peersGate)
        {
            if (_peers.TryGetValue(key, out ushort known))
            {
                if (known == udpPort)
                {
                    return true;
                }

                if (!isRequest)
                {
                    return false;
                }
            }
            else if (_peers.Count >= MaxPeers)
            {
                _peers.Clear();
            }

            _peers[key] = udpPort;
            return true;
        }
    }

    private readonly record struct PeerKey(NetAddress Address, ushort RemoteDccpPort, ushort LocalDccpPort);
}
