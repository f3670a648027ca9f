using System.Diagnostics;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Core;
using VirtualStack.Plugins.Dccp.Transport;

namespace VirtualStack.Plugins.Dccp.Endpoint;

/// <summary>
/// A DCCP endpoint (RFC 4340 with CCID 2) over one <see cref="IDccpTransport"/>: opens connections, listens for
/// them, and runs the protocol on one dedicated thread (receive, timers). Every protocol step happens under one
/// lock, so application threads and the engine thread never see a connection half-updated.
/// </summary>
/// <example>
/// <code>
/// using var endpoint = new DccpEndpoint(new RawIpTransport(NetAddress.Parse("10.254.0.1")));
/// await using DccpConnection c = await endpoint.ConnectAsync(NetEndpoint.Parse..., serviceCode: 0);
/// await c.SendAsync("hello"u8.ToArray());
/// await c.CloseAsync();
/// </code>
/// </example>
public sealed class DccpEndpoint : IDisposable
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(2);

    private readonly IDccpTransport _transport;
    private readonly bool _ownsTransport;
    private readonly Thread _thread;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private volatile bool _stopping;
    private int _engineThreadId = -1;

    /// <summary>Starts an endpoint on <paramref name="transport"/> (disposed with the endpoint when <paramref name="ownsTransport"/>).</summary>
    public DccpEndpoint(IDccpTransport transport, DccpProtocolOptions? options = null, bool ownsTransport = true)
    {
        ArgumentNullException.ThrowIfNull(transport);
        _transport = transport;
        _ownsTransport = ownsTransport;
        Demux = new DccpDemux(new TransportOutput(this, transport), transport.LocalAddress, transport.MaxPacketSize, options,
            transportChecksums: transport.ProvidesChecksum);
        _thread = new Thread(Run) { IsBackground = true, Name = "dccp-endpoint" };
        _thread.Start();
    }

    /// <summary>The transport the endpoint runs on.</summary>
    public IDccpTransport Transport => _transport;

    /// <summary>The transport's local address.</summary>
    public NetAddress LocalAddress => _transport.LocalAddress;

    /// <summary>Drops of every connection and of packets no connection took, by reason.</summary>
    public DccpDropCounters Drops => Demux.Drops;

    /// <summary>Largest datagram a connection of this endpoint can send.</summary>
    public int MaxDatagramSize => Demux.Context.MaxPayload;

    internal Lock Gate { get; } = new();

    /// <summary>
    /// When set (under <see cref="Gate"/>), packets are queued in the transport and leave in sendmmsg batches: at the
    /// end of every round of the endpoint's thread, on <see cref="FlushQueued"/>, or when a batch is full. For a
    /// caller that sends many datagrams in a row and flushes once (the Dccp stack's Send/Flush).
    /// </summary>
    internal bool Batching { get; set; }

    /// <summary>
    /// Called on the endpoint's thread, under <see cref="Gate"/>, at the end of every round (after the packets that
    /// were waiting and the timers), just before what the round queued leaves: a relay flushes its own batch here.
    /// </summary>
    internal Action? RoundEnded { get; set; }

    /// <summary>Sends what was queued while <see cref="Batching"/>. Call under <see cref="Gate"/>.</summary>
    internal void FlushQueued() => _transport.FlushQueued();

    internal DccpDemux Demux { get; }

    /// <summary>Microseconds since the endpoint started: the protocol core's clock.</summary>
    internal long Now => (long)_clock.Elapsed.TotalMicroseconds;

    /// <summary>
    /// Opens a connection to <paramref name="remote"/> (address and DCCP port) with <paramref name="serviceCode"/>
    /// (RFC 4340 §8.1.2). Completes once the server's Response arrived (PARTOPEN, data may flow); throws
    /// <see cref="DccpException"/> when refused (Reset) or unanswered.
    /// </summary>
    public async Task<DccpConnection> ConnectAsync(NetEndpoint remote, uint serviceCode = 0, CancellationToken cancellationToken = default)
    {
        DccpConnection connection;
        lock (Gate)
        {
            DccpConnectionCore core = Demux.Connect(remote.Address, remote.Port, serviceCode, Now, _transport.BoundPort ?? 0);
            connection = new DccpConnection(this, core);
            Demux.Touch(core);
        }

        try
        {
            await connection.WaitForStateAsync(static s => s is not DccpState.Request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            connection.Abort();
            throw;
        }

        DccpState state = connection.State;
        if (state is DccpState.PartOpen or DccpState.Open)
        {
            return connection;
        }

        throw new DccpException($"connection to {remote} failed: {connection.CloseReason}", connection.ResetCode);
    }

    /// <summary>Listens on <paramref name="port"/> for Requests carrying one of <paramref name="serviceCodes"/> (none: any).</summary>
    public DccpListener Listen(ushort port, params uint[] serviceCodes)
    {
        ArgumentNullException.ThrowIfNull(serviceCodes);
        if (_transport.BoundPort is { } bound && bound != port)
        {
            throw new ArgumentException($"this transport serves DCCP port {bound} only", nameof(port));
        }

        var listener = new DccpListener(this, port);
        lock (Gate)
        {
            Demux.Listen(port, serviceCodes, listener);
        }

        return listener;
    }

    internal void Unlisten(ushort port)
    {
        lock (Gate)
        {
            Demux.Unlisten(port);
        }
    }

    /// <summary>Stops the engine thread and closes the transport (connections are abandoned: close them first).</summary>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _thread.Join(TimeSpan.FromSeconds(2));
        lock (Gate)
        {
            foreach (DccpConnectionCore core in Demux.Connections.ToArray())
            {
                core.Abort(Now);
                core.Release();
            }

            _transport.FlushQueued(); // the Resets, when batching
        }

        if (_ownsTransport)
        {
            _transport.Dispose();
        }
    }

    private void Run()
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(65536, pinned: true);
        Volatile.Write(ref _engineThreadId, Environment.CurrentManagedThreadId);
        while (!_stopping)
        {
            TimeSpan wait;
            lock (Gate)
            {
                long next = Demux.NextDeadline;
                long now = Now;
                wait = next <= now ? TimeSpan.Zero : TimeSpan.FromMicroseconds(Math.Min(next - now, (long)MaxWait.TotalMicroseconds));
            }

            int n = _transport.Receive(buffer, out NetAddress source, out NetAddress destination, wait);
            if (n < 0)
            {
                break;
            }

            lock (Gate)
            {
                long now = Now;
                if (n > 0)
                {
                    Demux.OnDatagram(buffer.AsSpan(0, n), source, destination, now);
                    // Take whatever else is already waiting before running timers (one lock, fewer wake-ups).
                    for (int i = 0; i < 63; i++)
                    {
                        n = _transport.Receive(buffer, out source, out destination, TimeSpan.Zero);
                        if (n <= 0)
                        {
                            break;
                        }

                        Demux.OnDatagram(buffer.AsSpan(0, n), source, destination, now);
                    }
                }

                Demux.OnTimer(now);
                RoundEnded?.Invoke();
                // What this round built (acknowledgements of the packets just read, data the acks let out, timer
                // output) leaves in one sendmmsg rather than one send each.
                _transport.FlushQueued();
            }
        }
    }

    private sealed class TransportOutput(DccpEndpoint endpoint, IDccpTransport transport) : IDccpPacketOutput
    {
        public void Send(ReadOnlySpan<byte> packet, NetAddress destination)
        {
            // The endpoint's own thread always queues: it flushes at the end of its round, a few microseconds later.
            // Another thread (an application's TrySend) sends at once unless its caller flushes (Batching).
            if (endpoint.Batching || Environment.CurrentManagedThreadId == Volatile.Read(ref endpoint._engineThreadId))
            {
                transport.Queue(packet, destination);
            }
            else
            {
                transport.Send(packet, destination);
            }
        }
    }
}
