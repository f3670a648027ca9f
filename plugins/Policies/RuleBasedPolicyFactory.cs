using VirtualStack.Contracts.Policies;

namespace VirtualStack.Plugins.Policies;

/// <summary>
/// <c>RuleBased</c>: the first matching entry of <c>When</c> chooses the stack for each packet; <c>Default</c> (or the
/// flow's current stack) otherwise. An entry matches on protocol, source and destination prefixes, port ranges,
/// packet size, DSCP, local time of day, and the sending process's uid and cgroup; every field given must match.
/// </summary>
/// <remarks>
/// The packet read from the TUN carries no sender; the host finds it, once per flow, from the kernel's socket tables
/// (the socket bound to the packet's source address and port, its owner, the process holding it and its cgroups) and
/// passes it in <see cref="FlowContext.Sender"/>, because this policy asks for it (<see cref="ISenderAwarePolicy"/>)
/// when a condition names <c>Uid</c> or <c>Cgroup</c>. Where the kernel does not tell, such a condition does not match.
/// </remarks>
internal sealed class RuleBasedPolicyFactory : IPolicyFactory
{
    public string Name => "RuleBased";

    public string Description =>
        "the first matching PolicyOptions.When entry (Protocol, Source, Destination, SourcePort, DestinationPort, MinSize, MaxSize, Dscp, Time, Uid, Cgroup) chooses the stack, else Default";

    public string? Validate(PolicyOptions options) => Options.Check(options, ["When", "Default"], o => RuleBasedOptions.Parse(o));

    public IDecisionPolicy Create(PolicyOptions options, IPolicyHost host) =>
        new RuleBasedPolicy(RuleBasedOptions.Parse(options), options.Stacks, host.Time);
}
