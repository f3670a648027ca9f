using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Net;

namespace VirtualStack.Plugins.Tests.Infrastructure;

/// <summary>A real UDP echo server on a loopback address and an ephemeral port; remembers who sent what.</summary>
internal sealed class UdpEchoServer : IDisposable
{
    private readonly Socket _socket;
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();

    public UdpEchoServer(IPAddress? address = null)
    {
        address ??= IPAddress.Loopback;
        _socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.ReceiveBufferSize = 4 << 20;
        _socket.Bind(new IPEndPoint(address, 0));
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _loop = Task.Run(EchoAsync);
    }

    public IPEndPoint EndPoint { get; }

    public NetEndpoint Remote => NetEndpoint.FromIPEndPoint(EndPoint);

    /// <summary>Datagrams received per source.</summary>
    public ConcurrentDictionary<IPEndPoint, int> Sources { get; } = new();

    public int Received => Sources.Values.Sum();

    /// <summary>Sends a datagram from the server's own socket (as a far end that speaks first would).</summary>
    public void SendTo(IPEndPoint destination, byte[] payload) => _socket.SendTo(payload, destination);

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The loop ends with the socket's disposal.
        }

        _stop.Dispose();
    }

    private async Task EchoAsync()
    {
        byte[] buffer = new byte[65_536];
        EndPoint any = new IPEndPoint(EndPoint.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token);
                var source = (IPEndPoint)received.RemoteEndPoint;
                Sources.AddOrUpdate(source, 1, (_, n) => n + 1);
                await _socket.SendToAsync(buffer.AsMemory(0, received.ReceivedBytes), SocketFlags.None, source, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }
}
