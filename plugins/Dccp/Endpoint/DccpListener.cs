using VirtualStack.Plugins.Dccp.Core;

namespace VirtualStack.Plugins.Dccp.Endpoint;

/// <summary>A listening DCCP port: hands out connections whose handshake completed.</summary>
public sealed class DccpListener : IDisposable, IDccpAcceptSink
{
    private readonly DccpEndpoint _endpoint;
    private readonly Queue<DccpConnection> _ready = new();
    private readonly AsyncSignal _signal = new();
    private bool _disposed;

    internal DccpListener(DccpEndpoint endpoint, ushort port)
    {
        _endpoint = endpoint;
        Port = port;
    }

    /// <summary>The listening port.</summary>
    public ushort Port { get; }

    bool IDccpAcceptSink.CanAccept => !_disposed && _ready.Count < _endpoint.Demux.Context.Options.AcceptBacklog;

    /// <summary>Waits for the next connection that reached OPEN.</summary>
    public async Task<DccpConnection> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Task wait = _signal.WaitAsync(cancellationToken);
            lock (_endpoint.Gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_ready.TryDequeue(out DccpConnection? connection))
                {
                    return connection;
                }
            }

            await wait.ConfigureAwait(false);
        }
    }

    /// <summary>Stops listening; connections already accepted carry on.</summary>
    public void Dispose()
    {
        lock (_endpoint.Gate)
        {
            _disposed = true;
        }

        _endpoint.Unlisten(Port);
        _signal.Set();
    }

    void IDccpAcceptSink.OnOpen(DccpConnectionCore connection)
    {
        // Called under the endpoint lock by the engine thread.
        _ready.Enqueue(new DccpConnection(_endpoint, connection));
        _signal.Set();
    }
}
