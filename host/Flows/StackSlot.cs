using System.Diagnostics;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Metrics;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Flows;

/// <summary>
/// One of a flow's stacks inside its stack engine: built once on first use, then cached for the life of the flow.
/// It is also the stack's <see cref="IReplySink"/> for this flow, so every reply is attributed without a lookup.
/// </summary>
internal sealed class StackSlot : IReplySink
{
    private readonly StackEngine _engine;
    private volatile string? _fault;
    private FirstSendProbe? _probe;

    public StackSlot(StackEngine engine, StackRuntime runtime)
    {
        _engine = engine;
        Runtime = runtime;
        Timings = StackTimings.For(runtime);
    }

    public StackRuntime Runtime { get; }

    /// <summary>The stack's build and switch timings (shared by every flow's slot of that stack).</summary>
    public StackTimings Timings { get; }

    public SlotState State { get; set; }

    /// <summary>
    /// What the stack sink sends on: the stack's flow, or, right after a switch onto this slot, a probe in front of
    /// it that notes the first packet the stack accepts (the end of the switch delay) and then steps aside.
    /// </summary>
    public IStackFlow? Flow { get; private set; }

    /// <summary>The stack's own per-flow state, once built.</summary>
    public IStackFlow? StackFlow { get; private set; }

    /// <summary>Far end after NAT, fixed when the slot was built.</summary>
    public NetEndpoint Remote { get; set; }

    /// <summary>How long the first build took (a handshake for connection-oriented stacks).</summary>
    public TimeSpan BuildTime { get; set; }

    /// <summary>Successful builds of this slot (more than one after a fault or a failed build).</summary>
    public int Builds { get; set; }

    /// <summary>When the last failed build or fault happened: a retry waits a little to avoid a storm.</summary>
    public long FailedAt { get; set; }

    public string? LastError { get; set; }

    public long BuildStarted { get; set; } = Stopwatch.GetTimestamp();

    /// <summary>Numbers the builds, so that a build overtaken by a newer one (after a fault) is recognised when it completes.</summary>
    public int BuildGeneration { get; set; }

    /// <summary>Set by the stack from its own thread; the shard thread acts on it at the next packet.</summary>
    public string? PendingFault => _fault;

    /// <summary>Bytes sent at the sampler's last visit (once a second, on the shard thread).</summary>
    public long SampledBytes { get; set; }

    /// <summary>
    /// The stack's last own measurement of this flow (<see cref="IMeasuredFlow"/>), for metrics and policies. A
    /// reference, so that readers on other threads see a whole one.
    /// </summary>
    public SlotMeasurement? Measured { get; set; }

    public void ClearFault() => _fault = null;

    /// <summary>Makes a built stack flow the slot's; the sink sends on it from now on.</summary>
    public void Attach(IStackFlow flow)
    {
        StackFlow = flow;
        Flow = flow;
        SampledBytes = flow.Stats.BytesSent;
    }

    /// <summary>Numbers migrations, so a replacement overtaken by a newer one is recognised when it completes.</summary>
    public int ReplacementGeneration { get; set; }

    /// <summary>
    /// Puts a new stack flow (to a new far end) in place of the one the slot has, then disposes the old one: until
    /// this moment the old one carried the flow (make before break).
    /// </summary>
    public void Replace(IStackFlow flow)
    {
        IStackFlow? old = StackFlow;
        Attach(flow);
        old?.Dispose();
    }

    /// <summary>Disposes the stack flow (fault, flow end).</summary>
    public void Detach()
    {
        IStackFlow? flow = StackFlow;
        StackFlow = null;
        Flow = null;
        Measured = null;
        flow?.Dispose();
    }

    /// <summary>
    /// Puts the probe in front of the stack flow: the next packet the stack accepts ends the switch that started when
    /// the decision first wanted this slot (<paramref name="wantedAt"/>, a <see cref="Stopwatch"/> timestamp).
    /// </summary>
    public void ArmFirstSend(int from, int to, long wantedAt, bool cached)
    {
        if (StackFlow is null)
        {
            return;
        }

        _probe ??= new FirstSendProbe(this);
        _probe.Arm(from, to, wantedAt, cached);
        Flow = _probe;
    }

    private void FirstSent(in SwitchRecord record)
    {
        Flow = StackFlow;
        _engine.RecordSwitch(record);
    }

    public void Deliver(ReadOnlySpan<byte> payload)
    {
        Interlocked.Increment(ref Runtime.PacketsReceived);
        Interlocked.Add(ref Runtime.BytesReceived, payload.Length);
        _engine.DeliverReply(payload);
    }

    public void Fault(string reason) => _fault = reason;

    /// <summary>Stands in front of the stack flow for one accepted packet after a switch; allocated once per slot.</summary>
    private sealed class FirstSendProbe(StackSlot slot) : IStackFlow
    {
        private int _from;
        private int _to;
        private long _wantedAt;
        private bool _cached;

        public StackFlowStats Stats => slot.StackFlow?.Stats ?? Empty;

        private static StackFlowStats Empty { get; } = new();

        public void Arm(int from, int to, long wantedAt, bool cached)
        {
            _from = from;
            _to = to;
            _wantedAt = wantedAt;
            _cached = cached;
        }

        public DropReason Send(ReadOnlySpan<byte> packet, in PacketInfo info)
        {
            IStackFlow? flow = slot.StackFlow;
            if (flow is null)
            {
                return DropReason.StackNotReady;
            }

            DropReason drop = flow.Send(packet, info);
            if (drop == DropReason.None)
            {
                double delayUs = Stopwatch.GetElapsedTime(_wantedAt).TotalMicroseconds;
                slot.FirstSent(new SwitchRecord(_from, _to, delayUs, _cached, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
            }

            return drop;
        }

        public void Dispose()
        {
            // The slot owns the stack flow; the probe holds nothing of its own.
        }
    }
}

/// <summary>Life cycle of a slot.</summary>
internal enum SlotState
{
    NotBuilt,
    Building,
    Ready,
    Failed,
}
