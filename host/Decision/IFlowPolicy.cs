using VirtualStack.Contracts.Packets;

namespace VirtualStack.Host.Decision;

/// <summary>
/// Chooses, per packet, which of a rule's stacks carries a flow. Runs on the shard thread for every packet: it
/// must be cheap and must not allocate.
/// </summary>
internal interface IFlowPolicy
{
    /// <summary>Policy name as configuration writes it.</summary>
    string Name { get; }

    /// <summary>Index into the rule's stack list.</summary>
    int Choose(in PacketInfo info, long flowCreatedAt, long now);
}
