using System.Net;
using System.Net.Sockets;
using System.Text;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Tests.Infrastructure;
using VirtualStack.Plugins.Udp;

namespace VirtualStack.Plugins.Tests.Udp;

public sealed class UdpStackTests
{
    [Fact]
    public async Task Reply_from_a_real_echo_server_reaches_the_flows_sink()
    {
        using var echo = new UdpEchoServer();
        await using var bed = new UdpTestBed();
        var sink = new TestReplySink();
        UdpFlow flow = bed.Open(echo.Remote, sink);

        byte[] payload = Encoding.ASCII.GetBytes("hello through the udp stack");
        bed.SendAndFlush(flow, new PacketSlab(1), payload);

        Assert.True(sink.WaitFor(1, Loopback.Timeout), "no reply arrived");
        Assert.Equal(payload, Assert.Single(sink.Payloads));
        Assert.Equal(1, flow.Stats.PacketsSent);
        Assert.Equal(payload.Length, flow.Stats.BytesSent);
        Assert.Equal(1, flow.Stats.PacketsReceived);
        Assert.Equal(payload.Length, flow.Stats.BytesReceived);
        Assert.Equal(0, flow.Stats.SendErrors);
        Assert.Equal(StackCarries.Payload, bed.Stack.Carries);
        Assert.Equal(1, echo.Received);
    }

    [SkippableFact]
    public async Task Ipv6_flow_works_on_an_ipv6_socket()
    {
        Skip.IfNot(Loopback.HasIpv6, Loopback.NoIpv6);
        using var echo = new UdpEchoServer(IPAddress.IPv6Loopback);
        await using var bed = new UdpTestBed();
        var sink = new TestReplySink();
        UdpFlow flow = bed.Open(echo.Remote, sink);

        bed.SendAndFlush(flow, new PacketSlab(2), [1, 2, 3, 4], [5, 6, 7]);

        Assert.True(sink.WaitFor(2, Loopback.Timeout), "no reply arrived over IPv6");
        Assert.Equal(1, bed.Stack.SocketCount(v6: true));
        Assert.Equal(0, bed.Stack.SocketCount(v6: false));
        Assert.Equal([[1, 2, 3, 4], [5, 6, 7]], sink.Payloads.ToArray());
    }

    [Fact]
    public async Task Flows_to_different_far_ends_share_one_socket_and_each_gets_its_own_replies()
    {
        const int Flows = 16;
        var servers = Enumerable.Range(0, Flows).Select(_ => new UdpEchoServer()).ToArray();
        try
        {
            await using var bed = new UdpTestBed();
            var sinks = new TestReplySink[Flows];
            var flows = new UdpFlow[Flows];
            for (int i = 0; i < Flows; i++)
            {
                sinks[i] = new TestReplySink();
                flows[i] = bed.Open(servers[i].Remote, sinks[i], 40_000 + i);
            }

            Assert.Equal(1, bed.Stack.SocketCount(v6: false));
            var slab = new PacketSlab(Flows);
            for (int i = 0; i < Flows; i++)
            {
                ref PacketInfo info = ref slab.WriteUdp(i, UdpTestBed.Application, UdpTestBed.Addressed, Encoding.ASCII.GetBytes($"flow {i}"));
                Assert.Equal(DropReason.None, flows[i].Send(slab.Packet(i), info));
            }

            bed.Stack.Flush();
            for (int i = 0; i < Flows; i++)
            {
                Assert.True(sinks[i].WaitFor(1, Loopback.Timeout), $"flow {i} got no reply");
                Assert.Equal($"flow {i}", Encoding.ASCII.GetString(Assert.Single(sinks[i].Payloads)));
            }

            // One socket: every server saw the same source port.
            Assert.Single(servers.SelectMany(s => s.Sources.Keys).Select(e => e.Port).Distinct());
            Assert.Equal(0, bed.Stack.Counters.Unmatched);
        }
        finally
        {
            foreach (UdpEchoServer server in servers)
            {
                server.Dispose();
            }
        }
    }

