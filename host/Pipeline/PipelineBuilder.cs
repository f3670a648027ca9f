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

    /// <param name="stages">The stages in order; the last one must return the batch to its pool.</param>
    /// <param name="analysisStages">How many leading stages form the first block when fused.</param>
    /// <param name="fuse">Two blocks (analysis, delivery) instead of one per stage.</param>
    /// <param name="scheduler">The shard loop all blocks run on.</param>
    /// <param name="failed">
    /// Called when a stage throws: the batch is abandoned (the callback returns it to the pool and counts it) and the
    /// pipeline goes on. A bug in one stage must not fault the blocks, which would silently stop the data path.
    /// </param>
    public static (ITargetBlock<PacketBatch?> Head, IDataflowBlock Tail) Build(
        IReadOnlyList<IBatchStage> stages, int analysisStages, bool fuse, TaskScheduler scheduler, Action<PacketBatch, IBatchStage, Exception> failed)
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
        ITargetBlock<PacketBatch?>? head = null;
        ISourceBlock<PacketBatch?>? previous = null;
        IDataflowBlock? tail = null;
        for (int g = 0; g < groups.Length; g++)
        {
            IBatchStage[] group = groups[g];
            bool last = g == groups.Length - 1;
            IPropagatorBlock<PacketBatch?, PacketBatch?>? transform = null;
            ITargetBlock<PacketBatch?> block;
            if (last)
            {
                block = new ActionBlock<PacketBatch?>(batch => Run(group, batch, failed), options);
            }
            else
            {
                transform = new TransformBlock<PacketBatch?, PacketBatch?>(batch => Run(group, batch, failed), options);
                block = transform;
            }

            head ??= block;
            previous?.LinkTo(block, link);
            previous = transform;
            tail = block;
        }

        return (head!, tail!);
    }

    // A batch abandoned by a failed stage travels on as null, so that later blocks skip it.
    private static PacketBatch? Run(IBatchStage[] group, PacketBatch? batch, Action<PacketBatch, IBatchStage, Exception> failed)
    {
        if (batch is null)
        {
            return null;
        }

        IBatchStage? current = null;
        try
        {
            foreach (IBatchStage stage in group)
            {
                current = stage;
                stage.Process(batch);
            }

            return batch;
        }
        catch (Exception e)
        {
            failed(batch, current!, e);
            return null;
        }
    }
}
