using System.Buffers.Binary;
using System.Diagnostics;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Host.Multipath;

/// <summary>
/// One path of one multipath flow: its stack flow (to the path's far end), its health and counters, and the sink
/// its stack delivers replies to, which notes the reply for the path's health and round-trip time and hands it on
/// to the flow, so a reply on any path reaches the application as coming from what it addressed.
/// </summary>
internal sealed class PathFlow(MultipathFlow owner, PathDefinition definition, int index) : IReplySink
{
    private volatile string? _fault;

    /// <summary>
    /// A round trip last sampled this long ago is measured again (<see cref="RttForChoice"/>): LowestRtt sends nothing
    /// on a path it does not choose, so without this one unlucky sample (a slow first datagram) or a path that got
    /// faster would never be seen again.
    /// </summary>
    public const long RemeasureAfterMs = 1000;

    // A timed packet whose reply never came (lost) stops being waited for after this long.
    private const long AbandonTimedAfterMs = 2000;

    // Stopwatch timestamp of the packet being timed (0: none) and the fingerprint of its payload. A far end that
    // echoes (an echo server, request/reply protocols that repeat the request) answers with the same payload: once one
    // reply matched, only the matching reply ends a sample, so a stream with many packets in flight measures the round
    // trip, not the time to the reply of some earlier packet (a fraction of it). Until a reply matched, the next reply
    // ends the sample: the round trip for request/reply traffic. The stack's own measurement (DCCP) is preferred.
    private long _timedAt;
    private long _timedPrint;
    private volatile bool _echoes;
    private double _rttUs;

    // Environment.TickCount64 of the last sample (receive thread).
    private long _sampledAt;

    // The stack flow whose counters ObserveSends last read, and what they said then (pipeline thread).
    private IStackFlow? _observed;
    private long _observedSent;
    private long _observedErrors;
    private long _observedDrops;

    public PathDefinition Definition { get; } = definition;

    public int Index { get; } = index;

    public PathHealth Health { get; } = new();

    /// <summary>The stack flow carrying the path now (null while being built or after a fault).</summary>
    public IStackFlow? Flow { get; set; }

    /// <summary>A build in progress (first build, rebuild after a fault, or a migration's new far end).</summary>
    public Task<IStackFlow>? Opening { get; set; }

    /// <summary>The far end <see cref="Opening"/> is built for.</summary>
    public NetEndpoint OpeningTo { get; set; }

    /// <summary>When the build in progress started (Stopwatch timestamp).</summary>
    public long OpeningSince { get; set; }

    /// <summary>The far end the path's current stack flow sends to.</summary>
    public NetEndpoint Remote { get; set; }

    /// <summary>A migration asked for and not started yet (set by management on the pipeline thread).</summary>
    public NetEndpoint? RetargetTo { get; set; }

    /// <summary>When a failed build may be tried again (milliseconds).</summary>
    public long RetryAt { get; set; }

    public long NextProbeAt { get; set; }

    public string? LastError { get; set; }

    public long Builds { get; set; }

    public long Migrations { get; set; }

    // Pipeline thread.
    public long PacketsSent;
    public long BytesSent;
    public long Drops;
    public long Probes;
    public long Faults;

    // Receive threads.
    public long PacketsReceived;
    public long BytesReceived;

    /// <summary>Set by the stack from its thread; the pipeline acts on it at the flow's next check.</summary>
    public string? PendingFault => _fault;

    /// <summary>Round-trip time in microseconds: the stack's measurement, else the path's own samples, else 0 (unknown).</summary>
    public double RttUs
    {
        get => Volatile.Read(ref _rttUs);
        set => Volatile.Write(ref _rttUs, value);
    }

    public bool RttFromStack { get; set; }

    /// <summary>
    /// The round trip the LowestRtt scheduler goes by at <paramref name="now"/> (ms): <see cref="RttUs"/>, except 0 (not
    /// measured: chosen first) when the last sample is older than <see cref="RemeasureAfterMs"/> and none is running,
    /// so the next packet goes on this path and measures it; once that packet is timed the old value counts again until
    /// its reply replaces it. The scheduler reads this at each check (every 10 ms): a path re-measured this way carries
    /// up to one check's packets each second. Pipeline thread.
    /// </summary>
    public double RttForChoice(long now)
    {
        double rtt = RttUs;
        bool stale = rtt != 0 && !RttFromStack && now - Volatile.Read(ref _sampledAt) >= RemeasureAfterMs;
        return stale && Volatile.Read(ref _timedAt) == 0 ? 0 : rtt;
    }

    public void ClearFault() => _fault = null;

