using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;

namespace VirtualStack.Host.Rules;

/// <summary>What a rule claims. Every field that is set must match; an empty match claims everything.</summary>
internal sealed record RuleMatch(
    byte? Protocol,
    ushort? SourcePort,
    ushort? DestinationPort,
    NetPrefix? Source,
    NetPrefix? Destination)
{
    public static readonly RuleMatch Any = new(null, null, null, null, null);

    public bool Matches(in FlowKey flow) =>
        (Protocol is not { } protocol || protocol == flow.Protocol) &&
        (SourcePort is not { } sourcePort || sourcePort == flow.SourcePort) &&
        (DestinationPort is not { } destinationPort || destinationPort == flow.DestinationPort) &&
        (Source is not { } source || source.Contains(flow.Source)) &&
        (Destination is not { } destination || destination.Contains(flow.Destination));
}
