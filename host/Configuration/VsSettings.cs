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
    TimeSpan? IdleTimeout);

internal sealed record FlowSettings(int MaxFlows, FlowTimeouts Timeouts);

internal sealed record PipelineSettings(bool Fuse, int BatchSize, int Batches);
