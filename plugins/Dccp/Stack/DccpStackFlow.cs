using System.Globalization;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Dccp.Core;
using VirtualStack.Plugins.Dccp.Endpoint;

namespace VirtualStack.Plugins.Dccp.Stack;

/// <summary>
/// One application UDP flow carried as one DCCP connection. <see cref="Send"/> (the host's pipeline thread) queues
/// the payload into the connection, which sends at once what CCID 2's window allows and keeps the rest (up to the
/// stack's SendQueue, then drops and counts); it never waits. What the far end sends back is handed to the flow's
/// <see cref="IReplySink"/> from the endpoint's thread, and a connection that ends while carrying the flow (reset,
/// dead peer) is reported with <see cref="IReplySink.Fault"/> so that the host opens a new one on the next packet.
/// </summary>
internal sealed class DccpStackFlow : IStackFlow, IMeasuredFlow, IDccpConnectionObserver
{
    private const PacketFlags NotCarried = PacketFlags.Fragment | PacketFlags.TransportMalformed;

    private readonly DccpStack _stack;
    private readonly IReplySink _replies;
    private readonly TaskCompletionSource<IStackFlow> _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _earlyGate = new();
    private readonly Queue<byte[]> _early = new(); // EarlyOpen: datagrams sent before the connection existed
    private DccpEndpoint _endpoint = null!; // set by Start, before _core is published
    private byte[] _receiveBuffer = [];
    private volatile DccpConnectionCore? _core;
    private CancellationTokenRegistration _cancellation;
    private volatile bool _disposed;
    private bool _closed; // under the endpoint's lock
    private bool _faulted;

    public DccpStackFlow(DccpStack stack, in FlowKey key, NetEndpoint remote, IReplySink replies)
    {
        _stack = stack;
        _replies = replies;
        Key = key;
        Remote = remote;
    }

    public FlowKey Key { get; }

    /// <summary>The far end: address and DCCP port.</summary>
    public NetEndpoint Remote { get; }

    public StackFlowStats Stats { get; } = new();

    /// <summary>The connection's state and counters (cwnd, RTT, losses), or null before the handshake started.</summary>
    public DccpConnectionStats? ConnectionStats
    {
        get
        {
            if (_core is null)
            {
                return null;
            }

            lock (_endpoint.Gate)
            {
                return _core?.GetStats();
            }
        }
    }

    /// <summary>The path as this connection's CCID 2 sees it: RTT, congestion window, and the loss ratio of our data.</summary>
    public bool TryMeasure(out MeasurementValues values)
    {
        DccpConnectionStats s;
        if (_core is null)
        {
            values = default;
            return false;
        }

        lock (_endpoint.Gate)
        {
            if (_core is not { State: DccpState.Open or DccpState.PartOpen } core)
            {
                values = default;
                return false;
            }

            s = core.GetStats();
        }

        values = new MeasurementValues(
            LossRatio: s.DataPacketsSent == 0 ? null : (double)s.DataPacketsLost / s.DataPacketsSent,
            RttMs: s.Rtt == TimeSpan.Zero ? null : s.Rtt.TotalMilliseconds,
            CongestionWindow: s.Cwnd);
        return true;
    }

    /// <summary>
    /// EarlyOpen: the flow is ready now, before its connection exists (<see cref="Start"/> follows off the pipeline
    /// thread); what it is sent meanwhile is held and handed to the connection when it is made.
    /// </summary>
    public IStackFlow OpenEarly()
    {
        if (_opened.TrySetResult(this))
        {
            Interlocked.Increment(ref _stack.Counters.ConnectionsOpened);
        }

        return this;
    }

    /// <summary>
    /// Makes the connection on <paramref name="endpoint"/> and starts the handshake (off the pipeline thread:
    /// <see cref="DccpStack.Open"/>); the task completes with this flow once the far end's Response arrived, or at
    /// once with EarlyOpen.
    /// </summary>
    public Task<IStackFlow> Start(DccpEndpoint endpoint, CancellationToken cancellationToken)
    {
        _receiveBuffer = new byte[endpoint.MaxDatagramSize];
        _endpoint = endpoint;
        lock (endpoint.Gate)
        {
            DccpConnectionCore core = endpoint.Demux.Connect(Remote.Address, Remote.Port, _stack.Settings.Service, endpoint.Now);
            core.Observer = this;
            lock (_earlyGate)
            {
                while (_early.TryDequeue(out byte[]? datagram))
                {
                    CountEarly(core.TrySend(datagram, endpoint.Now));
                }

                _core = core; // from now on Send goes straight to the connection, under the endpoint's lock
            }

            endpoint.Demux.Touch(core);
            if (_disposed && !_closed)
            {
                // EarlyOpen: the flow ended before its connection was made; it still leaves gracefully.
                _closed = true;
                core.Observer = null;
                core.Close(endpoint.Now);
                endpoint.Demux.Touch(core);
            }

            if (endpoint.Batching)
            {
                // The Request leaves now rather than at the endpoint thread's next round (up to 2 ms later).
                endpoint.FlushQueued();
            }
        }

        if (!_disposed)
        {
            _stack.Track(this, add: true);
        }

        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.Register(static state => ((DccpStackFlow)state!).Cancel(), this);
        }

