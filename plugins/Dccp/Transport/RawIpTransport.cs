using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;

namespace VirtualStack.Plugins.Dccp.Transport;

/// <summary>
/// DCCP straight over IPv4 or IPv6, protocol 33, through a raw socket (needs root or CAP_NET_RAW). The kernel adds
/// the IP header; we compute the DCCP checksum ourselves. The socket receives every DCCP packet addressed to the
/// host (IPv4: with its IP header, which gives both addresses; IPv6: bound to one address, the source comes from
/// recvfrom). Keep it open for as long as DCCP is in use: without a raw socket for protocol 33 the host kernel
/// answers DCCP with ICMP protocol-unreachable (dccp-lab README, pitfall 1).
/// </summary>
public sealed class RawIpTransport : IDccpTransport
{
    private readonly Socket _socket;
    private readonly bool _v4;
    private readonly DestinationCache _destinations = new();
    private readonly SocketAddress _from;
    private readonly PacketBatch _queued;
    private readonly ReceiveRing? _received; // IPv4: bursts are read with recvmmsg
    private volatile bool _disposed;

    /// <summary>Opens the raw socket bound to <paramref name="localAddress"/> (a specific address, not "any").</summary>
    /// <param name="localAddress">The address packets are sent from and received on.</param>
    /// <param name="mtu">Path MTU; the largest DCCP packet is this less the IP header.</param>
    /// <param name="mark">SO_MARK for every packet (0: none), so policy routing can keep them out of a TUN.</param>
    public RawIpTransport(NetAddress localAddress, int mtu = 1500, int mark = 0)
    {
        _v4 = localAddress.IsV4;
        _socket = SocketHelpers.OpenRaw(localAddress.Family, IpProtocols.Dccp);
        try
        {
            SocketHelpers.SetMark(_socket, mark);
            // IPv4: waits happen in Poll and the socket never blocks, so a burst is read with one recvmmsg.
            _socket.Blocking = !_v4;
            _socket.ReceiveBufferSize = 4 << 20;
            _socket.SendBufferSize = 1 << 20;
            _socket.Bind(new IPEndPoint(localAddress.ToIPAddress(), 0));
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        LocalAddress = localAddress;
        MaxPacketSize = mtu - (_v4 ? 20 : 40);
        _from = new SocketAddress(localAddress.Family);
        _queued = new PacketBatch(64, MaxPacketSize);
        // Slots hold an IP header and the largest packet a jumbo-frame link could bring, not only our MTU's.
        _received = _v4 ? new ReceiveRing(32, Math.Max(mtu, 9216) + 64) : null;
    }

    /// <inheritdoc />
    public NetAddress LocalAddress { get; }

    /// <inheritdoc />
    public int MaxPacketSize { get; }

    /// <inheritdoc />
    public ushort? BoundPort => null;

    /// <inheritdoc />
    public void Send(ReadOnlySpan<byte> packet, NetAddress destination)
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            _socket.SendTo(packet, SocketFlags.None, _destinations.Get(destination, 0));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock && _socket.Poll(250_000, SelectMode.SelectWrite))
        {
            // The IPv4 socket is non-blocking (for burst reads): a full send buffer must wait for room, as a blocking
            // send would, not lose the packet.
            try
            {
                _socket.SendTo(packet, SocketFlags.None, _destinations.Get(destination, 0));
            }
            catch (SocketException)
            {
            }
        }
        catch (SocketException)
        {
            // Datagram semantics: a failed send is a lost packet (CCID 2 sees it as loss), never a crash.
        }
    }

    /// <inheritdoc />
    public void Queue(ReadOnlySpan<byte> packet, NetAddress destination)
    {
        if (_disposed)
        {
            return;
        }

        if (_queued.IsFull)
        {
            FlushQueued();
        }

        _queued.Add(packet, destination, 0);
    }

    /// <inheritdoc />
    public void FlushQueued()
    {
        if (!_disposed && _queued.Count > 0)
        {
            // A raw socket's "port" is the protocol; sendmmsg ignores it. A refused packet is a lost packet.
            _queued.Send((int)_socket.Handle);
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
                if ((timeout > TimeSpan.Zero || !_v4) && _received is not { HasPending: true } && !SocketHelpers.WaitReadable(_socket, timeout))
                {
                    return 0;
                }

                if (_received is { } ring)
                {
                    if (!ring.HasPending)
                    {
                        int read = ring.Fill((int)_socket.Handle);
                        if (read == 0)
                        {
                            return 0;
                        }

                        if (read < 0)
                        {
                            continue; // e.g. a pending ICMP error reported on this call
                        }
                    }

                    ReadOnlySpan<byte> ip = ring.Next();
                    int n = ip.Length;
                    int ihl = n > 0 ? (ip[0] & 0x0F) * 4 : 0;
                    if (n < 20 || ihl < 20 || n < ihl || ip[9] != IpProtocols.Dccp)
                    {
                        continue;
                    }

                    source = NetAddress.FromV4(BinaryPrimitives.ReadUInt32BigEndian(ip[12..]));
                    destination = NetAddress.FromV4(BinaryPrimitives.ReadUInt32BigEndian(ip[16..]));
                    if (destination != LocalAddress)
                    {
                        continue; // another address of this host
                    }

                    int length = Math.Min(n - ihl, buffer.Length);
                    ip.Slice(ihl, length).CopyTo(buffer);
                    return length;
                }

                int m = _socket.ReceiveFrom(buffer, SocketFlags.None, _from);
                source = SocketHelpers.ReadAddress(_from, out _);
                destination = LocalAddress;
                return m;
            }
            catch (SocketException)
            {
                continue;
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
        _queued.Dispose();
        _received?.Dispose();
    }
}
