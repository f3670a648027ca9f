using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Plugins.Nat;

/// <summary>
/// One rule's NAT: for each of the rule's stacks, where its flows really go. Stacks without an entry send to what
/// the application addressed. The host reverses it for replies, so the application always sees that address.
/// </summary>
/// <remarks>
/// Resolve runs on the pipeline threads whenever a flow's stack is built, Retarget on the management thread. The
/// table is never changed in place: Retarget publishes a new copy, so readers need no lock and always see a whole
/// table.
/// </remarks>
internal sealed class NatMap : INat
{
    private readonly Lock _writer = new();
    private volatile Dictionary<string, NatTarget> _targets;

    public NatMap(IEnumerable<KeyValuePair<string, NatTarget>> targets)
    {
        _targets = new Dictionary<string, NatTarget>(targets, StringComparer.OrdinalIgnoreCase);
    }

    /// <inheritdoc />
    public NetEndpoint Resolve(in FlowKey flow, string stack)
    {
        ArgumentNullException.ThrowIfNull(stack);
        return _targets.TryGetValue(stack, out NatTarget target) ? target.Apply(flow.DestinationEndpoint) : flow.DestinationEndpoint;
    }

    /// <inheritdoc />
    public void Retarget(string stack, NetEndpoint farEnd)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(stack);
        lock (_writer)
        {
            var next = new Dictionary<string, NatTarget>(_targets, StringComparer.OrdinalIgnoreCase)
            {
                [stack] = NatTarget.Endpoint(farEnd),
            };
            _targets = next;
        }
    }

    /// <summary>The entry for <paramref name="stack"/>, if it has one.</summary>
    public bool TryGetTarget(string stack, out NatTarget target) => _targets.TryGetValue(stack, out target);
}