        // Last: once the task completes the host may use (and dispose) the flow on its own thread.
        if (_stack.Settings.EarlyOpen && _opened.TrySetResult(this))
        {
            // EarlyOpen: the flow takes datagrams now; the connection queues them (up to SendQueue) until the
            // Response arrives. No make before break: a far end that never answers costs what was queued.
            Interlocked.Increment(ref _stack.Counters.ConnectionsOpened);
        }

        return _opened.Task;
    }

    /// <summary>EarlyOpen: the connection could not be made (no endpoint): the flow the host has is reported broken.</summary>
    public void FailEarly(Exception error)
    {
        lock (_earlyGate)
        {
            _early.Clear();
        }

        if (!_disposed && !_faulted)
        {
            _faulted = true;
            Interlocked.Increment(ref _stack.Counters.Faults);
            _replies.Fault($"DCCP connection to {Remote} could not be made: {error.GetBaseException().Message}");
        }
    }

    private void CountEarly(DccpSendStatus status)
    {
        // Counted as sent when held; a datagram the connection refuses now is counted again as an error.
        switch (status)
        {
            case DccpSendStatus.Queued:
                return;
            case DccpSendStatus.QueueFull:
                Interlocked.Increment(ref _stack.Counters.QueueFullDrops);
                break;
            case DccpSendStatus.TooBig:
                Interlocked.Increment(ref _stack.Counters.TooBigDrops);
                break;
            default:
                Interlocked.Increment(ref _stack.Counters.NotOpenDrops);
                break;
        }

        Interlocked.Increment(ref Stats.SendErrors);
    }

    /// <summary>EarlyOpen, before the connection exists: holds a copy (up to SendQueue). Null when the connection now exists.</summary>
    private DropReason? HoldEarly(ReadOnlySpan<byte> payload)
    {
        lock (_earlyGate)
        {
            if (_core is not null)
            {
                return null;
            }

            if (_early.Count >= _stack.Settings.SendQueue)
            {
                Interlocked.Increment(ref Stats.SendErrors);
                Interlocked.Increment(ref _stack.Counters.QueueFullDrops);
                return DropReason.StackError;
            }

            _early.Enqueue(payload.ToArray()); // only until the connection exists: the first moments of a flow
            Stats.PacketsSent++;
            Stats.BytesSent += payload.Length;
            return DropReason.None;
        }
    }

    /// <inheritdoc />
    public DropReason Send(ReadOnlySpan<byte> packet, in PacketInfo info)
    {
        if (_disposed)
        {
            return DropReason.ShuttingDown;
        }

        // A payload stack carries whole UDP payloads only: a fragment has none, a malformed header no trustworthy one.
        if (!info.HasTransport || (info.Flags & NotCarried) != 0 || info.Protocol != IpProtocols.Udp)
        {
            return DropReason.Unsupported;
        }

        int offset = info.PayloadOffset;
        int length = info.PayloadLength;
        if (offset + length > packet.Length)
        {
            return DropReason.BadLength;
        }

        DccpConnectionCore? core = _core;
        if (core is null && HoldEarly(packet.Slice(offset, length)) is { } held)
        {
            return held;
        }

        core ??= _core!;
        DccpSendStatus status;
        lock (_endpoint.Gate)
        {
            status = core.TrySend(packet.Slice(offset, length), _endpoint.Now);
            _endpoint.Demux.Touch(core);
        }

        switch (status)
        {
            case DccpSendStatus.Queued:
                Stats.PacketsSent++;
                Stats.BytesSent += length;
                return DropReason.None;
            case DccpSendStatus.QueueFull:
                // The window stayed closed while SendQueue datagrams piled up: drop rather than stall the pipeline.
                Stats.SendErrors++;
                Interlocked.Increment(ref _stack.Counters.QueueFullDrops);
                _stack.QueueFullReport.Note(1, 0);
                return DropReason.StackError;
            case DccpSendStatus.TooBig:
                Stats.SendErrors++;
                Interlocked.Increment(ref _stack.Counters.TooBigDrops);
                return DropReason.TooBig;
            default:
                Stats.SendErrors++;
                Interlocked.Increment(ref _stack.Counters.NotOpenDrops);
                return DropReason.StackNotReady;
        }
    }

    /// <summary>Closes the connection gracefully (what is queued is sent first); the flow ended.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _cancellation.Dispose();
        _stack.Track(this, add: false);
        lock (_earlyGate)
        {
            if (_core is null)
            {
                // EarlyOpen, connection not made yet: Start publishes it under this lock and then sees _disposed,
                // so it closes the connection when it is made.
                _early.Clear();
                return;
            }
        }

        lock (_endpoint.Gate)
        {
            if (_core is { } core && !_closed)
            {
                _closed = true;
                if (_opened.Task.IsCompletedSuccessfully)
                {
                    // One line per connection when its flow ends (never per packet): what CCID 2 saw on the path.
                    DccpConnectionStats s = core.GetStats();
                    _stack.Host.Log(StackLogLevel.Information, string.Create(CultureInfo.InvariantCulture,
                        $"stack {_stack.Name}: flow {Key} ends, DCCP connection to {Remote} {s.State}: datagrams queued {Stats.PacketsSent}, dropped {Stats.SendErrors}, "
                        + $"data sent {s.DataPacketsSent}, lost {s.DataPacketsLost}, replies {Stats.PacketsReceived}; cwnd {s.Cwnd}, rtt {s.Rtt.TotalMilliseconds:0.###} ms, "
                        + $"congestion events {s.CongestionEvents}, timeouts {s.Timeouts}, ack ratio {s.AckRatio}"));
                }

                core.Observer = null;
                core.Close(_endpoint.Now);
                _endpoint.Demux.Touch(core);
            }
        }

        _opened.TrySetException(new ObjectDisposedException(nameof(DccpStackFlow), "the flow ended before its DCCP connection opened"));
    }

    private void Cancel()
    {
        if (!_opened.Task.IsCompleted)
        {
            lock (_endpoint.Gate)
            {
                _core?.Abort(_endpoint.Now);
            }

            _opened.TrySetCanceled();
        }
    }

    // Observer calls come under the endpoint's lock, from the endpoint's thread or from a Send on the pipeline thread.

    void IDccpConnectionObserver.OnReadable()
    {
        DccpConnectionCore? core = _core;
        if (core is null)
        {
            return;
        }

        int n;
        while ((n = core.TryReceive(_receiveBuffer)) >= 0)
        {
            if (_disposed)
            {
                continue; // drain: nobody takes replies any more
            }

            n = Math.Min(n, _receiveBuffer.Length);
            Stats.PacketsReceived++;
            Stats.BytesReceived += n;
            Interlocked.Increment(ref _stack.Counters.Delivered);
            _replies.Deliver(_receiveBuffer.AsSpan(0, n));
        }
    }

    bool IDccpConnectionObserver.TryDeliver(ReadOnlySpan<byte> datagram)
    {
        if (_disposed)
        {
            return false; // queued, then drained and dropped by OnReadable: nobody takes replies any more
        }

        // Straight from the packet to the application's flow, without the receive queue's two copies.
        int n = Math.Min(datagram.Length, _receiveBuffer.Length);
        Stats.PacketsReceived++;
        Stats.BytesReceived += n;
        Interlocked.Increment(ref _stack.Counters.Delivered);
        _replies.Deliver(datagram[..n]);
        return true;
    }

    void IDccpConnectionObserver.OnWritable()
    {
        // Send never waits for room, so nobody is waiting to be told.
    }

    void IDccpConnectionObserver.OnStateChanged(DccpState state)
    {
        if (state is DccpState.PartOpen or DccpState.Open)
        {
            if (_opened.TrySetResult(this))
            {
                Interlocked.Increment(ref _stack.Counters.ConnectionsOpened);
            }

            return;
        }

        if (state is not (DccpState.Closed or DccpState.TimeWait))
        {
            return;
        }

        string reason = $"DCCP connection to {Remote} ended: {_core?.CloseReason ?? state.ToString()}";
        if (!_opened.Task.IsCompleted)
        {
            _stack.Track(this, add: false); // the host never gets this flow, so it is never disposed
            Interlocked.Increment(ref _stack.Counters.OpenFailures);
            _opened.TrySetException(new DccpException(reason, _core?.ResetCode));
            return;
        }

        if (!_disposed && !_faulted)
        {
            _faulted = true;
            Interlocked.Increment(ref _stack.Counters.Faults);
            _replies.Fault(reason);
        }
    }
}
