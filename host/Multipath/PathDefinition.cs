using System.Runtime.CompilerServices;
using VirtualStack.Contracts.Net;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Multipath;

/// <summary>One configured path of a multipath rule, resolved: its stack, its far end, its link, its weight.</summary>
internal sealed class PathDefinition(string name, StackRuntime runtime, NetEndpoint? to, LinkState? link, int weight)
{
    public string Name { get; } = name;

    public StackRuntime Runtime { get; } = runtime;

    /// <summary>The far end on this path as configured; null: what the application addressed.</summary>
    public NetEndpoint? To { get; } = to;

    /// <summary>
    /// The far end new flows use on this path after <c>vs migrate RULE ADDRESS --path NAME</c>, else null. A reference,
    /// so a reader on another thread sees a whole endpoint.
    /// </summary>
    public volatile StrongBox<NetEndpoint>? MigratedTo;

    public LinkState? Link { get; } = link;

    public int Weight { get; } = weight;

    /// <summary>Where a new flow's path goes: the migrated far end, the configured one, or the application's destination.</summary>
    public NetEndpoint Target(NetEndpoint addressed) => MigratedTo?.Value ?? To ?? addressed;
}
