using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Flows;

namespace VirtualStack.Host.Decision;

/// <summary>
/// The "choice" of a rule that has nothing to choose: the default rule (one stack, the configured <c>Default</c>).
/// Configured rules always get their policy from a plugin (<see cref="RulePolicy"/>).
/// </summary>
internal sealed class FirstStackPolicy : IFlowPolicy
{
    public static readonly FirstStackPolicy Instance = new();

    public string Name => "(default rule)";

    public int Choose(in PacketInfo info, FlowEntry flow, long now) => 0;
}
