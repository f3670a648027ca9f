using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Net;

namespace VirtualStack.Plugins.Dccp.Transport;

/// <summary>
/// DCCP over UDP, for paths where raw IP protocol 33 cannot go (RFC 6773, DCCP-UDP). As in RFC 6773, the UDP header
/// takes the place of the DCCP port fields: the UDP source and destination ports are the DCCP ports, and the UDP
/// payload is the DCCP packet from its Data Offset byte on. The DCCP checksum is computed exactly as for native
/// DCCP (§9.1 pseudo-header with the UDP ports as the DCCP ports), so a packet converts between the two framings
/// by moving 4 bytes. One transport serves one local port (its UDP socket's).
/// </summary>
/// <remarks>No unprivileged operation needs more than this; tests run two endpoints over loopback with it.</remarks>
public sealed class UdpEncapsulationTransport : IDccpTransport
{
    /// <summary>The IANA port for DCCP-UDP (RFC 6773 §8).</summary>
    public const ushort DefaultPort = 6511;

    private const int PortBytes = 4;

    private readonly Socket _socket;
    private readonly DestinationCache _destinations = new();
    private readonly SocketAddress _from;
    private volatile bool _disposed;

    /// <summary>Binds a UDP socket to <paramref name="localAddress"/>:<paramref name="port"/> (0: ephemeral).</summary>
    public UdpEncapsulationTransport(NetAddress localAddress, ushort port = 0, int mtu = 1500, int mark = 0)
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
        BoundPort = (ushort)((IPEndPoint)_socket.LocalEndPoint!).Port;
        MaxPacketSize = mtu - (localAddress.IsV4 ? 20 : 40) - 8 + PortBytes;
        _from = new SocketAddress(localAddress.Family);
    }

    /// <inheritdoc />
    public NetAddress LocalAddress { get; }

    /// <inheritdoc />
    public int MaxPacketSize { get; }

    /// <inheritdoc />
    public ushort? BoundPort { get; }

    /// <inheritdoc />
    public void Send(ReadOnlySpan<byte> packet, NetAddress destination)
    {
        if (_disposed || packet.Length < 12)
        {
            return;
        }

        int destinationPort = (packet[2] << 8) | packet[3];
        try
        {
            _socket.SendTo(packet[PortBytes..], SocketFlags.None, _destinations.Get(destination, destinationPort));
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

                int n = _socket.ReceiveFrom(buffer[PortBytes..], SocketFlags.None, _from);
                source = SocketHelpers.ReadAddress(_from, out ushort sourcePort);
                destination = LocalAddress;
                // Put the UDP ports back where DCCP has its ports.
                buffer[0] = (byte)(sourcePort >> 8);
                buffer[1] = (byte)sourcePort;
                buffer[2] = (byte)(BoundPort!.Value >> 8);
                buffer[3] = (byte)BoundPort.Value;
                return n + PortBytes;
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
}
