using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Packets;

namespace VirtualStack.Host.Pipeline;

/// <summary>Gives each packet its flow id: protocol, addresses and ports (see <see cref="FlowIdExtractor"/>).</summary>
internal sealed class IdExtractorStage : IBatchStage
{
    public string Name => "id-extractor";

    public void Process(PacketBatch batch)
    {
        PacketInfo[] info = batch.Info;
        for (int i = 0; i < batch.Count; i++)
        {
            ref PacketInfo packet = ref info[i];
            if (packet.Drop == DropReason.None)
            {
                FlowIdExtractor.Extract(batch.Packet(i), ref packet);
            }
        }
    }
}
