using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Pipeline;

/// <summary>
/// Hands one packet to a slot's stack flow and counts what happened, for the stack sink and for a flow's held
/// packets alike (one place for the counters of a send: the stack's, the shard's and the flow's).
/// </summary>
internal static class SlotSend
{
    public static DropReason Send(IStackFlow flow, StackSlot slot, ReadOnlySpan<byte> packet, ref PacketInfo info, FlowEntry? entry, PipelineCounters counters)
    {
        DropReason drop = flow.Send(packet, info);
        StackRuntime runtime = slot.Runtime;
        if (drop != DropReason.None)
        {
            info.Drop = drop;
            counters.Drop(drop);
            runtime.Drops++;
            entry?.Drop(drop);
            return drop;
        }

        runtime.PacketsSent++;
        runtime.BytesSent += info.Length;
        counters.PacketsSent++;
        counters.BytesSent += info.Length;
        return DropReason.None;
    }
}
