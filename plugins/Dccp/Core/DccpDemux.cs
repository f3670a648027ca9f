using System.Security.Cryptography;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Protocol;

namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>
/// The packet-facing half of an endpoint (RFC 4340 §8.5 Steps 1-3): checks each arriving packet's header and
/// checksum, finds its connection by port pair, answers packets for unknown connections with Reset(No
/// Connection), creates server connections for Requests to listening ports (bounded half-open state), and runs
/// every connection's timers from one queue. Sans-IO and single-threaded: the owner serializes all calls and
/// supplies the time (microseconds).
/// </summary>
internal sealed class DccpDemux
{
    private readonly Dictionary<ConnectionKey, DccpConnectionCore> _connections = [];
    private readonly Dictionary<ushort, DccpListenerEntry> _listeners = [];
    private readonly PriorityQueue<DccpConnectionCore, long> _timers = new();
    private readonly Func<ulong> _issSource;
    private readonly Random _random;
    private long _resetWindowStart;
    private int _resetsInWindow;

    public DccpDemux(IDccpPacketOutput output, NetAddress localAddress, int maxPacketSize, DccpProtocolOptions? options = null,
        Func<ulong>? issSource = null, Random? random = null, bool transportChecksums = false)
    {
        Context = new DccpCoreContext(output, localAddress, maxPacketSize, options ?? DccpProtocolOptions.Default, transportChecksums);
        _issSource = issSource ?? RandomIss;
        _random = random ?? Random.Shared;
    }

    public DccpCoreContext Context { get; }

    /// <summary>Drops of the whole endpoint, by reason (connections count theirs here too).</summary>
    public DccpDropCounters Drops => Context.Drops;

    /// <summary>Packets that arrived and passed Step 1.</summary>
    public long PacketsAccepted { get; private set; }

    public int ConnectionCount => _connections.Count;

    /// <summary>When <see cref="OnTimer"/> should next run, or <see cref="long.MaxValue"/>.</summary>
    public long NextDeadline => _timers.TryPeek(out _, out long at) ? at : long.MaxValue;

    public IEnumerable<DccpConnectionCore> Connections => _connections.Values;

    // ------------------------------------------------------------------- API --

    /// <summary>Opens a client connection (§8.1.1) from <paramref name="localPort"/> (0 picks an ephemeral port).</summary>
    public DccpConnectionCore Connect(NetAddress remote, ushort remotePort, uint serviceCode, long now, ushort localPort = 0)
    {
        if (localPort == 0)
        {
            localPort = PickEphemeralPort(remote, remotePort);
        }

        var key = new ConnectionKey(remote, remotePort, localPort);
        if (_connections.ContainsKey(key))
        {
            throw new InvalidOperationException($"a connection from port {localPort} to {remote}:{remotePort} already exists");
        }

        var core = new DccpConnectionCore(Context, isServer: false, remote, localPort, remotePort, serviceCode, _issSource());
        _connections.Add(key, core);
        core.Connect(now);
        Touch(core);
        return core;
    }

    /// <summary>Starts listening on <paramref name="port"/> for Requests with one of <paramref name="serviceCodes"/> (empty: any).</summary>
    public void Listen(ushort port, uint[] serviceCodes, IDccpAcceptSink sink)
    {
        if (!_listeners.TryAdd(port, new DccpListenerEntry(port, serviceCodes, sink)))
        {
            throw new InvalidOperationException($"port {port} already has a listener");
        }
    }

    public void Unlisten(ushort port) => _listeners.Remove(port);

    public bool IsListening(ushort port) => _listeners.ContainsKey(port);

