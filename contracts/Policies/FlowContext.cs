namespace VirtualStack.Contracts.Policies;

/// <summary>What the host tells a policy about the flow of the packet it decides on.</summary>
public readonly struct FlowContext
{
    /// <summary>Creates a context.</summary>
    public FlowContext(long createdAt, long now, int stackCount)
    {
        CreatedAt = createdAt;
        Now = now;
        StackCount = stackCount;
    }

    /// <summary>When the flow's first packet was read, in milliseconds of <see cref="Environment.TickCount64"/>.</summary>
    public long CreatedAt { get; }

    /// <summary>When this packet's batch was read, on the same clock.</summary>
    public long Now { get; }

    /// <summary>Number of stacks in the rule (valid choices are 0 to <c>StackCount - 1</c>).</summary>
    public int StackCount { get; }
}