    [Fact]
    public async Task Two_flows_to_the_same_far_end_get_different_sockets()
    {
        using var echo = new UdpEchoServer();
        using var other = new UdpEchoServer();
        await using var bed = new UdpTestBed();
        var first = new TestReplySink();
        var second = new TestReplySink();
        var third = new TestReplySink();
        UdpFlow a = bed.Open(echo.Remote, first, 40_001);
        UdpFlow b = bed.Open(echo.Remote, second, 40_002);
        UdpFlow c = bed.Open(other.Remote, third, 40_003);

        Assert.NotSame(a.Socket, b.Socket);
        Assert.Same(a.Socket, c.Socket); // the first socket has room for a far end it does not carry yet
        Assert.Equal(2, bed.Stack.SocketCount(v6: false));

        bed.SendAndFlush(a, new PacketSlab(1), "from a"u8.ToArray());
        bed.SendAndFlush(b, new PacketSlab(1), "from b"u8.ToArray());
        bed.SendAndFlush(c, new PacketSlab(1), "from c"u8.ToArray());

        Assert.True(first.WaitFor(1, Loopback.Timeout) && second.WaitFor(1, Loopback.Timeout) && third.WaitFor(1, Loopback.Timeout));
        Assert.Equal("from a"u8.ToArray(), Assert.Single(first.Payloads));
        Assert.Equal("from b"u8.ToArray(), Assert.Single(second.Payloads));
        Assert.Equal("from c"u8.ToArray(), Assert.Single(third.Payloads));
        Assert.Equal(2, echo.Sources.Count);
        Assert.Equal(
            echo.Sources.Keys.Select(e => e.Port).Order(),
            new[] { (int)a.Socket.LocalPort, b.Socket.LocalPort }.Order());
    }

