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
        var policy = new RulePolicy("test", ["a", "b"], new PolicyBinding("Alternating", new Dictionary<string, string>(), new Alternating(), -1, 1, DateTimeOffset.UtcNow));
        var rules = new RuleSet(
            [new Rule("test", new RuleMatch(IpProtocols.Udp, null, null, null, null), [new StackRuntime(0, "a", "T", new NullStack()), new StackRuntime(1, "b", "T", new NullStack())], policy, null, null)],
            new Rule("default", RuleMatch.Any, [new StackRuntime(2, "raw", "T", new NullStack())], FirstStackPolicy.Instance, null, null));
        await using var rig = new PipelineRig(rules, stackCount: 3, batches: 32, packetsPerBatch: 64,
            failed: (_, _, e) => throw new InvalidOperationException("stage failed", e), name: "switch-alloc-test");
        byte[] packet = TestPackets.Udp([10, 200, 0, 1], 5000, [10, 201, 0, 2], 7, new byte[1400]);
        var feed = new SteadyFeed(rig.Pool, rig.Head, packet, rounds: 10_000, batchesPerRound: 8);
        rig.Start(feed);

        await feed.Done.Task.WaitAsync(TimeSpan.FromSeconds(120));
        FlowEntry flow = Assert.Single(await rig.OnLoop(() => rig.Flows.Table.Snapshot()));
        Assert.True(flow.Engine.Switches > 10_000, $"{flow.Engine.Switches} switches");
        Assert.Equal(flow.Engine.Switches, flow.Engine.History!.Snapshot().Delays.Count);
        double perPacket = (double)feed.AllocatedInSecondHalf / feed.PacketsInSecondHalf;
        // Nothing per packet: under 1 byte per 1000 packets over more than a million (a one-off allocation by the
        // runtime on this thread under heavy load, such as tiering, is not the data path's and is tolerated).
        Assert.True(perPacket < 0.001, $"{feed.AllocatedInSecondHalf} managed bytes ({perPacket:F4} per packet) allocated while switching every 64 packets");
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
}
