using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Pipeline;

/// <summary>
/// Hands each packet to its stack, flushes every stack the batch touched (one sendmmsg per socket and batch), then
/// returns the batch to the pool: after the flush no stack holds the packet memory any more.
/// </summary>
internal sealed class StackSinkStage(PacketBatchPool pool, PipelineCounters counters, int stackCount) : IBatchStage
{
    // Each configured stack appears here at most once per batch, so this never overflows.
    private readonly StackRuntime?[] _touched = new StackRuntime?[stackCount];
    private long _batchNumber;

    public string Name => "stack-sink";

    public void Process(PacketBatch batch)
    {
        long number = ++_batchNumber;
        int touched = 0;
        PacketInfo[] info = batch.Info;
        StackSlot?[] targets = batch.Targets;
        for (int i = 0; i < batch.Count; i++)
        {
            ref PacketInfo packet = ref info[i];
            if (targets[i] is not { Flow: { } flow } slot || packet.Drop != DropReason.None)
            {
                continue;
            }

            if (SlotSend.Send(flow, slot, batch.Packet(i), ref packet, batch.Flows[i], counters) != DropReason.None)
            {
                continue;
            }

            StackRuntime runtime = slot.Runtime;
            if (runtime.TouchedInBatch != number)
            {
                runtime.TouchedInBatch = number;
                _touched[touched++] = runtime;
            }
        }

        for (int i = 0; i < touched; i++)
        {
            _touched[i]!.Stack.Flush();
            _touched[i] = null;
        }

        pool.Return(batch);
    }
}
