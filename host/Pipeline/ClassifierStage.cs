using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Packets;

namespace VirtualStack.Host.Pipeline;

/// <summary>Classifies each packet: IP version, protocol, headers, fragments, flags (see <see cref="PacketClassifier"/>).</summary>
internal sealed class ClassifierStage(PipelineCounters counters) : IBatchStage
{
    public string Name => "classifier";

    public void Process(PacketBatch batch)
    {
        PacketInfo[] info = batch.Info;
        for (int i = 0; i < batch.Count; i++)
        {
            ref PacketInfo packet = ref info[i];
            counters.PacketsIn++;
            counters.BytesIn += packet.Length;
            packet.Drop = PacketClassifier.Classify(batch.Packet(i), ref packet);
            if (packet.Drop != DropReason.None)
            {
                counters.Drop(packet.Drop);
            }
            else if ((packet.Flags & PacketFlags.BadIpChecksum) != 0)
            {
                counters.BadIpChecksums++;
            }
        }

        counters.Batches++;
    }
}
