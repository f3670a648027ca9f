using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;

namespace VirtualStack.Contracts.Stacks;

/// <summary>Creates the NAT for one rule from the rule's <c>Nat</c> map (stack name to far end).</summary>
public interface INatFactory
{
    /// <summary>Name configuration uses (<c>Nat.Plugin</c>); the default NAT is <c>Nat</c>.</summary>
    string Name { get; }

    /// <summary>Checks a rule's NAT map. Returns null when valid, else a message naming the entry and the problem.</summary>
    string? Validate(IReadOnlyDictionary<string, string> map);

    /// <summary>Creates the rule's NAT.</summary>
    INat Create(IReadOnlyDictionary<string, string> map);
}

/// <summary>
/// Maps what an application addressed to the real far end, per stack, and keeps the application's view: replies
/// always appear to come from <see cref="FlowKey.DestinationEndpoint"/>.
/// </summary>
public interface INat
{
    /// <summary>The real far end for <paramref name="flow"/> when carried by <paramref name="stack"/>.</summary>
    NetEndpoint Resolve(in FlowKey flow, string stack);

    /// <summary>Moves a stack's far end at run time (flow migration); later <see cref="Resolve"/> calls see it.</summary>
    void Retarget(string stack, NetEndpoint farEnd);
}
