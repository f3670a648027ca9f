using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Flows;

namespace VirtualStack.Host.Pipeline;

/// <summary>
/// Routes each packet to the cached stack of its flow's engine that will carry it (make before break: while a
/// wanted stack is still being built the flow stays on the one it has).
/// </summary>
internal sealed class FlowRouterStage(FlowManager flows, PipelineCounters counters) : IBatchStage
{
    public string Name => "flow-router";

    public void Process(PacketBatch batch)
    {
        long now = batch.ReceivedAt;
        PacketInfo[] info = batch.Info;
        FlowEntry?[] entries = batch.Flows;
        StackSlot?[] targets = batch.Targets;
        for (int i = 0; i < batch.Count; i++)
        {
            ref PacketInfo packet = ref info[i];
            if (packet.Drop != DropReason.None)
            {
                continue;
            }

            StackEngine? engine = entries[i] is { } entry ? entry.Engine : flows.Passthrough;
            StackSlot? slot = engine?.Route(packet.Stack < 0 ? 0 : packet.Stack, now);
            if (slot is null)
            {
                if (engine is not null && engine.Hold(batch.Packet(i), packet, entries[i]))
                {
                    // The engine sends a copy once a stack of the flow is ready; the sink skips it.
                    targets[i] = null;
                    continue;
                }

                packet.Drop = engine is null ? DropReason.Unsupported : DropReason.StackNotReady;
                counters.Drop(packet.Drop);
                entries[i]?.Drop(packet.Drop);
                continue;
            }

            targets[i] = slot;
        }
    }
}
