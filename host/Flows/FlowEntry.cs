using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;
using VirtualStack.Host.Rules;

namespace VirtualStack.Host.Flows;

/// <summary>One application flow in the flow table: its rule, its stack engine, counters, and its LRU links.</summary>
internal sealed class FlowEntry
{
    private static readonly int DropReasons = Enum.GetValues<DropReason>().Length;

    public FlowEntry(long id, FlowKey key, Rule rule, long now, long idleTimeoutMs, StackEngine engine)
    {
        Id = id;
        Key = key;
        Rule = rule;
        CreatedAt = now;
        LastSeen = now;
        IdleTimeoutMs = idleTimeoutMs;
        Engine = engine;
    }

    /// <summary>Small number that names the flow in <c>vs flows</c> and <c>vs switch</c>.</summary>
    public long Id { get; }

    public FlowKey Key { get; }

    public Rule Rule { get; }

    public StackEngine Engine { get; }

    public long CreatedAt { get; }

    public long IdleTimeoutMs { get; }

    /// <summary>Milliseconds (<see cref="Environment.TickCount64"/>) of the last packet from the application.</summary>
    public long LastSeen { get; set; }

    public long Packets;
    public long Bytes;

    /// <summary>This flow's drops by reason (index: <see cref="DropReason"/>), made at its first drop; null before.</summary>
    public long[]? DropsByReason;

    /// <summary>Counts a drop of one of this flow's packets (pipeline thread; allocates once, at the flow's first drop).</summary>
    public void Drop(DropReason reason) => (DropsByReason ??= new long[DropReasons])[(int)reason]++;

    /// <summary>The local sender, for a policy that decides by it (looked up by the rule's policy on the first packet).</summary>
    public FlowSender? Sender;

    /// <summary>What has been looked up about the sender so far (pipeline thread only).</summary>
    public SenderDetails SenderLooked;

    // Intrusive doubly linked LRU list: moving a flow to the front on each packet costs four pointer writes and
    // no allocation.
    internal FlowEntry? Newer;
    internal FlowEntry? Older;
}