    /// <summary>
    /// Hands <see cref="Health"/> what the stack flow did with the path's sends since the last check: its
    /// <see cref="StackFlowStats.PacketsSent"/> and <see cref="StackFlowStats.SendErrors"/> grew by how much. A
    /// stack counts a datagram the kernel refused at flush time (after <see cref="IStackFlow.Send"/> accepted it) only
    /// in SendErrors, while one it refused in Send itself (a full DCCP queue) also shows as a drop here, already
    /// handled by sending the packet on another path: those are taken off, so only the kernel's refusals count.
    /// Pipeline thread, once per check; no allocation.
    /// </summary>
    public void ObserveSends()
    {
        IStackFlow? flow = Flow;
        if (flow is null)
        {
            _observed = null;
            return;
        }

        StackFlowStats stats = flow.Stats;
        long sent = Volatile.Read(ref stats.PacketsSent);
        long errors = Volatile.Read(ref stats.SendErrors);
        long drops = Drops;
        if (ReferenceEquals(flow, _observed))
        {
            long failed = (errors - _observedErrors) - (drops - _observedDrops);
            Health.OnSends(sent - _observedSent, Math.Max(0, failed));
        }

        // A new stack flow (first build, rebuild, migration) starts its own counters at zero.
        _observed = flow;
        _observedSent = sent;
        _observedErrors = errors;
        _observedDrops = drops;
    }

    /// <summary>
    /// Starts a round-trip sample at this send of <paramref name="packet"/> unless one is running (or the one running
    /// waited for its reply longer than <see cref="AbandonTimedAfterMs"/>). Pipeline thread; no allocation.
    /// </summary>
    public void TimeSend(ReadOnlySpan<byte> packet, in PacketInfo info)
    {
        long timedAt = Volatile.Read(ref _timedAt);
        long now = Stopwatch.GetTimestamp();
        if (timedAt != 0 && (now - timedAt) * 1000 < AbandonTimedAfterMs * Stopwatch.Frequency)
        {
            return;
        }

        // Stop the old sample before its fingerprint changes, so the receive thread never pairs one with the other's.
        Volatile.Write(ref _timedAt, 0);
        int offset = Math.Min(info.PayloadOffset, packet.Length);
        Volatile.Write(ref _timedPrint, Fingerprint(packet.Slice(offset, Math.Min(info.PayloadLength, packet.Length - offset))));
        Volatile.Write(ref _timedAt, now);
    }

    public void Deliver(ReadOnlySpan<byte> payload)
    {
        long now = Environment.TickCount64;
        Health.OnReply(now);
        long timedAt = Volatile.Read(ref _timedAt);
        if (timedAt != 0 && !RttFromStack)
        {
            bool match = Fingerprint(payload) == Volatile.Read(ref _timedPrint);
            if (match && !_echoes)
            {
                _echoes = true;
            }

            if ((match || !_echoes) && Interlocked.CompareExchange(ref _timedAt, 0, timedAt) == timedAt)
            {
                // A sample after a long pause (a path measured again) replaces the old value rather than averaging it
                // away: that value says nothing about now.
                double sample = Stopwatch.GetElapsedTime(timedAt).TotalMicroseconds;
                double rtt = RttUs;
                RttUs = rtt == 0 || now - Volatile.Read(ref _sampledAt) >= RemeasureAfterMs ? sample : (rtt * 7 + sample) / 8;
                Volatile.Write(ref _sampledAt, now);
            }
        }

        Interlocked.Increment(ref PacketsReceived);
        Interlocked.Add(ref BytesReceived, payload.Length);
        Interlocked.Increment(ref Definition.Runtime.PacketsReceived);
        Interlocked.Add(ref Definition.Runtime.BytesReceived, payload.Length);
        owner.DeliverReply(payload);
    }

    public void Fault(string reason) => _fault = reason;

    // The length and the first 16 bytes: what tells datagrams of one flow apart (sequence numbers, ids, timestamps sit
    // in front). Not a hash of the whole payload: it runs for every reply while a sample is running.
    private static long Fingerprint(ReadOnlySpan<byte> payload)
    {
        Span<byte> head = stackalloc byte[16];
        head.Clear();
        payload[..Math.Min(16, payload.Length)].CopyTo(head);
        ulong first = BinaryPrimitives.ReadUInt64LittleEndian(head);
        ulong second = BinaryPrimitives.ReadUInt64LittleEndian(head[8..]);
        return (long)((((ulong)payload.Length * 0x9E3779B97F4A7C15UL) ^ first) * 0xC2B2AE3D27D4EB4FUL ^ second);
    }
}
