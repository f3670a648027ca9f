using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Decision;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Rules;

/// <summary>A configured rule: which flows it claims, the stacks that may carry them, how to choose, the NAT.</summary>
internal sealed class Rule
{
    public Rule(string name, RuleMatch match, StackRuntime[] stacks, IFlowPolicy policy, INat? nat, TimeSpan? idleTimeout)
    {
        Name = name;
        Match = match;
        Stacks = stacks;
        Policy = policy;
        Nat = nat;
        IdleTimeout = idleTimeout;
    }

    public string Name { get; }

    public RuleMatch Match { get; }

    public StackRuntime[] Stacks { get; }

    public IFlowPolicy Policy { get; }

    public INat? Nat { get; }

    /// <summary>Overrides the per-protocol idle timeout for this rule's flows.</summary>
    public TimeSpan? IdleTimeout { get; }

    public long FlowsCreated;
}
