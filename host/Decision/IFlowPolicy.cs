using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Flows;

namespace VirtualStack.Host.Decision;

/// <summary>
/// What the decision stage asks a rule, per packet: which of the rule's stacks carries it. Runs on the shard thread
/// for every packet: it must be cheap and must not allocate. The host's implementation is <see cref="RulePolicy"/>,
/// which calls the rule's policy plugin; <see cref="RulePolicy.KeepCurrent"/> leaves the flow where it is.
/// </summary>
internal interface IFlowPolicy
{
    /// <summary>Policy name as configuration writes it.</summary>
    string Name { get; }

    /// <summary>Index into the rule's stack list, or <see cref="RulePolicy.KeepCurrent"/>.</summary>
    int Choose(in PacketInfo info, FlowEntry flow, long now);
}
