using System.Threading.Tasks.Dataflow;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Pipeline;
using VirtualStack.Host.Stacks;
using VirtualStack.Host.Tests.Infrastructure;

namespace VirtualStack.Host.Tests.Pipeline;

/// <summary>
/// Managed allocation of the data path in steady state, counted on the shard thread itself (every block runs there),
/// so other tests running in parallel cannot disturb the figure.
/// </summary>
public sealed class PipelineAllocationTests
{
    [Fact]
    public async Task Steady_state_allocates_nothing()
    {
        var counters = new PipelineCounters();
        var flows = new FlowManager(
            TestRules.Single(new StackRuntime(0, "udp", "T", new NullStack()), new StackRuntime(1, "raw", "T", new NullStack())),
            FlowTimeouts.Default, 1000, new RecordingReplyWriter());
        var pool = new PacketBatchPool(32, 64, 2048);
        using var loop = new ShardLoop("alloc-test");
        IBatchStage[] stages =
        [
            new ClassifierStage(counters), new IdExtractorStage(), new DecisionStage(flows, counters),
            new FlowRouterStage(flows, counters), new StackSinkStage(pool, counters, 2),
        ];
        var (head, tail) = PipelineBuilder.Build(stages, 3, fuse: true, loop, (_, _, e) => throw new InvalidOperationException("stage failed", e));
        byte[] packet = TestPackets.Udp([10, 200, 0, 1], 5000, [10, 201, 0, 2], 7, new byte[1400]);
        var feed = new Feed(pool, head, packet, rounds: 20_000, batchesPerRound: 8);
        loop.Start(feed);

        await feed.Done.Task.WaitAsync(TimeSpan.FromSeconds(120));
        head.Complete();
        await tail.Completion.WaitAsync(TimeSpan.FromSeconds(10));

        double perPacket = (double)feed.AllocatedInSecondHalf / feed.PacketsInSecondHalf;
        Assert.True(feed.AllocatedInSecondHalf == 0, $"{feed.AllocatedInSecondHalf} managed bytes ({perPacket:F3} per packet) allocated in steady state");
        Assert.Equal(pool.Size, pool.Available);
    }

    /// <summary>Plays the TUN source: fills batches on the loop thread, several per round as the real source does.</summary>
    private sealed class Feed(PacketBatchPool pool, ITargetBlock<PacketBatch?> head, byte[] packet, int rounds, int batchesPerRound) : IShardSource
    {
        private int _round;
        private long _allocatedAtHalf;
        private long _packets;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long AllocatedInSecondHalf { get; private set; }

        public long PacketsInSecondHalf { get; private set; }

        public int Descriptor => -1;

        public bool WantsRead => false;

        public bool Pump()
        {
            if (_round == rounds / 2)
            {
                _allocatedAtHalf = GC.GetAllocatedBytesForCurrentThread();
                _packets = 0;
            }

            if (_round >= rounds)
            {
                if (pool.Available == pool.Size && !Done.Task.IsCompleted)
                {
                    AllocatedInSecondHalf = GC.GetAllocatedBytesForCurrentThread() - _allocatedAtHalf;
                    PacketsInSecondHalf = _packets;
                    Done.TrySetResult();
                }

                return false;
            }

            int posted = 0;
            while (posted < batchesPerRound && pool.TryRent(out PacketBatch batch))
            {
                for (int i = 0; i < batch.Capacity; i++)
                {
                    packet.CopyTo(batch.Slot(i));
                    batch.Info[i] = default;
                    batch.Info[i].Length = (ushort)packet.Length;
                }

                batch.Count = batch.Capacity;
                if (!head.Post(batch))
                {
                    pool.Return(batch);
                    break;
                }

                _packets += batch.Count;
                posted++;
            }

            if (posted > 0)
            {
                _round++;
            }

            return true;
        }
    }

    private sealed class NullStack : ITransportStack
    {
        public string Name => "null";

        public StackCarries Carries => StackCarries.Payload;

        public ValueTask<IStackFlow> Open(FlowKey flow, NetEndpoint remote, IReplySink replies, CancellationToken cancellationToken) =>
            ValueTask.FromResult<IStackFlow>(new NullFlow());

        public void Flush()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private sealed class NullFlow : IStackFlow
        {
            public StackFlowStats Stats { get; } = new();

            public DropReason Send(ReadOnlySpan<byte> packet, in PacketInfo info) => DropReason.None;

            public void Dispose()
            {
            }
        }
    }
}
