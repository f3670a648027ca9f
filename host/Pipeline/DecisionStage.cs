using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Flows;

namespace VirtualStack.Host.Pipeline;

/// <summary>
/// Finds (or creates) each packet's flow and asks the flow's policy which of the rule's stacks carries it. Packets
/// without a complete transport header go to the default stack unchanged.
/// </summary>
internal sealed class DecisionStage(FlowManager flows, PipelineCounters counters) : IBatchStage
{
    private const PacketFlags NotCarriable = PacketFlags.Fragment | PacketFlags.TransportMalformed;

    public string Name => "decision";

    public void Process(PacketBatch batch)
    {
        long now = batch.ReceivedAt;
        PacketInfo[] info = batch.Info;
        FlowEntry?[] entries = batch.Flows;
        for (int i = 0; i < batch.Count; i++)
        {
            ref PacketInfo packet = ref info[i];
            if (packet.Drop != DropReason.None)
            {
                continue;
            }

            if (!packet.HasTransport || (packet.Flags & NotCarriable) != 0)
            {
                counters.Unparsed++;
                packet.Stack = -1;
                continue;
            }

            FlowEntry entry = flows.GetOrCreate(packet.Flow, now);
            entry.Packets++;
            entry.Bytes += packet.Length;
            entries[i] = entry;
            packet.Stack = (short)entry.Rule.Policy.Choose(packet, entry, now);
        }
    }
}
