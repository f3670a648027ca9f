namespace VirtualStack.Contracts.Stacks;

/// <summary>Counters of one flow on one stack. Written by the stack, read by anyone (torn reads are harmless).</summary>
public sealed class StackFlowStats
{
    /// <summary>Packets sent toward the far end.</summary>
    public long PacketsSent;
    /// <summary>Payload bytes sent toward the far end.</summary>
    public long BytesSent;
    /// <summary>Packets received from the far end.</summary>
    public long PacketsReceived;
    /// <summary>Payload bytes received from the far end.</summary>
    public long BytesReceived;
    /// <summary>Packets the stack could not send.</summary>
    public long SendErrors;
}
