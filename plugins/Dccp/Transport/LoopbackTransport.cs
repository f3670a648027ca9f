using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Net;

namespace VirtualStack.Plugins.Dccp.Transport;

/// <summary>
/// One side of a pair of DCCP transports joined by two UDP sockets on 127.0.0.1, for warming up: packets leave
/// through the same batching code as <see cref="RawIpTransport"/> (copied into a <see cref="PacketBatch"/>, sent
/// with sendmmsg) and are read the same way (recvmmsg into a <see cref="ReceiveRing"/>, waits in Poll), so a warm-up
/// run through a real <see cref="Endpoint.DccpEndpoint"/> compiles what the first real connection runs. Each side
/// claims an address it is not (<see cref="LocalAddress"/>) so that checksums and demultiplexing are those of a
/// real path; nothing leaves the loopback device and nothing but the peer socket is ever sent to.
/// </summary>
internal sealed class LoopbackTransport : IDccpTransport
{
    private static readonly NetAddress Loopback = NetAddress.Parse("127.0.0.1");

    private readonly Socket _socket;
    private readonly PacketBatch _queued;
    private readonly ReceiveRing _received;
    private SocketAddress? _peerSocket;
    private NetAddress _peerAddress;
    private ushort _peerPort;
    private volatile bool _disposed;

    private LoopbackTransport(NetAddress claimed, bool providesChecksum)
    {
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { Blocking = false };
        try
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        LocalAddress = claimed;
        ProvidesChecksum = providesChecksum;
        MaxPacketSize = 1500 - 20;
        _queued = new PacketBatch(64, MaxPacketSize);
        _received = new ReceiveRing(32, 9216 + 64);
    }

    /// <inheritdoc />
    public NetAddress LocalAddress { get; }

    /// <inheritdoc />
    public int MaxPacketSize { get; }

    /// <inheritdoc />
    public ushort? BoundPort => null;

    /// <inheritdoc />
    public bool ProvidesChecksum { get; }

    private ushort UdpPort => (ushort)((IPEndPoint)_socket.LocalEndPoint!).Port;

    /// <summary>Two transports, each sending only to the other; <paramref name="a"/> and <paramref name="b"/> are the addresses they claim.</summary>
    public static (LoopbackTransport A, LoopbackTransport B) CreatePair(NetAddress a, NetAddress b, bool providesChecksum)
    {
        var first = new LoopbackTransport(a, providesChecksum);
        LoopbackTransport second;
        try
        {
            second = new LoopbackTransport(b, providesChecksum);
        }
        catch
        {
            first.Dispose();
            throw;
        }

        first.Join(second);
        second.Join(first);
        return (first, second);
    }

    private void Join(LoopbackTransport peer)
    {
        _peerAddress = peer.LocalAddress;
        _peerPort = peer.UdpPort;
        _peerSocket = SocketHelpers.ToSocketAddress(Loopback, _peerPort);
    }

    /// <inheritdoc />
    public void Send(ReadOnlySpan<byte> packet, NetAddress destination)
    {
        if (_disposed || destination != _peerAddress)
        {
            return;
        }

        try
        {
            _socket.SendTo(packet, SocketFlags.None, _peerSocket!);
        }
        catch (SocketException)
        {
            // A lost packet, as on a real path.
        }
    }

    /// <inheritdoc />
    public void Queue(ReadOnlySpan<byte> packet, NetAddress destination)
    {
        if (_disposed || destination != _peerAddress)
        {
            return;
        }

        if (_queued.IsFull)
        {
            FlushQueued();
        }

        _queued.Add(packet, Loopback, _peerPort);
    }

    /// <inheritdoc />
    public void FlushQueued()
    {
        if (!_disposed && _queued.Count > 0)
        {
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
                if (timeout > TimeSpan.Zero && !_received.HasPending && !SocketHelpers.WaitReadable(_socket, timeout))
                {
                    return 0;
                }

                if (!_received.HasPending)
                {
                    int read = _received.Fill((int)_socket.Handle);
                    if (read == 0)
                    {
                        return 0;
                    }

                    if (read < 0)
                    {
                        continue;
                    }
                }

                ReadOnlySpan<byte> packet = _received.Next();
                if (packet.IsEmpty)
                {
                    continue;
                }

                source = _peerAddress;
                destination = LocalAddress;
                int length = Math.Min(packet.Length, buffer.Length);
                packet[..length].CopyTo(buffer);
                return length;
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
        _received.Dispose();
    }
}
