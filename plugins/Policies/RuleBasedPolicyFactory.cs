using VirtualStack.Contracts.Policies;

namespace VirtualStack.Plugins.Policies;

/// <summary>
/// <c>RuleBased</c>: the first matching entry of <c>When</c> chooses the stack for each packet; <c>Default</c> (or the
/// flow's current stack) otherwise. An entry matches on protocol, source and destination prefixes, port ranges,
/// packet size, DSCP and local time of day; every field given must match.
/// </summary>
/// <remarks>
/// The sending process's uid or cgroup cannot be matched: a TUN reader gets bare IP packets, and neither the packet
/// nor the TUN interface (no <c>tun_pi</c> field, no socket metadata) carries who sent it. The way to steer by user or
/// cgroup is in front of the VNIC: a policy-routing rule (<c>ip rule add uidrange ...</c>) or an nftables mark
/// (<c>meta skuid</c>, <c>socket cgroupv2</c>) that sets the DSCP or selects the source address this policy then
/// matches. Those keys are refused with that explanation.
/// </remarks>
internal sealed class RuleBasedPolicyFactory : IPolicyFactory
{
    public string Name => "RuleBased";

    public string Description =>
        "the first matching PolicyOptions.When entry (Protocol, Source, Destination, SourcePort, DestinationPort, MinSize, MaxSize, Dscp, Time) chooses the stack, else Default";

    public string? Validate(PolicyOptions options) => Options.Check(options, ["When", "Default"], o => RuleBasedOptions.Parse(o));

    public IDecisionPolicy Create(PolicyOptions options, IPolicyHost host) =>
        new RuleBasedPolicy(RuleBasedOptions.Parse(options), options.Stacks, host.Time);
}