    /// <summary>
    /// Processes one received DCCP packet (the IP layer's addresses given for the pseudo-header checksum).
    /// Never throws on hostile input; every discarded packet is counted by reason.
    /// </summary>
    public void OnDatagram(ReadOnlySpan<byte> bytes, NetAddress source, NetAddress destination, long now)
    {
        // Step 1: check header validity (§5, §9).
        DccpParseResult result = DccpPacket.TryParse(bytes, out DccpPacket packet);
        if (result != DccpParseResult.Ok && result != DccpParseResult.MalformedOptions)
        {
            Drops.Increment(result switch
            {
                DccpParseResult.ReservedType => DccpDropReason.ReservedType,
                DccpParseResult.ShortSequenceNotAllowed => DccpDropReason.ShortSequenceNumber,
                DccpParseResult.BadDataOffset => DccpDropReason.BadDataOffset,
                DccpParseResult.BadChecksumCoverage => DccpDropReason.BadChecksumCoverage,
                _ => DccpDropReason.Truncated,
            });
            return;
        }

        if (!Context.TransportChecksums && !DccpChecksum.Verify(bytes, source, destination))
        {
            Drops.Increment(DccpDropReason.BadChecksum); // dropped silently, never answered (§9.1)
            return;
        }

        var key = new ConnectionKey(source, packet.SourcePort, packet.DestinationPort);
        _connections.TryGetValue(key, out DccpConnectionCore? core);
        if (result == DccpParseResult.MalformedOptions)
        {
            // An option running past Data Offset: Reset(Option Error) for a live connection (§5.8), else drop.
            Drops.Increment(DccpDropReason.BadOption);
            return;
        }

        PacketsAccepted++;

        // Step 2: check ports and process TIMEWAIT state.
        if (core is not null && core.State == DccpState.TimeWait)
        {
            Drops.Increment(DccpDropReason.TimeWait);
            SendNoConnectionReset(packet, source, now);
            return;
        }

        if (core is not null && core.State != DccpState.Closed)
        {
            // Minimum Checksum Coverage (§9.2.1): partial coverage below our minimum is dropped.
            ulong minCov = core.Features.Local(DccpFeature.MinimumChecksumCoverage);
            if (minCov > 0 && (packet.CsCov == 0 ? 16u : packet.CsCov) < minCov)
            {
                Drops.Increment(DccpDropReason.BadChecksumCoverage);
                return;
            }

            core.OnPacket(packet, now);
            Touch(core);
            return;
        }

        // Step 3: process LISTEN state.
        if (packet.Type == DccpPacketType.Request && _listeners.TryGetValue(packet.DestinationPort, out DccpListenerEntry? listener))
        {
            AcceptRequest(listener, key, packet, source, now);
            return;
        }

        Drops.Increment(DccpDropReason.NoConnection);
        SendNoConnectionReset(packet, source, now);
    }

    /// <summary>Runs the timers that are due.</summary>
    public void OnTimer(long now)
    {
        while (_timers.TryPeek(out DccpConnectionCore? core, out long at) && at <= now)
        {
            _timers.Dequeue();
            if (core.ScheduledAt != at)
            {
                continue; // superseded by a later schedule
            }

            core.ScheduledAt = long.MaxValue;
            if (core.State == DccpState.Closed)
            {
                continue;
            }

            if (core.NextDeadline <= now)
            {
                core.OnTimer(now);
            }

            Touch(core);
        }
    }

    /// <summary>
    /// Bookkeeping after anything happened to a connection: announces server connections that reached OPEN,
    /// forgets closed ones, and (re)schedules its timer.
    /// </summary>
    public void Touch(DccpConnectionCore core)
    {
        if (core.Listener is { } listener && core.State != DccpState.Respond)
        {
            core.Listener = null;
            listener.HalfOpen--;
            if (core.State >= DccpState.Open && core.State != DccpState.TimeWait)
            {
                listener.Sink.OnOpen(core);
            }
        }

        if (core.State == DccpState.Closed)
        {
            var key = new ConnectionKey(core.RemoteAddress, core.RemotePort, core.LocalPort);
            if (_connections.TryGetValue(key, out DccpConnectionCore? current) && ReferenceEquals(current, core))
            {
                _connections.Remove(key);
            }

            return;
        }

        long deadline = core.NextDeadline;
        if (deadline < core.ScheduledAt)
        {
            core.ScheduledAt = deadline;
            _timers.Enqueue(core, deadline);
        }
    }

