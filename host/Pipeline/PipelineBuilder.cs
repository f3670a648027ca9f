using System.Threading.Tasks.Dataflow;

namespace VirtualStack.Host.Pipeline;

/// <summary>
/// Wires the stages into Dataflow blocks (<see cref="ShardStageBlock"/>) that all run on the shard's loop thread:
/// either one block per stage (TUN source -> classifier -> ID extractor -> decision -> flow router -> stack sink), or, by default, the stages
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
    /// <param name="loop">The shard loop all blocks run on.</param>
    /// <param name="failed">
    /// Called when a stage throws: the batch is abandoned (the callback returns it to the pool and counts it) and the
    /// pipeline goes on. A bug in one stage must not fault the blocks, which would silently stop the data path.
    /// </param>
    public static (ITargetBlock<PacketBatch?> Head, IDataflowBlock Tail) Build(
        IReadOnlyList<IBatchStage> stages, int analysisStages, bool fuse, ShardLoop loop, Action<PacketBatch, IBatchStage, Exception> failed)
    {
        IBatchStage[][] groups = fuse
            ? [stages.Take(analysisStages).ToArray(), stages.Skip(analysisStages).ToArray()]
            : stages.Select(stage => new[] { stage }).ToArray();

        var link = new DataflowLinkOptions { PropagateCompletion = true };
        ShardStageBlock? head = null;
        ShardStageBlock? previous = null;
        foreach (IBatchStage[] group in groups)
        {
            var block = new ShardStageBlock(group, loop, BoundedCapacity, failed);
            head ??= block;
            previous?.LinkTo(block, link);
            previous = block;
        }

        return (head!, previous!);
    }
}
