using System.Diagnostics;
using VirtualStack.Contracts.Net;
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

    // Stopwatch timestamp of the packet being timed (0: none): the next reply on the path ends the sample. For
    // request/reply traffic that is the round trip; the stack's own measurement (DCCP) is preferred when it has one.
    private long _timedAt;
    private double _rttUs;

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

    /// <summary>Starts a round-trip sample at this send unless one is running. Pipeline thread.</summary>
    public void TimeSend()
    {
        if (Volatile.Read(ref _timedAt) == 0)
        {
            Volatile.Write(ref _timedAt, Stopwatch.GetTimestamp());
        }
    }

    public void Deliver(ReadOnlySpan<byte> payload)
    {
        Health.OnReply(Environment.TickCount64);
        long timedAt = Interlocked.Exchange(ref _timedAt, 0);
        if (timedAt != 0 && !RttFromStack)
        {
            double sample = Stopwatch.GetElapsedTime(timedAt).TotalMicroseconds;
            double rtt = RttUs;
            RttUs = rtt == 0 ? sample : (rtt * 7 + sample) / 8;
        }

        Interlocked.Increment(ref PacketsReceived);
        Interlocked.Add(ref BytesReceived, payload.Length);
        Interlocked.Increment(ref Definition.Runtime.PacketsReceived);
        Interlocked.Add(ref Definition.Runtime.BytesReceived, payload.Length);
        owner.DeliverReply(payload);
    }

    public void Fault(string reason) => _fault = reason;
}
