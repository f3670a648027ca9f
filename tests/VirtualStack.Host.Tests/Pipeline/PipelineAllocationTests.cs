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
        await using var rig = new PipelineRig(
            TestRules.Single(new StackRuntime(0, "udp", "T", new NullStack()), new StackRuntime(1, "raw", "T", new NullStack())),
            stackCount: 2, batches: 32, packetsPerBatch: 64, failed: (_, _, e) => throw new InvalidOperationException("stage failed", e), name: "alloc-test");
        byte[] packet = TestPackets.Udp([10, 200, 0, 1], 5000, [10, 201, 0, 2], 7, new byte[1400]);
        var feed = new SteadyFeed(rig.Pool, rig.Head, packet, rounds: 20_000, batchesPerRound: 8);
        rig.Start(feed);

        await feed.Done.Task.WaitAsync(TimeSpan.FromSeconds(120));
        double perPacket = (double)feed.AllocatedInSecondHalf / feed.PacketsInSecondHalf;
        // Nothing per packet: under 1 byte per 1000 packets over more than a million (a one-off allocation by the
        // runtime on this thread under heavy load, such as tiering, is not the data path's and is tolerated).
        Assert.True(perPacket < 0.001, $"{feed.AllocatedInSecondHalf} managed bytes ({perPacket:F4} per packet) allocated in steady state");
        Assert.Equal(rig.Pool.Size, rig.Pool.Available);
    }
}
