using System.Threading.Tasks.Dataflow;

namespace VirtualStack.Host.Pipeline;

/// <summary>
/// Wires the stages into TPL Dataflow blocks that all run on the shard's loop thread: either one block per stage
/// (TUN source -> classifier -> ID extractor -> decision -> flow router -> stack sink), or, by default, the stages
/// fused into two blocks (analysis: classify, extract, decide; delivery: route, send) which saves a queue hop per
/// batch at no loss of structure, since the stages stay separate classes.
/// </summary>
internal static class PipelineBuilder
{
    /// <summary>Batches a block may hold before it refuses more: the backpressure that stops the TUN reads.</summary>
    public const int BoundedCapacity = 8;

    public static (ITargetBlock<PacketBatch> Head, IDataflowBlock Tail) Build(
        IReadOnlyList<IBatchStage> stages, int analysisStages, bool fuse, TaskScheduler scheduler)
    {
        var options = new ExecutionDataflowBlockOptions
        {
            TaskScheduler = scheduler,
            BoundedCapacity = BoundedCapacity,
            MaxDegreeOfParallelism = 1,
            SingleProducerConstrained = true,
        };

        IBatchStage[][] groups = fuse
            ? [stages.Take(analysisStages).ToArray(), stages.Skip(analysisStages).ToArray()]
            : stages.Select(stage => new[] { stage }).ToArray();

        var link = new DataflowLinkOptions { PropagateCompletion = true };
        ITargetBlock<PacketBatch>? head = null;
        ISourceBlock<PacketBatch>? previous = null;
        IDataflowBlock? tail = null;
        for (int g = 0; g < groups.Length; g++)
        {
            IBatchStage[] group = groups[g];
            bool last = g == groups.Length - 1;
            IPropagatorBlock<PacketBatch, PacketBatch>? transform = null;
            ITargetBlock<PacketBatch> block;
            if (last)
            {
                block = new ActionBlock<PacketBatch>(batch => Run(group, batch), options);
            }
            else
            {
                transform = new TransformBlock<PacketBatch, PacketBatch>(batch => Run(group, batch), options);
                block = transform;
            }

            head ??= block;
            previous?.LinkTo(block, link);
            previous = transform;
            tail = block;
        }

        return (head!, tail!);
    }

    private static PacketBatch Run(IBatchStage[] group, PacketBatch batch)
    {
        foreach (IBatchStage stage in group)
        {
            stage.Process(batch);
        }

        return batch;
    }
}
