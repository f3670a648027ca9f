using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Configuration;
using VirtualStack.Host.Multipath;
using VirtualStack.Host.Tests.Infrastructure;

namespace VirtualStack.Host.Tests.Multipath;

/// <summary>A multipath flow over two recording stacks: spreading, failover on a fault, migration make before break.</summary>
public sealed class MultipathFlowTests
{
    private static readonly NetEndpoint FarA = new(NetAddress.Parse("10.201.0.2"), 9401);
    private static readonly NetEndpoint FarB = new(NetAddress.Parse("10.202.0.2"), 9402);
    private static readonly byte[] Packet = TestPackets.Udp([10, 200, 0, 1], 5000, [10, 201, 0, 2], 9400, [1, 2, 3, 4]);

    private readonly RecordingStack _a = new("udpA");
    private readonly RecordingStack _b = new("udpB");
    private readonly List<string> _log = [];

    [Fact]
    public void Packets_alternate_over_the_paths_and_replies_from_either_reach_the_flow()
    {
        var sink = new Sink();
        MultipathFlow flow = Create(PathScheduler.WeightedRoundRobin, sink);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(DropReason.None, Send(flow));
        }

        Assert.Equal((5, 5), (_a.Sent.Count, _b.Sent.Count));
        Assert.Equal([FarA], _a.Opened.Select(o => o.Remote));
        Assert.Equal([FarB], _b.Opened.Select(o => o.Remote));
        flow.Paths[0].Deliver([9]);
        flow.Paths[1].Deliver([8]);
        Assert.Equal(2, sink.Delivered);
        Assert.Equal(1, Interlocked.Read(ref flow.Paths[1].PacketsReceived));
    }

    [Fact]
    public void A_faulted_path_is_taken_out_its_traffic_moves_and_it_is_rebuilt()
    {
        MultipathFlow flow = Create(PathScheduler.WeightedRoundRobin, new Sink());
        flow.Paths[0].Fault("reset by peer");
        long now = Environment.TickCount64;
        flow.Check(now);
        Assert.False(flow.Paths[0].Health.Up);
        for (int i = 0; i < 6; i++)
        {
            Send(flow);
        }

        Assert.Equal(6, _b.Sent.Count);
        Assert.Single(_log, l => l.Contains("path a taken out: reset by peer", StringComparison.Ordinal));

        // Rebuilt after the retry delay, then up again (no path answers: nothing to wait for).
        flow.Check(now + 600);
        Assert.Equal(2, _a.Opened.Count);
        Assert.True(flow.Paths[0].Health.Up);
        Assert.Single(_log, l => l.Contains("path a is back", StringComparison.Ordinal));
    }

    [Fact]
    public void Redundant_sends_each_packet_on_every_path()
    {
        MultipathFlow flow = Create(PathScheduler.Redundant, new Sink());
        for (int i = 0; i < 3; i++)
        {
            Send(flow);
        }

        Assert.Equal((3, 3), (_a.Sent.Count, _b.Sent.Count));
    }

    [Fact]
    public void A_path_on_a_link_that_is_down_carries_nothing()
    {
        var link = new LinkState("to-srv2") { Up = false };
        MultipathFlow flow = Create(PathScheduler.WeightedRoundRobin, new Sink(), linkB: link);
        for (int i = 0; i < 4; i++)
        {
            Send(flow);
        }

        Assert.Equal((4, 0), (_a.Sent.Count, _b.Sent.Count));
        link.Up = true;
        flow.Check(Environment.TickCount64);
        for (int i = 0; i < 4; i++)
        {
            Send(flow);
        }

        Assert.Equal(2, _b.Sent.Count);
    }

    [Fact]
    public void Migration_keeps_the_old_stack_flow_until_the_new_one_is_built()
    {
        MultipathFlow flow = Create(PathScheduler.WeightedRoundRobin, new Sink());
        var moved = new NetEndpoint(NetAddress.Parse("10.203.0.2"), 9500);
        _a.OpenGate = new TaskCompletionSource();
        flow.Retarget(0, moved);
        flow.Check(Environment.TickCount64);
        Assert.Equal(moved, _a.Opened[^1].Remote);

        // Still building: path a keeps carrying on its old stack flow.
        for (int i = 0; i < 4; i++)
        {
            Send(flow);
        }

        Assert.Equal(2, _a.Sent.Count);
        Assert.Equal(FarA, flow.Paths[0].Remote);
        _a.OpenGate.SetResult();
        SpinWait.SpinUntil(() => flow.Paths[0].Opening is { IsCompleted: true }, TimeSpan.FromSeconds(5));
        flow.Check(Environment.TickCount64);
        Assert.Equal(moved, flow.Paths[0].Remote);
        Assert.Equal(1, flow.Paths[0].Migrations);
        Assert.Contains(_log, l => l.Contains($"path a moved from {FarA} to {moved}", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData((int)PathScheduler.WeightedRoundRobin)]
    [InlineData((int)PathScheduler.LowestRtt)]
    [InlineData((int)PathScheduler.Redundant)]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)] // no OSR compile inside the measured loop
    public void Sending_allocates_nothing_per_packet(int scheduler)
    {
        var a = new CountingStack();
        var b = new CountingStack();
        MultipathFlow flow = Create((PathScheduler)scheduler, new Sink(), null, a, b);
        long sent = 0;
        for (; sent < 100; sent++)
        {
            Send(flow);
        }

        // A window is at least 20,000 packets and two check intervals, so whatever the send path allocates per packet
        // or per check shows in every window. In the full test run (other tests' GCs and JIT in parallel) a window
        // now and then counts a few hundred bytes that are not the send path's: one send out of 20,000 "allocated"
        // 520 bytes once, and a loop that calls nothing at all showed such jumps in the same run, while these sends
        // measured alone for seconds (hundreds of checks) never allocate. So a window is measured again, up to three
        // times: a clean window passes, a send path that allocates fails all three.
        long[] windows = new long[3];
        bool clean = false;
        for (int w = 0; w < windows.Length && !clean; w++)
        {
            long until = Environment.TickCount64 + (2 * MultipathFlow.CheckIntervalMs) + 1;
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20_000 || Environment.TickCount64 < until; i++)
            {
                Send(flow);
                sent++;
            }

            windows[w] = GC.GetAllocatedBytesForCurrentThread() - before;
            clean = windows[w] == 0;
        }

        Assert.True(clean, $"every window allocated: {string.Join(", ", windows)} bytes");
        Assert.Equal(sent * ((PathScheduler)scheduler == PathScheduler.Redundant ? 2 : 1), a.Sent + b.Sent);
    }

    private MultipathFlow Create(PathScheduler scheduler, IReplySink sink, LinkState? linkB = null, ITransportStack? a = null, ITransportStack? b = null) =>
        MultipathRig.Create(scheduler, a ?? _a, b ?? _b, sink, linkB, l => _log.Add(l));

    private static DropReason Send(MultipathFlow flow) => flow.Send(Packet, MultipathRig.UdpInfo(Packet));

    private sealed class Sink : IReplySink
    {
        public int Delivered;

        public void Deliver(ReadOnlySpan<byte> payload) => Delivered++;

        public void Fault(string reason)
        {
        }
    }
}
