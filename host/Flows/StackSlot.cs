using System.Diagnostics;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Stacks;
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

    public StackSlot(StackEngine engine, StackRuntime runtime)
    {
        _engine = engine;
        Runtime = runtime;
    }

    public StackRuntime Runtime { get; }

    public SlotState State { get; set; }

    public IStackFlow? Flow { get; set; }

    /// <summary>Far end after NAT, fixed when the slot was built.</summary>
    public NetEndpoint Remote { get; set; }

    /// <summary>How long the first build took (a handshake for connection-oriented stacks).</summary>
    public TimeSpan BuildTime { get; set; }

    /// <summary>When the last failed build or fault happened: a retry waits a little to avoid a storm.</summary>
    public long FailedAt { get; set; }

    public string? LastError { get; set; }

    public long BuildStarted { get; set; } = Stopwatch.GetTimestamp();

    /// <summary>Set by the stack from its own thread; the shard thread acts on it at the next packet.</summary>
    public string? PendingFault => _fault;

    public void ClearFault() => _fault = null;

    public void Deliver(ReadOnlySpan<byte> payload)
    {
        Interlocked.Increment(ref Runtime.PacketsReceived);
        Interlocked.Add(ref Runtime.BytesReceived, payload.Length);
        _engine.DeliverReply(payload);
    }

    public void Fault(string reason) => _fault = reason;
}

/// <summary>Life cycle of a slot.</summary>
internal enum SlotState
{
    NotBuilt,
    Building,
    Ready,
    Failed,
}
