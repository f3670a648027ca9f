using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Endpoint;
using VirtualStack.Plugins.Dccp.Transport;

namespace VirtualStack.Dccp.Tests.Stack;

/// <summary>A DCCP server that echoes every datagram on the connection it came on.</summary>
internal sealed class EchoServer : IAsyncDisposable
{
    private readonly DccpEndpoint _endpoint;
    private readonly DccpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<DccpConnection> _connections = [];
    private readonly TaskCompletionSource _accepted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _accepting;

    private EchoServer(IDccpTransport transport, ushort port)
    {
        _endpoint = new DccpEndpoint(transport);
        Port = port;
        _listener = _endpoint.Listen(port);
        _accepting = Task.Run(AcceptLoop);
    }

    public ushort Port { get; }

    public uint LastServiceCode { get; private set; }

    /// <summary>DCCP-UDP on loopback; the DCCP port is the UDP port's number (what a stack with Port 0 expects).</summary>
    public static EchoServer StartUdp(uint service)
    {
        _ = service; // any service code is accepted; the one used is recorded
        var transport = new UdpEncapsulationTransport(NetAddress.Parse("127.0.0.1"));
        return new EchoServer(transport, transport.UdpPort);
    }

    public static EchoServer StartRaw(NetAddress address, ushort port) => new(new RawIpTransport(address), port);

    public Task WaitAcceptedAsync(TimeSpan timeout) => _accepted.Task.WaitAsync(timeout);

    public Task WaitClosedAsync(TimeSpan timeout) => _closed.Task.WaitAsync(timeout);

    public long EchoRefused;

    public string Describe()
    {
        lock (_connections)
        {
            return $"refused={EchoRefused} drops={_endpoint.Drops} " + string.Join("; ", _connections.Select(c => c.Stats.ToString()));
        }
    }

    /// <summary>Resets every accepted connection.</summary>
    public void AbortAll()
    {
        lock (_connections)
        {
            foreach (DccpConnection c in _connections)
            {
                c.Abort();
            }
        }
    }

    /// <summary>Vanishes without a word (kill -9): the socket closes first, so not even a Reset leaves.</summary>
    public async Task KillAsync()
    {
        _endpoint.Transport.Dispose();
        await DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }

        _endpoint.Dispose();
        _stop.Dispose();
    }

    private async Task AcceptLoop()
    {
        try
        {
            while (true)
            {
                DccpConnection c = await _listener.AcceptAsync(_stop.Token);
                LastServiceCode = c.ServiceCode;
                lock (_connections)
                {
                    _connections.Add(c);
                }

                _accepted.TrySetResult();
                _ = Task.Run(() => Echo(c));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private async Task Echo(DccpConnection c)
    {
        byte[] buffer = new byte[65536];
        try
        {
            while (true)
            {
                int n = await c.ReceiveAsync(buffer, _stop.Token);
                if (n < 0)
                {
                    _closed.TrySetResult();
                    return;
                }

                if (!c.TrySend(buffer.AsSpan(0, n)))
                {
                    Interlocked.Increment(ref EchoRefused);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or DccpException or ObjectDisposedException)
        {
        }
    }
}
