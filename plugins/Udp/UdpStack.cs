using System.Globalization;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Shared.Diagnostics;
using VirtualStack.Plugins.Shared.Native;

namespace VirtualStack.Plugins.Udp;

/// <summary>
/// Carries each flow's UDP payloads over kernel UDP sockets. Flows share unconnected sockets: a flow goes on the
/// first socket of its address family that has no flow to the same far end yet, so the number of sockets grows
/// with the number of flows per far end, not with the number of flows (design.md §3).
/// </summary>
internal sealed unsafe class UdpStack : ITransportStack
{
    private readonly IStackHost _host;
    private readonly int _bufferBytes;
    private readonly int _sendBatch;
    private readonly int _sendSegments;
    private readonly ErrorReport _sendErrors;
    private readonly UdpReceiver _receiver;

    // Guards the socket lists and each socket's flow table and count: Open, Flush and Send come from the pipeline
    // thread, but a flow may be disposed from elsewhere. Send never takes it.
    private readonly Lock _gate = new();
    private readonly List<UdpSocket> _v4 = [];
    private readonly List<UdpSocket> _v6 = [];

    // Sockets with messages queued since the last flush: a flush visits only these, not every socket.
    private UdpSocket[] _dirty = new UdpSocket[16];
    private int _dirtyCount;
    private volatile bool _idleSockets;
    private volatile bool _disposed;

    public UdpStack(string name, int bufferBytes, int sendBatch, int receiveBatch, int sendSegments, IStackHost host)
    {
        Name = name;
        _host = host;
        _bufferBytes = bufferBytes;
        _sendBatch = sendBatch;
        _sendSegments = sendSegments;
        _sendErrors = new ErrorReport(host, "datagrams refused by the kernel");
        _receiver = new UdpReceiver(name, receiveBatch, Counters, host);
    }

    public string Name { get; }

    public StackCarries Carries => StackCarries.Payload;

    public UdpStackCounters Counters { get; } = new();

    /// <summary>The interface every socket of the stack is bound to (option <c>Device</c>), or null.</summary>
    public string? Device { get; init; }

    public bool IsDisposed => _disposed;

    /// <summary>True while the receive thread runs.</summary>
    public bool IsReceiving => _receiver.IsRunning;

    /// <summary>Sockets of one family currently in use.</summary>
    public int SocketCount(bool v6)
    {
        lock (_gate)
        {
            return (v6 ? _v6 : _v4).Count;
        }
    }

