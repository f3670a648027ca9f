using VirtualStack.Contracts.Net;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Rules;

namespace VirtualStack.Host.Configuration;

/// <summary>The validated configuration (section <c>VirtualStack</c>). Every key is documented in the README.</summary>
internal sealed record VsSettings(
    TunSettings Tun,
    string PluginsPath,
    IReadOnlyList<StackSettings> Stacks,
    IReadOnlyList<RuleSettings> Rules,
    string Default,
    FlowSettings Flows,
    string ManagementSocket,
    PipelineSettings Pipeline)
{
    /// <summary><c>Management.Remote</c>: the remote management interface, or null when it is not configured.</summary>
    public Remote.RemoteSettings? RemoteManagement { get; init; }
}

internal sealed record TunSettings(
    string Name,
    NetPrefix Address,
    NetPrefix? Address6,
    int Mtu,
    IReadOnlyList<NetPrefix> Capture,
    int TxQueueLength,
    uint Mark,
    uint Table,
    int RulePriority);

internal sealed record StackSettings(string Name, string Plugin, IReadOnlyDictionary<string, string> Options);

internal sealed record RuleSettings(
    string Name,
    RuleMatch Match,
    IReadOnlyList<string> Stacks,
    string Policy,
    IReadOnlyDictionary<string, string> PolicyOptions,
    IReadOnlyDictionary<string, string> Nat,
    string NatPlugin,
    TimeSpan? IdleTimeout)
{
    /// <summary><c>Paths</c>: the rule's paths (multipath), empty for an ordinary rule.</summary>
    public IReadOnlyList<PathSettings> Paths { get; init; } = [];

    /// <summary><c>Scheduler</c>: how a multipath rule picks the path of each packet.</summary>
    public PathScheduler Scheduler { get; init; } = PathScheduler.WeightedRoundRobin;

    /// <summary><c>PathDownAfter</c>: a path that gets no reply for this long while another path does is taken out.</summary>
    public TimeSpan PathDownAfter { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary><c>ProbeInterval</c>: how often a path that is out gets a copy of a packet to find out whether it is back.</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary><c>SequenceTag</c>: each payload carries a flow id and sequence number, so the far side drops duplicates (docs/redundant-tag.md).</summary>
    public bool SequenceTag { get; init; }

    /// <summary><c>Fallback</c>: the far end an ordinary rule's flows move to when the current one is unreachable.</summary>
    public NetEndpoint? Fallback { get; init; }

    /// <summary><c>FallbackAfter</c>: how long without a reply counts as unreachable.</summary>
    public TimeSpan FallbackAfter { get; init; } = TimeSpan.FromSeconds(1);

    public bool IsMultipath => Paths.Count > 0;
}

/// <summary>One path of a multipath rule (<c>Rules:N:Paths:M</c>).</summary>
/// <param name="Name">Names the path in <c>vs flows</c> and <c>vs migrate --path</c>.</param>
/// <param name="Stack">The configured stack that carries the path's packets.</param>
/// <param name="To">The far end on this path (the path's NAT target), or null for what the application addressed.</param>
/// <param name="Interface">The egress interface whose link state says whether the path can be up, or null.</param>
/// <param name="Weight">Share of the packets under <see cref="PathScheduler.WeightedRoundRobin"/>.</param>
internal sealed record PathSettings(string Name, string Stack, NetEndpoint? To, string? Interface, int Weight);

/// <summary>How a multipath rule spreads a flow's packets over its paths.</summary>
internal enum PathScheduler
{
    /// <summary>Smooth weighted round robin over the paths that are up.</summary>
    WeightedRoundRobin,

    /// <summary>Every packet on the up path with the lowest round-trip time.</summary>
    LowestRtt,

    /// <summary>Every packet on every up path; the far side drops duplicates.</summary>
    Redundant,
}

/// <param name="HoldPackets">
/// Packets a flow may hold while no stack of it is ready (its first DCCP handshake): sent in order once one is; 0
/// drops them as before.
/// </param>
internal sealed record FlowSettings(int MaxFlows, FlowTimeouts Timeouts, int HoldPackets = FlowSettings.DefaultHoldPackets)
{
    public const int DefaultHoldPackets = 256;
}

internal sealed record PipelineSettings(bool Fuse, int BatchSize, int Batches);
