namespace VirtualStack.Host.Pipeline;

/// <summary>One logical stage of the pipeline, applied to a whole batch on the shard thread.</summary>
/// <remarks>
/// Stages are plain classes; the <see cref="PipelineBuilder"/> decides how they map to Dataflow blocks (one block
/// per stage, or the CPU stages fused into one block, which is faster on two cores: shared/dotnet-design.md (iv)).
/// </remarks>
internal interface IBatchStage
{
    string Name { get; }

    void Process(PacketBatch batch);
}
