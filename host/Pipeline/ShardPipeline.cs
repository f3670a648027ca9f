using System.Threading.Tasks.Dataflow;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Tun;

namespace VirtualStack.Host.Pipeline;

/// <summary>
/// One shard: a TUN queue, its loop thread, its Dataflow blocks and its flow table. Flows never move between
/// shards, so per-flow order holds and the flow table needs no lock.
/// </summary>
internal sealed class ShardPipeline : IAsyncDisposable
{
    private readonly ShardLoop _loop;
    private readonly TunSource _source;
    private readonly ITargetBlock<PacketBatch?> _head;
    private readonly IDataflowBlock _tail;
    private readonly Timer _sweeper;
    private readonly SweepWork _sweep;
    private int _stopped;
    private bool _started;
    private long _lastStageErrorLog = -10_000;

    public ShardPipeline(
        int index, TunDevice tun, FlowManager flows, PacketBatchPool pool, PipelineCounters counters, int stackCount, bool fuse, Action<string> log)
    {
        Index = index;
        Flows = flows;
        Counters = counters;
        _loop = new ShardLoop($"vs-shard-{index}");
        IBatchStage[] stages =
        [
            new ClassifierStage(counters),
            new IdExtractorStage(),
            new DecisionStage(flows, counters),
            new FlowRouterStage(flows, counters),
            new StackSinkStage(pool, counters, stackCount),
        ];
        StageNames = stages.Select(s => s.Name).ToArray();
        (_head, _tail) = PipelineBuilder.Build(stages, analysisStages: 3, fuse, _loop, (batch, stage, error) =>
        {
            counters.StageErrors++;
            counters.StageErrorPackets += batch.Count;
            pool.Return(batch);
            long now = Environment.TickCount64;
            if (now - _lastStageErrorLog >= 10_000)
            {
                _lastStageErrorLog = now;
                log($"error: stage {stage.Name} failed on a batch of {batch.Count} packets, which were dropped " +
                    $"({counters.StageErrors} batches so far; next report in 10 s at the earliest): {error}");
            }
        });
        _source = new TunSource(tun, pool, _head, counters);
        _sweep = new SweepWork(flows);
        _sweeper = new Timer(static state => ((ShardPipeline)state!).ScheduleSweep(), this, Timeout.Infinite, Timeout.Infinite);
    }

    public int Index { get; }

    public FlowManager Flows { get; }

    public PipelineCounters Counters { get; }

    public IReadOnlyList<string> StageNames { get; }

    public ShardLoop Loop => _loop;

    public void Start()
    {
        _started = true;
        _loop.Start(_source);
        _sweeper.Change(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    // The idle sweep runs on the loop, where the flow table lives, as a reusable work item: a Task per sweep would be
    // the data path's only steady allocation.
    private void ScheduleSweep()
    {
        if (Interlocked.Exchange(ref _sweep.Queued, 1) == 0)
        {
            _loop.Schedule(_sweep);
        }
    }

    private sealed class SweepWork(FlowManager flows) : IShardWork
    {
        public int Queued;

        public void Execute()
        {
            Volatile.Write(ref Queued, 0);
            flows.Sweep(Environment.TickCount64);
        }
    }

    /// <summary>Runs <paramref name="work"/> on the shard thread (where the flow table lives) and returns its result.</summary>
    public Task<T> RunOnLoop<T>(Func<T> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.None, _loop);

    /// <summary>Stops reading, lets the blocks finish the batches they hold, ends every flow, stops the thread.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await _sweeper.DisposeAsync();
        if (!_started)
        {
            // Start never ran (a later start-up step failed): no thread will ever run the blocks, so end here
            // instead of waiting for a completion that cannot come.
            Flows.Table.Clear();
            Flows.Passthrough?.Dispose();
            _loop.Dispose();
            return;
        }

        _source.Stop();
        _head.Complete();
        try
        {
            await _tail.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            // A stack that blocks forever must not hold up shutdown; its packets are lost with the process.
        }

        await RunOnLoop(() =>
        {
            Flows.Table.Clear();
            Flows.Passthrough?.Dispose();
            return 0;
        });
        _loop.Dispose();
    }
}
