using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Dccp.Core;
using VirtualStack.Plugins.Dccp.Endpoint;
using VirtualStack.Plugins.Dccp.Transport;
using VirtualStack.Plugins.Shared.Diagnostics;

namespace VirtualStack.Plugins.Dccp.Stack;

/// <summary>
/// Carries each application UDP flow as one DCCP connection (RFC 4340, CCID 2) to the far end the rule's NAT
/// names. One <see cref="DccpEndpoint"/> per local address (one raw or DCCP-UDP socket, one protocol thread)
/// serves every flow leaving from that address; connections are told apart by their DCCP ports.
/// </summary>
internal sealed class DccpStack : ITransportStack
{
    private readonly IStackHost _host;
    private readonly DccpProtocolOptions _protocol;
    private readonly Lock _gate = new();
    private readonly Dictionary<NetAddress, DccpEndpoint> _endpoints = [];
    private DccpEndpoint[] _flushList = []; // copy-on-write: Flush walks it without a lock or an allocation
    private readonly HashSet<DccpStackFlow> _flows = [];
    private readonly Timer? _statsTimer;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private volatile bool _disposed;

    private readonly Func<NetEndpoint, NetAddress> _localFor;
    private readonly Func<NetAddress, IDccpTransport> _openTransport;

    public DccpStack(string name, DccpStackSettings settings, IStackHost host)
        : this(name, settings, host, localFor: null, openTransport: null)
    {
        // Run the real path once (a flow's Open, Send, Flush and replies, the endpoint's thread, sendmmsg/recvmmsg,
        // a connection's whole life) over a loopback pair now, on a background thread: the first real flow then
        // finds it compiled, and the pipeline thread never waits for the JIT (its first Send did, for ~45 ms).
        WarmUp = Task.Run(async () =>
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            bool done = await DccpStackWarmUp.Run(settings, host.SocketMark).ConfigureAwait(false);
            host.Log(StackLogLevel.Information, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"stack {name}: warm-up {(done ? "done" : "incomplete")} in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds:0.#} ms (a loopback flow, off the pipeline thread)"));
            return done;
        });
    }

    /// <summary>
    /// A stack whose endpoints come from <paramref name="openTransport"/> for the address <paramref name="localFor"/>
    /// chooses (both null: routing and the configured transport): the warm-up runs the real code on a loopback pair.
    /// </summary>
    internal DccpStack(string name, DccpStackSettings settings, IStackHost host,
        Func<NetEndpoint, NetAddress>? localFor, Func<NetAddress, IDccpTransport>? openTransport)
    {
        Name = name;
        Settings = settings;
        _host = host;
        QueueFullReport = new ErrorReport(host, $"datagrams dropped on stack {name}: a connection's send queue was full (CCID 2 window closed)");
        _protocol = new DccpProtocolOptions
        {
            // A tunnel must come back quickly after the far end restarts: short handshake retries, a bounded
            // handshake, and a dead peer detected in seconds (the host reopens a faulted flow on its next packet).
            RequestRetransmitTimeout = TimeSpan.FromMilliseconds(Math.Min(500, settings.ConnectTimeoutMs / 4)),
            ConnectTimeout = TimeSpan.FromMilliseconds(settings.ConnectTimeoutMs),
            DeadPeerTimeout = TimeSpan.FromMilliseconds(settings.DeadPeerMs),
            SendQueueCapacity = settings.SendQueue,
            CloseTimeout = TimeSpan.FromSeconds(5),
            TimeWait = TimeSpan.FromSeconds(10),
        };
        _localFor = localFor ?? (remote => Routing.SourceAddressFor(remote, host.SocketMark));
        _openTransport = openTransport ?? (local => settings.Transport == DccpTransportKind.Udp
            ? new UdpEncapsulationTransport(local, 0, settings.Mtu, host.SocketMark, settings.Port)
            : new RawIpTransport(local, settings.Mtu, host.SocketMark));
        if (settings.StatsLogMs > 0)
        {
            _statsTimer = new Timer(_ => LogStats(), null, settings.StatsLogMs, settings.StatsLogMs);
        }
    }

    /// <summary>Flows whose connection is open or opening (for the stats log).</summary>
    internal void Track(DccpStackFlow flow, bool add)
    {
        lock (_flows)
        {
            if (add)
            {
                _flows.Add(flow);
            }
            else
            {
                _flows.Remove(flow);
            }
        }
    }

    /// <summary>StatsLogMs: one line per connection with its CCID 2 state (a timer thread, never the packet path).</summary>
    private void LogStats()
    {
        DccpStackFlow[] flows;
        lock (_flows)
        {
            flows = [.. _flows];
        }

        double t = _clock.Elapsed.TotalSeconds;
        long unixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(); // lines up with other processes' clocks (vs bench)
        foreach (DccpStackFlow flow in flows)
        {
            if (flow.ConnectionStats is { } s)
            {
                _host.Log(StackLogLevel.Information, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"stack {Name}: t={t:0.000}s unix_ms={unixMs} {flow.Remote} cwnd={s.Cwnd} ssthresh={(s.Ssthresh == int.MaxValue ? "-" : s.Ssthresh.ToString(System.Globalization.CultureInfo.InvariantCulture))} pipe={s.Pipe} rtt={s.Rtt.TotalMilliseconds:0.###}ms "
                    + $"sent={s.DataPacketsSent} lost={s.DataPacketsLost} events={s.CongestionEvents} queue-full-drops={flow.Stats.SendErrors} timeouts={s.Timeouts}"));
            }
        }
    }

    public string Name { get; }

    public DccpStackSettings Settings { get; }

    public StackCarries Carries => StackCarries.Payload;

    public DccpStackCounters Counters { get; } = new();

    public ErrorReport QueueFullReport { get; }

    public IStackHost Host => _host;

    /// <summary>The start-up warm-up: true when its loopback flow opened, carried data both ways and closed.</summary>
    internal Task<bool> WarmUp { get; } = Task.FromResult(false);

    public bool IsDisposed => _disposed;

    /// <summary>Endpoints (local addresses) in use.</summary>
    public int EndpointCount
    {
        get
        {
            lock (_gate)
            {
                return _endpoints.Count;
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Never works on the calling thread (the host's pipeline thread, which carries every other flow): finding or
    /// creating the endpoint (a socket and a thread, the first time) and starting the handshake run on a thread-pool
    /// thread; only the arguments are checked here.
    /// </remarks>
    public ValueTask<IStackFlow> Open(FlowKey flow, NetEndpoint remote, IReplySink replies, CancellationToken cancellationToken)
    {
        try
        {
            ArgumentNullException.ThrowIfNull(replies);
            ObjectDisposedException.ThrowIf(_disposed, this);
            cancellationToken.ThrowIfCancellationRequested();
            if (remote.Port == 0)
            {
                throw new ArgumentException($"stack {Name}: the far end {remote} has no DCCP port (set the rule's Nat for this stack)", nameof(remote));
            }
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref Counters.OpenFailures);
            return ValueTask.FromException<IStackFlow>(e);
        }

        var stackFlow = new DccpStackFlow(this, flow, remote, replies);
        if (Settings.EarlyOpen)
        {
            // Ready now (the packet that asked for it rides it): what it is sent is held until the connection is
            // made, off this thread like every other Open.
            _ = Task.Run(() => StartOffThread(stackFlow, remote, cancellationToken), CancellationToken.None);
            return new ValueTask<IStackFlow>(stackFlow.OpenEarly());
        }

        // Task.Run queues to the thread pool whatever the caller's synchronization context (the pipeline's loop).
        return new ValueTask<IStackFlow>(Task.Run(() => StartOffThread(stackFlow, remote, cancellationToken), CancellationToken.None));
    }

    private Task<IStackFlow> StartOffThread(DccpStackFlow stackFlow, NetEndpoint remote, CancellationToken cancellationToken)
    {
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            return stackFlow.Start(EndpointFor(remote), cancellationToken);
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref Counters.OpenFailures);
            if (Settings.EarlyOpen)
            {
                stackFlow.FailEarly(e); // the host has the flow already: it learns through a fault
            }

            return Task.FromException<IStackFlow>(e);
        }
    }

    /// <inheritdoc />
    public void Flush()
    {
        // Send queued each datagram into its connection, which built what CCID 2's window allows into the
        // transport's batch: one sendmmsg per endpoint now. The rest leaves as acknowledgements open the window,
        // from the endpoint's thread (which flushes at the end of each of its rounds).
        foreach (DccpEndpoint endpoint in Volatile.Read(ref _flushList))
        {
            lock (endpoint.Gate)
            {
                endpoint.FlushQueued();
            }
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _statsTimer?.Dispose();
        DccpEndpoint[] endpoints;
        lock (_gate)
        {
            _disposed = true;
            endpoints = [.. _endpoints.Values];
            _endpoints.Clear();
            Volatile.Write(ref _flushList, []);
        }

        foreach (DccpEndpoint endpoint in endpoints)
        {
            endpoint.Dispose(); // aborts what is still open (Reset), stops the thread, closes the socket
        }

        return ValueTask.CompletedTask;
    }

    private DccpEndpoint EndpointFor(NetEndpoint remote)
    {
        NetAddress local = _localFor(remote);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_endpoints.TryGetValue(local, out DccpEndpoint? endpoint))
            {
                return endpoint;
            }

            IDccpTransport transport = _openTransport(local);
            endpoint = new DccpEndpoint(transport, _protocol);
            lock (endpoint.Gate)
            {
                endpoint.Batching = true;
            }

            _endpoints.Add(local, endpoint);
            Volatile.Write(ref _flushList, [.. _endpoints.Values]);
            _host.Log(StackLogLevel.Information, $"stack {Name}: DCCP endpoint on {local} ({(Settings.Transport == DccpTransportKind.Udp ? "DCCP-UDP" : "raw IP protocol 33")}, MTU {Settings.Mtu})");
            return endpoint;
        }
    }
}
