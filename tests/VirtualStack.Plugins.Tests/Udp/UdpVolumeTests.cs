using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Packets;
using VirtualStack.Plugins.Tests.Infrastructure;
using VirtualStack.Plugins.Udp;

namespace VirtualStack.Plugins.Tests.Udp;

public sealed class UdpVolumeTests
{
    private const int BatchSize = 32;

    [Fact]
    public async Task Ten_thousand_datagrams_through_one_flow_arrive_all_and_in_order()
    {
        const int Total = 10_000;
        const int Window = 256; // datagrams in flight at most: a moderate rate that no loopback buffer overflows at
        using var echo = new UdpEchoServer();
        await using var bed = new UdpTestBed();
        var sink = new TestReplySink();
        UdpFlow flow = bed.Open(echo.Remote, sink);
        var slab = new PacketSlab(BatchSize);
        for (int i = 0; i < BatchSize; i++)
        {
            slab.WriteUdp(i, UdpTestBed.Application, UdpTestBed.Addressed, new byte[512]);
        }

        int sent = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (sent < Total)
        {
            Assert.True(DateTime.UtcNow < deadline, $"stalled after {sent} sent, {sink.Count} back");
            if (sent - sink.Count > Window - BatchSize)
            {
                Thread.Sleep(1);
                continue;
            }

            int n = Math.Min(BatchSize, Total - sent);
            for (int i = 0; i < n; i++)
            {
                BinaryPrimitives.WriteInt32BigEndian(slab.Payload(i), sent + i);
                Assert.Equal(DropReason.None, flow.Send(slab.Packet(i), slab.Info(i)));
            }

            bed.Stack.Flush();
            sent += n;
        }

        Assert.True(sink.WaitFor(Total, TimeSpan.FromSeconds(30)), $"{Total - sink.Count} of {Total} datagrams lost");
        Assert.Equal(Enumerable.Range(0, Total), sink.Sequence());
        Assert.Equal(Total, flow.Stats.PacketsSent);
        Assert.Equal(Total, flow.Stats.PacketsReceived);
        Assert.Equal(Total * 512L, flow.Stats.BytesReceived);
        Assert.Equal(0, flow.Stats.SendErrors);
        Assert.Equal(0, bed.Stack.Counters.Unmatched);
        Assert.Equal(Total, echo.Received);
    }

    [Fact]
    public async Task Send_and_flush_allocate_nothing_in_steady_state()
    {
        // A receiver nobody reads: the kernel drops what overflows it, which the sender never notices.
        using var discard = Loopback.Listener(IPAddress.Loopback);
        await using var bed = new UdpTestBed();
        UdpFlow flow = bed.Open(new(Contracts.Net.NetAddress.FromIPAddress(IPAddress.Loopback), (ushort)((IPEndPoint)discard.LocalEndPoint!).Port), new TestReplySink());
        var slab = new PacketSlab(BatchSize);
        for (int i = 0; i < BatchSize; i++)
        {
            slab.WriteUdp(i, UdpTestBed.Application, UdpTestBed.Addressed, new byte[64]);
        }

        Run(flow, bed.Stack, slab, 2_048); // warm-up: JIT, tiering, first-use paths
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(flow, bed.Stack, slab, 10_016);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(12_064, flow.Stats.PacketsSent);
        Assert.Equal(0, flow.Stats.SendErrors);
        Assert.True(allocated <= 256, $"{allocated} bytes allocated for 10,016 Send+Flush");
    }

    [Fact]
    public async Task The_receive_path_allocates_nothing_per_datagram()
    {
        const int Total = 3_000;
        using var echo = new UdpEchoServer();
        await using var bed = new UdpTestBed();
        var sink = new TestReplySink(keepPayloads: false); // records the receive thread's allocation counter
        UdpFlow flow = bed.Open(echo.Remote, sink);
        var slab = new PacketSlab(BatchSize);
        for (int i = 0; i < BatchSize; i++)
        {
            slab.WriteUdp(i, UdpTestBed.Application, UdpTestBed.Addressed, new byte[64]);
        }

        for (int sent = 0; sent < Total; sent += BatchSize)
        {
            SpinWait.SpinUntil(() => sent - sink.Count < 256, Loopback.Timeout);
            for (int i = 0; i < BatchSize; i++)
            {
                flow.Send(slab.Packet(i), slab.Info(i));
            }

            bed.Stack.Flush();
        }

        Assert.True(sink.WaitFor(Total - 1, Loopback.Timeout));
        Assert.True(sink.AllocatedBetweenFirstAndLast <= 256, $"the receive thread allocated {sink.AllocatedBetweenFirstAndLast} bytes for {sink.Count} datagrams");
    }

    private static void Run(UdpFlow flow, UdpStack stack, PacketSlab slab, int packets)
    {
        for (int sent = 0; sent < packets; sent += BatchSize)
        {
            for (int i = 0; i < BatchSize; i++)
            {
                flow.Send(slab.Packet(i), slab.Info(i));
            }

            stack.Flush();
        }
    }
}