    // ------------------------------------------------------------- internals --

    private void AcceptRequest(DccpListenerEntry listener, ConnectionKey key, in DccpPacket request, NetAddress source, long now)
    {
        if (!listener.Accepts(request.ServiceCode))
        {
            Drops.Increment(DccpDropReason.BadServiceCode);
            SendReset(request, source, DccpResetCode.BadServiceCode, now); // §8.1.2
            return;
        }

        if (listener.HalfOpen >= Context.Options.MaxHalfOpen || !listener.Sink.CanAccept)
        {
            // A Request flood cannot grow half-open state past its bound (§8.1.3 suggests Init Cookies or Too Busy).
            Drops.Increment(DccpDropReason.ListenerBusy);
            SendReset(request, source, DccpResetCode.TooBusy, now);
            return;
        }

        if (_connections.TryGetValue(key, out DccpConnectionCore? stale) && stale.State == DccpState.Closed)
        {
            _connections.Remove(key);
        }

        var core = new DccpConnectionCore(Context, isServer: true, source, request.DestinationPort, request.SourcePort, request.ServiceCode, _issSource());
        if (!core.AcceptRequest(request, now))
        {
            core.Release();
            return;
        }

        core.Listener = listener;
        listener.HalfOpen++;
        _connections[key] = core;
        Touch(core);
    }

    private void SendNoConnectionReset(in DccpPacket packet, NetAddress source, long now)
    {
        if (packet.Type != DccpPacketType.Reset)
        {
            SendReset(packet, source, DccpResetCode.NoConnection, now); // never answer a Reset with a Reset
        }
    }

    /// <summary>
    /// A Reset for a packet that has no connection (§8.3.1): Sequence Number = P.ackno + 1 (0 when P has none),
    /// Acknowledgement Number = P.seqno. Rate limited, so scans and floods cannot turn us into an amplifier.
    /// </summary>
    private void SendReset(in DccpPacket packet, NetAddress source, DccpResetCode code, long now)
    {
        if (now - _resetWindowStart >= 1_000_000)
        {
            _resetWindowStart = now;
            _resetsInWindow = 0;
        }

        if (++_resetsInWindow > Context.Options.ResetsPerSecond)
        {
            Drops.Increment(DccpDropReason.ResetRateLimited);
            return;
        }

        var header = new DccpHeader
        {
            SourcePort = packet.DestinationPort,
            DestinationPort = packet.SourcePort,
            Type = DccpPacketType.Reset,
            SequenceNumber = packet.HasAck ? SequenceNumber.Add(packet.AcknowledgementNumber, 1) : 0,
            AcknowledgementNumber = packet.SequenceNumber,
            ResetCode = code,
        };
        var w = new DccpPacketWriter(Context.Scratch);
        w.WriteHeader(header);
        int length = Context.Finish(ref w, [], source);
        Context.Output.Send(Context.Scratch.AsSpan(0, length), source);
    }

    private ushort PickEphemeralPort(NetAddress remote, ushort remotePort)
    {
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            ushort port = (ushort)_random.Next(49152, 65536);
            if (!_listeners.ContainsKey(port) && !_connections.ContainsKey(new ConnectionKey(remote, remotePort, port)))
            {
                return port;
            }
        }

        throw new InvalidOperationException("no free local DCCP port");
    }

    private static ulong RandomIss()
    {
        // §7.2: the initial sequence number should be unpredictable.
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return BitConverter.ToUInt64(bytes) & SequenceNumber.Mask;
    }

    private readonly record struct ConnectionKey(NetAddress Remote, ushort RemotePort, ushort LocalPort);
}
