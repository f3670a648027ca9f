namespace VirtualStack.Contracts.Policies;

/// <summary>What the host tells a policy about the flow of the packet it decides on.</summary>
public readonly struct FlowContext
{
    /// <summary>Creates a context without a flow id, current stack or sender (tests, and callers with no flow table).</summary>
    public FlowContext(long createdAt, long now, int stackCount)
        : this(createdAt, now, stackCount, 0, -1, null)
    {
    }

    /// <summary>Creates a context for one flow of the flow table.</summary>
    public FlowContext(long createdAt, long now, int stackCount, long flowId, int currentStack, FlowSender? sender)
    {
        CreatedAt = createdAt;
        Now = now;
        StackCount = stackCount;
        FlowId = flowId;
        CurrentStack = currentStack;
        Sender = sender;
    }

    /// <summary>When the flow's first packet was read, in milliseconds of <see cref="Environment.TickCount64"/>.</summary>
    public long CreatedAt { get; }

    /// <summary>When this packet's batch was read, on the same clock.</summary>
    public long Now { get; }

    /// <summary>Number of stacks in the rule (valid choices are 0 to <c>StackCount - 1</c>).</summary>
    public int StackCount { get; }

    /// <summary>
    /// The flow's id, as <c>vs flows</c> and <c>vs switch FLOW</c> name it (1, 2, ...), stable for the flow's life; 0
    /// when the host gave none. Lets a policy keep per-flow state (in a table it sizes itself, allocated up front).
    /// </summary>
    public long FlowId { get; }

    /// <summary>
    /// Index of the stack carrying the flow now (the one that took its last packet routed so far: the decision runs
    /// ahead of the routing by the packets in flight, a batch or two), -1 before its first packet was carried. While
    /// a wanted stack is still being built this stays the old one (make before break).
    /// </summary>
    public int CurrentStack { get; }

    /// <summary>
    /// The local process that sent the flow, as the kernel tells it, or null: the host looks it up once per flow
    /// only for a policy implementing <see cref="ISenderAwarePolicy"/>, and only where the kernel knows it (a UDP or
    /// TCP socket of this network namespace bound to the packet's source port).
    /// </summary>
    public FlowSender? Sender { get; }
}
