using System.Runtime.CompilerServices;
using VirtualStack.Contracts.Net;
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

    /// <summary>The rule's multipath stack (its only stack) when it has <c>Paths</c>, else null.</summary>
    public VirtualStack.Host.Multipath.MultipathStack? Multipath { get; init; }

    /// <summary><c>Fallback</c>: where a flow moves when its far end stops answering, or null.</summary>
    public NetEndpoint? Fallback { get; init; }

    /// <summary><c>FallbackAfter</c> in milliseconds.</summary>
    public long FallbackAfterMs { get; init; } = 1000;

    /// <summary>
    /// Per stack (as <see cref="Stacks"/>), the far end new flows of the rule use after <c>vs migrate RULE ADDRESS</c>
    /// (references, so readers on other threads see a whole endpoint), else null.
    /// </summary>
    public StrongBox<NetEndpoint>?[] MigratedTo => _migratedTo ??= new StrongBox<NetEndpoint>?[Stacks.Length];

    private StrongBox<NetEndpoint>?[]? _migratedTo;
}
