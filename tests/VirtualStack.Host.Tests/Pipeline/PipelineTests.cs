using System.Buffers.Binary;
using System.Threading.Tasks.Dataflow;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Decision;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Pipeline;
using VirtualStack.Host.Rules;
using VirtualStack.Host.Stacks;
using VirtualStack.Host.Tests.Infrastructure;

namespace VirtualStack.Host.Tests.Pipeline;

/// <summary>
/// The Dataflow pipeline on its shard loop, fed batches directly (the TUN source is exercised by the integration
/// tests): order per flow, batch ownership, drops by reason, make-before-break.
/// </summary>
public sealed class PipelineTests
{
    private static readonly byte[] App = [10, 200, 0, 1];
    private static readonly byte[] Server = [10, 201, 0, 2];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Keeps_per_flow_order_and_returns_every_batch_exactly_once(bool fuse)
    {
        var udp = new RecordingStack("udp");
        var raw = new RecordingStack("raw", StackCarries.Packet);
        await using var harness = new PipelineRig(TestRules.Single(new StackRuntime(0, "udp", "T", udp), new StackRuntime(1, "raw", "T", raw)), stackCount: 2, fuse: fuse).Start();

        const int PacketsPerFlow = 500;
        var packets = new List<byte[]>();
        for (int i = 0; i < PacketsPerFlow; i++)
        {
            for (ushort port = 5000; port < 5003; port++)
            {
                packets.Add(TestPackets.Udp(App, port, Server, 7, BitConverter.GetBytes(i)));
            }
        }

        await harness.Feed(packets);

        Assert.Equal(3 * PacketsPerFlow, udp.Sent.Count);
        foreach (var group in udp.Sent.GroupBy(s => s.Flow.SourcePort))
        {
            Assert.Equal(Enumerable.Range(0, PacketsPerFlow), group.Select(s => BitConverter.ToInt32(s.Payload)));
        }

        Assert.Equal(harness.Pool.Size, harness.Pool.Available);
        Assert.Equal(harness.Batches, harness.Counters.Batches);
        Assert.True(udp.Flushes >= harness.Batches, "every batch that sent something was flushed");
        Assert.Equal(0, udp.Pending);
        Assert.Equal(3, harness.Flows.Table.Count);
    }

    [Fact]
    public async Task Malformed_packets_are_counted_and_unparseable_ones_go_to_the_default_stack()
    {
        var udp = new RecordingStack("udp");
        var raw = new RecordingStack("raw", StackCarries.Packet);
        await using var harness = new PipelineRig(TestRules.Single(new StackRuntime(0, "udp", "T", udp), new StackRuntime(1, "raw", "T", raw)), stackCount: 2, fuse: true).Start();

        byte[] good = TestPackets.Udp(App, 5000, Server, 7, [1, 2, 3]);
        byte[] truncated = good[..12];
        byte[] wrongVersion = (byte[])good.Clone();
        wrongVersion[0] = 0x75;
        byte[] tooLong = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(tooLong.AsSpan(2), 400);
        byte[] badUdpLength = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(badUdpLength.AsSpan(24), 300);
        byte[] badChecksum = (byte[])good.Clone();
        badChecksum[10] ^= 0xff;

        await harness.Feed([truncated, wrongVersion, tooLong, badUdpLength, badChecksum, good]);

        Assert.Equal(1, harness.Counters.Drops(DropReason.Truncated));
        Assert.Equal(1, harness.Counters.Drops(DropReason.BadVersion));
        Assert.Equal(1, harness.Counters.Drops(DropReason.BadLength));
        Assert.Equal(1, harness.Counters.BadIpChecksums);
        // The UDP packet whose UDP length disagrees cannot be carried as a payload: it leaves unchanged via raw.
        Assert.Equal(badUdpLength, Assert.Single(raw.Sent).Payload);
        // The good packet and the one with a bad IP checksum (its transport is intact) are carried.
        Assert.Equal(2, udp.Sent.Count);
        Assert.Equal(1, harness.Flows.Table.Count);
    }

    [Fact]
    public async Task Switching_to_a_stack_still_being_built_keeps_the_flow_on_the_current_one()
    {
        var first = new RecordingStack("udp");
        var second = new RecordingStack("dccp") { OpenGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var raw = new RecordingStack("raw", StackCarries.Packet);
        var switcher = new SwitchablePolicy();
        var rules = TestRules.Single(new StackRuntime(0, "udp", "T", first), new StackRuntime(2, "raw", "T", raw), switcher, new StackRuntime(1, "dccp", "T", second));
        await using var harness = new PipelineRig(rules, stackCount: 3, fuse: true).Start();

        await harness.Feed(Enumerable.Range(0, 10).Select(i => TestPackets.Udp(App, 5000, Server, 9000, BitConverter.GetBytes(i))).ToList());
        switcher.Choice = 1;
        await harness.Feed(Enumerable.Range(10, 10).Select(i => TestPackets.Udp(App, 5000, Server, 9000, BitConverter.GetBytes(i))).ToList());
        second.OpenGate.SetResult();
        await Task.Delay(100);
        await harness.Feed(Enumerable.Range(20, 10).Select(i => TestPackets.Udp(App, 5000, Server, 9000, BitConverter.GetBytes(i))).ToList());

        // Nothing lost, nothing duplicated, each stack in order; the switch took effect only once the stack was ready.
        Assert.Equal(Enumerable.Range(0, 20), first.Sent.Select(s => BitConverter.ToInt32(s.Payload)));
        Assert.Equal(Enumerable.Range(20, 10), second.Sent.Select(s => BitConverter.ToInt32(s.Payload)));
        Assert.Equal(0, harness.Counters.TotalDrops);
        FlowEntry flow = Assert.Single(harness.Flows.Table.Snapshot());
        Assert.Equal(1, flow.Engine.Switches);
        Assert.Equal(SlotState.Ready, flow.Engine.Slots[1].State);
    }

    [Fact]
    public async Task A_stage_that_throws_abandons_its_batch_and_the_pipeline_goes_on()
    {
        var udp = new RecordingStack("udp") { ThrowOnPayload = 0x66 };
        var raw = new RecordingStack("raw", StackCarries.Packet);
        await using var harness = new PipelineRig(TestRules.Single(new StackRuntime(0, "udp", "T", udp), new StackRuntime(1, "raw", "T", raw)), stackCount: 2, fuse: true).Start();

        await harness.Feed([TestPackets.Udp(App, 5000, Server, 7, [0x66])]);
        await harness.Feed([TestPackets.Udp(App, 5000, Server, 7, [1]), TestPackets.Udp(App, 5000, Server, 7, [2])]);

        Assert.Equal(1, harness.StageErrors);
        Assert.Equal([[1], [2]], udp.Sent.Select(s => s.Payload));
        Assert.Equal(harness.Pool.Size, harness.Pool.Available);
    }

    private sealed class SwitchablePolicy : IFlowPolicy
    {
        public volatile int Choice;

        public string Name => "Test";

        public int Choose(in PacketInfo info, FlowEntry flow, long now) => Choice;
    }
}
