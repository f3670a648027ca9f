using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Configuration;

namespace VirtualStack.Host.Multipath;

/// <summary>
/// The stack of a multipath rule, as the pipeline sees it: one more <see cref="ITransportStack"/>, whose flows
/// (<see cref="MultipathFlow"/>) spread each packet over the rule's paths, each path a flow of a configured stack
/// (Udp, Dccp, ...) to its own far end. Flushing it flushes the paths' stacks. Keeping multipath behind the
/// stack interface leaves the pipeline, the flow engine's make-before-break and the reply path unchanged.
/// </summary>
internal sealed class MultipathStack : ITransportStack
{
    private readonly ITransportStack[] _stacks;

    public MultipathStack(string rule, PathDefinition[] paths, PathScheduler scheduler, TimeSpan downAfter, TimeSpan probeInterval, LinkMonitor? links, Action<string> log)
    {
        Rule = rule;
        Paths = paths;
        Scheduler = scheduler;
        DownAfterMs = (long)downAfter.TotalMilliseconds;
        ProbeIntervalMs = (long)probeInterval.TotalMilliseconds;
        Links = links;
        Log = log;
        _stacks = [.. paths.Select(p => p.Runtime.Stack).Distinct()];
        Name = $"paths:{rule}";
    }

    public string Name { get; }

    public string Rule { get; }

    public PathDefinition[] Paths { get; }

    public PathScheduler Scheduler { get; }

    public long DownAfterMs { get; }

    public long ProbeIntervalMs { get; }

    public LinkMonitor? Links { get; }

    public Action<string> Log { get; }

    /// <summary>Rule option <c>SequenceTag</c>: each flow tags its payloads and de-duplicates tagged replies (<see cref="SequenceTagger"/>).</summary>
    public bool SequenceTag { get; init; }

    public StackCarries Carries => StackCarries.Payload;

    /// <summary>Index of the path named <paramref name="name"/> (case-insensitive), or -1.</summary>
    public int IndexOf(string name) => Array.FindIndex(Paths, p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    public ValueTask<IStackFlow> Open(FlowKey flow, NetEndpoint remote, IReplySink replies, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IStackFlow>(new MultipathFlow(this, flow, replies));

    public void Flush()
    {
        foreach (ITransportStack stack in _stacks)
        {
            stack.Flush();
        }
    }

    public ValueTask DisposeAsync()
    {
        Links?.Dispose();
        return ValueTask.CompletedTask;
    }
}
