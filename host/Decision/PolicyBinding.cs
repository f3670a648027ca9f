using VirtualStack.Contracts.Policies;

namespace VirtualStack.Host.Decision;

/// <summary>
/// What a rule decides with right now: its policy (name, options, the plugin's instance), an operator's override
/// (<c>vs switch RULE STACK</c>: <see cref="Forced"/>) and the epoch. Immutable: a change swaps the whole binding in
/// one write, so the packet path never sees half of one. Every change starts a new <see cref="Epoch"/>, which ends
/// the per-flow overrides (<c>vs switch FLOW STACK</c>) given under the old one.
/// </summary>
internal sealed record PolicyBinding(
    string Name,
    IReadOnlyDictionary<string, string> Options,
    IDecisionPolicy Policy,
    int Forced,
    long Epoch,
    DateTimeOffset Since)
{
    /// <summary>What the policy wants to know about each flow's sender, read once when the binding is made.</summary>
    public SenderDetails SenderDetails { get; } = Wanted(Policy);

    private static SenderDetails Wanted(IDecisionPolicy policy)
    {
        try
        {
            return policy is ISenderAwarePolicy aware ? aware.SenderDetails : SenderDetails.None;
        }
        catch (Exception)
        {
            // A plugin whose property throws gets no lookup: its Choose still runs, and reports its own errors.
            return SenderDetails.None;
        }
    }
}
