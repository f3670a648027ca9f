using System.Threading.Tasks.Dataflow;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Pipeline;
using VirtualStack.Host.Rules;

namespace VirtualStack.Host.Tests.Infrastructure;

/// <summary>
/// The real pipeline stages and blocks on a real shard loop, fed batches directly instead of from a TUN (the TUN
/// source is exercised by the integration tests). Every pipeline test builds on this one rig.
/// </summary>
internal sealed class PipelineRig : IAsyncDisposable
{
    private readonly ITargetBlock<PacketBatch?> _head;
    private readonly IDataflowBlock _tail;
    private bool _started;

    /// <param name="failed">What a stage failure does; by default the batch is counted in <see cref="StageErrors"/> and returned.</param>
    public PipelineRig(
        RuleSet rules, int stackCount, bool fuse = true, int batches = 8, int packetsPerBatch = 16,
        Action<PacketBatch, IBatchStage, Exception>? failed = null, string name = "test-shard",
        int holdPackets = VirtualStack.Host.Configuration.FlowSettings.DefaultHoldPackets)
    {
        Loop = new ShardLoop(name);
        Counters = new PipelineCounters();
        Flows = new FlowManager(rules, FlowTimeouts.Default, 1000, new RecordingReplyWriter(), Counters, holdPackets);
        Pool = new PacketBatchPool(batches, packetsPerBatch, 2048);
        IBatchStage[] stages =
        [
            new ClassifierStage(Counters),
            new IdExtractorStage(),
            new DecisionStage(Flows, Counters),
            new FlowRouterStage(Flows, Counters),
            new StackSinkStage(Pool, Counters, stackCount),
        ];
        (_head, _tail) = PipelineBuilder.Build(stages, 3, fuse, Loop, failed ?? ((batch, _, e) =>
        {
            StageErrors++;
            LastStageError = e;
            Pool.Return(batch);
        }));
    }

    public ShardLoop Loop { get; }

    public ITargetBlock<PacketBatch?> Head => _head;

    public PipelineCounters Counters { get; }

    public FlowManager Flows { get; }

    public PacketBatchPool Pool { get; }

    /// <summary>Batches fed so far.</summary>
    public int Batches { get; private set; }

    /// <summary>Batches a stage failed on (with the default failure handler).</summary>
    public int StageErrors { get; private set; }

    public Exception? LastStageError { get; private set; }

    /// <summary>Starts the loop with nothing to read: tests feed through <see cref="Feed"/>.</summary>
    public PipelineRig Start(IShardSource? source = null)
    {
        _started = true;
        Loop.Start(source);
        return this;
    }

    public Task<T> OnLoop<T>(Func<T> work) => Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.None, Loop);

    /// <summary>Feeds the packets in batches of up to <paramref name="batchSize"/> and waits until every batch is back.</summary>
    public async Task Feed(IReadOnlyList<byte[]> packets, int batchSize = int.MaxValue)
    {
        int next = 0;
        while (next < packets.Count)
        {
            PacketBatch batch;
            while (!Pool.TryRent(out batch))
            {
                await Task.Delay(1);
            }

            while (batch.Count < Math.Min(batch.Capacity, batchSize) && next < packets.Count)
            {
                Fill(batch, packets[next++]);
            }

            batch.ReceivedAt = Environment.TickCount64;
            Batches++;
            await _head.SendAsync(batch);
        }

        // Wait until the pipeline has handed every batch back.
        while (Pool.Available != Pool.Size)
        {
            await Task.Delay(1);
        }
    }

    /// <summary>Appends one packet to a batch as the TUN source would.</summary>
    public static void Fill(PacketBatch batch, ReadOnlySpan<byte> packet)
    {
        packet.CopyTo(batch.Slot(batch.Count));
        batch.Info[batch.Count] = default;
        batch.Info[batch.Count].Length = (ushort)packet.Length;
        batch.Count++;
    }

    public async ValueTask DisposeAsync()
    {
        _head.Complete();
        if (_started)
        {
            await _tail.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        }

        Loop.Dispose();
    }
}