    /// <inheritdoc />
    public ValueTask<IStackFlow> Open(FlowKey flow, NetEndpoint remote, IReplySink replies, CancellationToken cancellationToken)
    {
        try
        {
            ArgumentNullException.ThrowIfNull(replies);
            ObjectDisposedException.ThrowIf(_disposed, this);
            cancellationToken.ThrowIfCancellationRequested();
            return ValueTask.FromResult<IStackFlow>(OpenFlow(flow, remote, replies));
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref Counters.OpenFailures);
            return ValueTask.FromException<IStackFlow>(e);
        }
    }

    /// <inheritdoc />
    public void Flush()
    {
        if (_disposed)
        {
            return;
        }

        for (int i = 0; i < _dirtyCount; i++)
        {
            UdpSocket socket = _dirty[i];
            _dirty[i] = null!;
            socket.Dirty = false;
            SendPending(socket);
        }

        _dirtyCount = 0;
        if (_idleSockets)
        {
            RetireIdleSockets();
        }
    }

    /// <summary>Queues a payload of <paramref name="flow"/> on its socket. Pipeline thread; allocation-free.</summary>
    public void Enqueue(UdpFlow flow, byte* payload, int length)
    {
        UdpSocket socket = flow.Socket;
        if (socket.Pending.IsFull)
        {
            // More packets for one socket than a sendmmsg carries: send what is there (the memory is still valid).
            SendPending(socket);
        }

        if (!socket.Dirty)
        {
            socket.Dirty = true;
            if (_dirtyCount == _dirty.Length)
            {
                // Only when more sockets than ever before are busy in one batch.
                Array.Resize(ref _dirty, _dirty.Length * 2);
            }

            _dirty[_dirtyCount++] = socket;
        }

        socket.Pending.Add(payload, length, flow.Remote.Address, flow.Remote.Port, flow.Stats);
    }

    /// <summary>Takes a disposed flow off its socket. Any thread.</summary>
    public void Close(UdpFlow flow)
    {
        lock (_gate)
        {
            flow.Socket.Detach(flow);
            if (flow.Socket.FlowCount == 0)
            {
                _idleSockets = true;
            }
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return ValueTask.CompletedTask;
        }

        _disposed = true;
        _receiver.Stop();
        lock (_gate)
        {
            _v4.Clear();
            _v6.Clear();
        }

        _receiver.Dispose();
        return ValueTask.CompletedTask;
    }

    private UdpFlow OpenFlow(in FlowKey key, NetEndpoint remote, IReplySink replies)
    {
        lock (_gate)
        {
            bool v6 = !remote.Address.IsV4;
            List<UdpSocket> sockets = v6 ? _v6 : _v4;
            UdpSocket? socket = null;
            foreach (UdpSocket candidate in sockets)
            {
                if (!candidate.Carries(remote))
                {
                    socket = candidate;
                    break;
                }
            }

            socket ??= AddSocket(sockets, v6, key, remote);
            var flow = new UdpFlow(this, socket, key, remote, replies);
            socket.Attach(flow);
            return flow;
        }
    }

    private UdpSocket AddSocket(List<UdpSocket> sockets, bool v6, in FlowKey key, NetEndpoint remote)
    {
        string what = string.Create(CultureInfo.InvariantCulture, $"{(v6 ? "AF_INET6" : "AF_INET")}, SOCK_DGRAM for stack '{Name}'");
        int fd;
        try
        {
            fd = NativeSocket.Open(v6 ? Linux.AfInet6 : Linux.AfInet, Linux.SockDgram, Linux.IpProtoUdp, _host.SocketMark, _bufferBytes, what);
        }
        catch (NativeCallException e) when (Errno.IsOutOfDescriptors(e.ErrorNumber))
        {
            // Say which flow was refused and why a new socket was needed at all.
            throw new IOException(string.Create(CultureInfo.InvariantCulture,
                $"Udp stack '{Name}' cannot open flow {key}: all {sockets.Count} {(v6 ? "IPv6" : "IPv4")} sockets already carry a flow to {remote}, and a new socket cannot be opened: {e.Message}"), e);
        }

        UdpSocket? socket = null;
        try
        {
            if (Device is { } device)
            {
                UdpDevice.Bind(fd, device, what);
            }

            NativeSocket.BindAnyPort(fd, v6, what);
            socket = new UdpSocket(fd, v6, NativeSocket.LocalPort(fd), _sendBatch, _sendSegments);
            _receiver.Add(socket);
        }
        catch
        {
            socket?.Pending.Dispose();
            LibC.Close(fd);
            throw;
        }

        sockets.Add(socket);
        Counters.SocketsOpened++;
        return socket;
    }

    private void SendPending(UdpSocket socket)
    {
        if (socket.Pending.Count == 0)
        {
            return;
        }

        SendOutcome outcome = socket.Pending.Send(socket.Fd);
        Counters.DatagramsSent += outcome.Sent;
        Counters.JoinedSends += outcome.Joined;
        if (outcome.Failed > 0)
        {
            Counters.SendErrors += outcome.Failed;
            _sendErrors.Note(outcome.Failed, outcome.LastErrno);
        }
    }

    // Closes sockets no flow uses any more, except the first of each family, which stays for the next flows.
    private void RetireIdleSockets()
    {
        lock (_gate)
        {
            _idleSockets = false;
            Retire(_v4);
            Retire(_v6);
        }
    }

    private void Retire(List<UdpSocket> sockets)
    {
        for (int i = sockets.Count - 1; i >= 1; i--)
        {
            UdpSocket socket = sockets[i];
            if (socket.FlowCount == 0 && !socket.Dirty)
            {
                sockets.RemoveAt(i);
                _receiver.Retire(socket);
            }
        }
    }
}