    [Fact]
    public async Task Disposing_a_flow_frees_its_far_end_and_an_idle_extra_socket_is_closed()
    {
        using var echo = new UdpEchoServer();
        await using var bed = new UdpTestBed();
        UdpFlow a = bed.Open(echo.Remote, new TestReplySink());
        UdpFlow b = bed.Open(echo.Remote, new TestReplySink(), 40_001);
        Assert.Equal(2, bed.Stack.SocketCount(v6: false));
        ushort secondPort = b.Socket.LocalPort;

        b.Dispose();
        bed.Stack.Flush();
        Assert.Equal(1, bed.Stack.SocketCount(v6: false));
        Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref bed.Stack.Counters.SocketsClosed) == 1, Loopback.Timeout), "the idle socket was not closed");
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Any, secondPort)); // free again: the socket really is closed
        }

        // The first socket stays, and the freed far end can be used on it again once its flow is gone.
        a.Dispose();
        bed.Stack.Flush();
        Assert.Equal(1, bed.Stack.SocketCount(v6: false));
        var sink = new TestReplySink();
        UdpFlow again = bed.Open(echo.Remote, sink);
        Assert.Same(a.Socket, again.Socket);
        bed.SendAndFlush(again, new PacketSlab(1), "again"u8.ToArray());
        Assert.True(sink.WaitFor(1, Loopback.Timeout));
        Assert.Equal(DropReason.ShuttingDown, a.Send(new byte[40], default));
    }

    [Fact]
    public async Task Datagrams_from_a_source_that_is_no_flows_far_end_are_counted_not_delivered()
    {
        using var echo = new UdpEchoServer();
        using var stranger = new UdpEchoServer();
        await using var bed = new UdpTestBed();
        var sink = new TestReplySink();
        UdpFlow flow = bed.Open(echo.Remote, sink);

        stranger.SendTo(new IPEndPoint(IPAddress.Loopback, flow.Socket.LocalPort), [9, 9, 9]);

        Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref bed.Stack.Counters.Unmatched) == 1, Loopback.Timeout));
        Assert.Equal(0, sink.Count);

        // The far end speaking first is matched.
        echo.SendTo(new IPEndPoint(IPAddress.Loopback, flow.Socket.LocalPort), [1, 2]);
        Assert.True(sink.WaitFor(1, Loopback.Timeout));
        Assert.Equal(1, Interlocked.Read(ref bed.Stack.Counters.Unmatched));
    }

    [Fact]
    public async Task Packets_a_payload_stack_cannot_carry_are_refused_with_a_reason()
    {
        using var echo = new UdpEchoServer();
        await using var bed = new UdpTestBed();
        UdpFlow flow = bed.Open(echo.Remote, new TestReplySink());
        var slab = new PacketSlab(1);
        slab.WriteUdp(0, UdpTestBed.Application, UdpTestBed.Addressed, new byte[100]);
        PacketInfo good = slab.Info(0);

        PacketInfo fragment = good;
        fragment.Flags |= PacketFlags.Fragment;
        PacketInfo unparsed = good;
        unparsed.Flags = PacketFlags.None;
        PacketInfo tcp = good;
        tcp.Protocol = IpProtocols.Tcp;
        PacketInfo overrun = good;
        overrun.PayloadLength = 200;

        Assert.Equal(DropReason.Unsupported, flow.Send(slab.Packet(0), fragment));
        Assert.Equal(DropReason.Unsupported, flow.Send(slab.Packet(0), unparsed));
        Assert.Equal(DropReason.Unsupported, flow.Send(slab.Packet(0), tcp));
        Assert.Equal(DropReason.BadLength, flow.Send(slab.Packet(0), overrun));
        bed.Stack.Flush();
        Assert.Equal(0, flow.Stats.PacketsSent);
        Assert.Equal(0, echo.Received);
    }

    [Fact]
    public async Task A_payload_bigger_than_udp_can_carry_to_the_far_end_is_too_big()
    {
        // An IPv6 application may send 65,527 bytes of payload; NAT to an IPv4 far end allows 65,507.
        using var echo = new UdpEchoServer();
        await using var bed = new UdpTestBed();
        UdpFlow flow = bed.Open(echo.Remote, new TestReplySink());
        var slab = new PacketSlab(1, slotSize: 65_600);
        ref PacketInfo info = ref slab.WriteUdp(0, UdpTestBed.Application6, UdpTestBed.Addressed6, new byte[UdpFlow.MaxPayloadV4 + 1]);

        // PacketInfo.Length (16 bits) cannot hold this IPv6 packet's length, so hand over the whole slot.
        Assert.Equal(DropReason.TooBig, flow.Send(slab.Slot(0), info));

        // The largest one that fits goes through whole.
        var sink = new TestReplySink();
        UdpFlow other = bed.Open(echo.Remote, sink, 40_001);
        info = ref slab.WriteUdp(0, UdpTestBed.Application6, UdpTestBed.Addressed6, new byte[UdpFlow.MaxPayloadV4]);
        Assert.Equal(DropReason.None, other.Send(slab.Slot(0), info));
        bed.Stack.Flush();
        Assert.True(sink.WaitFor(1, Loopback.Timeout), "the largest datagram did not come back");
        Assert.Equal(UdpFlow.MaxPayloadV4, Assert.Single(sink.Payloads).Length);
    }

    [Fact]
    public async Task A_refused_message_is_counted_on_its_flow_and_the_rest_of_the_batch_still_goes()
    {
        // Port 0 is refused by the kernel (EINVAL) for that one message only.
        using var echo = new UdpEchoServer();
        using var echo2 = new UdpEchoServer();
        await using var bed = new UdpTestBed();
        var before = new TestReplySink();
        var after = new TestReplySink();
        UdpFlow good1 = bed.Open(echo.Remote, before, 40_001);
        UdpFlow bad = bed.Open(new(echo.Remote.Address, 0), new TestReplySink(), 40_002);
        UdpFlow good2 = bed.Open(echo2.Remote, after, 40_003);
        Assert.Equal(1, bed.Stack.SocketCount(v6: false));

        var slab = new PacketSlab(6);
        UdpFlow[] order = [good1, bad, good2, bad, good1, good2];
        for (int i = 0; i < order.Length; i++)
        {
            ref PacketInfo info = ref slab.WriteUdp(i, UdpTestBed.Application, UdpTestBed.Addressed, [(byte)i]);
            Assert.Equal(DropReason.None, order[i].Send(slab.Packet(i), info));
        }

        bed.Stack.Flush();

        Assert.True(before.WaitFor(2, Loopback.Timeout) && after.WaitFor(2, Loopback.Timeout), "messages after a refused one were lost");
        Assert.Equal(2, bad.Stats.SendErrors);
        Assert.Equal(0, bad.Stats.PacketsSent);
        Assert.Equal(2, good1.Stats.PacketsSent);
        Assert.Equal(2, good2.Stats.PacketsSent);
        Assert.Equal(2, bed.Stack.Counters.SendErrors);
        Assert.Equal(4, bed.Stack.Counters.DatagramsSent);
        Assert.Contains(bed.Host.Lines, line => line.Contains("refused", StringComparison.Ordinal) && line.Contains("EINVAL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task More_packets_for_one_socket_than_a_batch_holds_are_all_sent()
    {
        using var echo = new UdpEchoServer();
        await using var bed = new UdpTestBed(options: ("SendBatch", "4"));
        var sink = new TestReplySink();
        UdpFlow flow = bed.Open(echo.Remote, sink);

        bed.SendAndFlush(flow, new PacketSlab(10), Enumerable.Range(0, 10).Select(i => new byte[] { 0, 0, 0, (byte)i }).ToArray());

        Assert.True(sink.WaitFor(10, Loopback.Timeout));
        Assert.Equal(Enumerable.Range(0, 10), sink.Sequence());
    }

    [Fact]
    public async Task Dispose_stops_the_receive_thread_closes_the_sockets_and_refuses_further_work()
    {
        using var echo = new UdpEchoServer();
        var bed = new UdpTestBed();
        UdpFlow flow = bed.Open(echo.Remote, new TestReplySink());
        ushort port = flow.Socket.LocalPort;
        Assert.True(bed.Stack.IsReceiving);

        await bed.DisposeAsync();

        Assert.False(bed.Stack.IsReceiving);
        Assert.Equal(1, bed.Stack.Counters.SocketsClosed);
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Any, port));
        }

        var slab = new PacketSlab(1);
        ref PacketInfo info = ref slab.WriteUdp(0, UdpTestBed.Application, UdpTestBed.Addressed, [1]);
        Assert.Equal(DropReason.ShuttingDown, flow.Send(slab.Packet(0), info));
        bed.Stack.Flush();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await bed.Stack.Open(UdpTestBed.Key(), echo.Remote, new TestReplySink(), CancellationToken.None));
        await bed.DisposeAsync(); // twice is harmless
    }

    [Fact]
    public async Task A_sink_may_dispose_the_stack_from_the_receive_thread()
    {
        using var echo = new UdpEchoServer();
        var bed = new UdpTestBed();
        var sink = new DisposingSink(bed.Stack);
        UdpFlow flow = bed.Open(echo.Remote, sink);

        bed.SendAndFlush(flow, new PacketSlab(1), [1]);

        Assert.True(SpinWait.SpinUntil(() => !bed.Stack.IsReceiving, Loopback.Timeout), "the receive thread did not end");
        Assert.Equal(1, sink.Calls);
        Assert.Equal(1, Interlocked.Read(ref bed.Stack.Counters.SocketsClosed));
        await bed.DisposeAsync();
    }

    [SkippableFact]
    public async Task Every_socket_carries_the_hosts_mark()
    {
        Skip.IfNot(Privileges.IsRoot, Privileges.NeedsRoot);
        using var echo = new UdpEchoServer();
        const int Mark = 0x5a17;
        await using var bed = new UdpTestBed(Mark);
        UdpFlow a = bed.Open(echo.Remote, new TestReplySink(), 40_001);
        UdpFlow b = bed.Open(echo.Remote, new TestReplySink(), 40_002);

        Assert.Equal(Mark, SocketOption.Get(a.Socket.Fd, SocketOption.SoMark));
        Assert.Equal(Mark, SocketOption.Get(b.Socket.Fd, SocketOption.SoMark));

        // Root may exceed net.core.rmem_max: the forced size (doubled by the kernel) is in place.
        Assert.True(SocketOption.Get(a.Socket.Fd, SocketOption.SoRcvBuf) >= 4 << 20);
    }

    [Fact]
    public async Task Without_a_mark_no_mark_is_set()
    {
        using var echo = new UdpEchoServer();
        await using var bed = new UdpTestBed();
        UdpFlow flow = bed.Open(echo.Remote, new TestReplySink());
        Assert.Equal(0, SocketOption.Get(flow.Socket.Fd, SocketOption.SoMark));
    }

    [SkippableFact]
    public async Task Opening_without_the_right_to_set_the_mark_fails_with_a_clear_message()
    {
        Skip.IfNot(Privileges.IsRoot, Privileges.NeedsRoot);
        using var echo = new UdpEchoServer();
        await using var bed = new UdpTestBed(0x5a17);

        // Since Linux 5.17 either capability allows SO_MARK.
        Exception error = Privileges.RunWithout([Privileges.CapNetAdmin, Privileges.CapNetRaw], () =>
            Record.Exception(() => bed.Stack.Open(UdpTestBed.Key(), echo.Remote, new TestReplySink(), CancellationToken.None).AsTask().GetAwaiter().GetResult()))!;

        Assert.NotNull(error);
        Assert.Contains("SO_MARK", error.Message, StringComparison.Ordinal);
        Assert.Contains("CAP_NET_ADMIN", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, bed.Stack.SocketCount(v6: false));
        Assert.Equal(1, bed.Stack.Counters.OpenFailures);
    }

    private sealed class DisposingSink(UdpStack stack) : IReplySink
    {
        public int Calls;

        public void Deliver(ReadOnlySpan<byte> payload)
        {
            Calls++;
            stack.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        public void Fault(string reason)
        {
        }
    }
}
