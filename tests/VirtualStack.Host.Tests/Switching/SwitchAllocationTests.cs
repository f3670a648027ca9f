using System.Threading.Tasks.Dataflow;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Decision;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Pipeline;
using VirtualStack.Host.Rules;
using VirtualStack.Host.Stacks;
using VirtualStack.Host.Tests.Infrastructure;

namespace VirtualStack.Host.Tests.Switching;

/// <summary>
/// The data path with a policy plugin in the decision and a switch every 64 packets between two cached stacks
/// (probe, switch record, timings): still no managed allocation per packet, counted on the shard thread itself.
/// </summary>
public sealed class SwitchAllocationTests
{
    [Fact]
    public async Task Switching_every_64_packets_allocates_nothing()
    {
        var counters = new PipelineCounters();
        var policy = new RulePolicy("test", ["a", "b"], new PolicyBinding("Alternating", new Dictionary<string, string>(), new Alternating(), -1, 1, DateTimeOffset.UtcNow));
        var rules = new RuleSet(
            [new Rule("test", new RuleMatch(IpProtocols.Udp, null, null, null, null), [new StackRuntime(0, "a", "T", new NullStack()), new StackRuntime(1, "b", "T", new NullStack())], policy, null, null)],
            new Rule("default", RuleMatch.Any, [new StackRuntime(2, "raw", "T", new NullStack())], FirstStackPolicy.Instance, null, null));
        var flows = new FlowManager(rules, FlowTimeouts.Default, 1000, new RecordingReplyWriter());
        var pool = new PacketBatchPool(32, 64, 2048);
        using var loop = new ShardLoop("switch-alloc-test");
        IBatchStage[] stages =
        [
            new ClassifierStage(counters), new IdExtractorStage(), new DecisionStage(flows, counters),
            new FlowRouterStage(flows, counters), new StackSinkStage(pool, counters, 3),
        ];
        var (head, tail) = PipelineBuilder.Build(stages, 3, fuse: true, loop, (_, _, e) => throw new InvalidOperationException("stage failed", e));
        byte[] packet = TestPackets.Udp([10, 200, 0, 1], 5000, [10, 201, 0, 2], 7, new byte[1400]);
        var feed = new Feed(pool, head, packet, rounds: 10_000, batchesPerRound: 8);
        loop.Start(feed);

        await feed.Done.Task.WaitAsync(TimeSpan.FromSeconds(120));
        head.Complete();
        await tail.Completion.WaitAsync(TimeSpan.FromSeconds(10));

        FlowEntry flow = Assert.Single(flows.Table.Snapshot());
        Assert.True(flow.Engine.Switches > 10_000, $"{flow.Engine.Switches} switches");
        Assert.Equal(flow.Engine.Switches, flow.Engine.History!.Snapshot().Delays.Count);
        double perPacket = (double)feed.AllocatedInSecondHalf / feed.PacketsInSecondHalf;
        Assert.True(feed.AllocatedInSecondHalf == 0, $"{feed.AllocatedInSecondHalf} managed bytes ({perPacket:F3} per packet) allocated while switching every 64 packets");
    }

    /// <summary>A policy plugin's choice that changes every 64 packets.</summary>
    private sealed class Alternating : IDecisionPolicy
    {
        private long _packets;

        public string? Status => null;

        public int Choose(in PacketInfo packet, in FlowContext flow) => (int)((_packets++ / 64) % 2);

        public void Observe(in Measurement measurement)
        {
        }
    }

    /// <summary>Plays the TUN source on the loop thread and measures the second half's allocation there.</summary>
    private sealed class Feed(PacketBatchPool pool, ITargetBlock<PacketBatch?> head, byte[] packet, int rounds, int batchesPerRound) : IShardSource
    {
        private int _round;
        private long _allocatedAtHalf;
        private long _packets;
        private bool _measuring;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long AllocatedInSecondHalf { get; private set; }

        public long PacketsInSecondHalf { get; private set; }

        public int Descriptor => -1;

        public bool WantsRead => false;

        public bool Pump()
        {
            if (_round == rounds / 2 && !_measuring)
            {
                _allocatedAtHalf = GC.GetAllocatedBytesForCurrentThread();
                _packets = 0;
                _measuring = true;
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
