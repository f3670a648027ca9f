using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Host.Stacks;

/// <summary>A configured stack as the host runs it: the plugin's instance plus the host's bookkeeping.</summary>
internal sealed class StackRuntime
{
    public StackRuntime(int index, string name, string plugin, ITransportStack stack)
    {
        Index = index;
        Name = name;
        Plugin = plugin;
        Stack = stack;
        Carries = stack.Carries;
    }

    /// <summary>Position in the host's stack list.</summary>
    public int Index { get; }

    public string Name { get; }

    public string Plugin { get; }

    public ITransportStack Stack { get; }

    public StackCarries Carries { get; }

    /// <summary>Number of the last batch that queued a packet here; the sink flushes each touched stack once per batch.</summary>
    public long TouchedInBatch { get; set; } = -1;

    public long PacketsSent;
    public long BytesSent;
    public long PacketsReceived;
    public long BytesReceived;
    public long Drops;
    public long FlowsOpened;
    public long OpenFailures;
}
