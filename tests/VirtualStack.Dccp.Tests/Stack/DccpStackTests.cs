using System.Buffers.Binary;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Plugins;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Dccp;
using VirtualStack.Plugins.Dccp.Endpoint;
using VirtualStack.Plugins.Dccp.Stack;
using VirtualStack.Plugins.Dccp.Transport;

namespace VirtualStack.Dccp.Tests.Stack;

/// <summary>
/// The Dccp stack plugin end to end over real sockets: a flow's payloads become one DCCP connection to a real
/// endpoint (DCCP-UDP over loopback for any user, raw IP protocol 33 as root), replies come back to the flow's
/// sink, and a connection that dies is reported as a fault.
/// </summary>
[Collection(RawLoopbackCollection.Name)]
public class DccpStackTests
{
    private static readonly NetAddress Loopback = NetAddress.Parse("127.0.0.1");

    [Fact]
    public void Plugin_registers_the_Dccp_stack_and_validates_its_options()
    {
        var registry = new Registry();
        new DccpPluginModule().Register(registry);
        IStackFactory factory = Assert.Single(registry.Stacks);
        Assert.Equal("Dccp", factory.Name);
        Assert.Equal("dccp", Assert.Single(registry.Commands).Name);

        Assert.Null(factory.Validate(Options(("Ccid", "2"), ("Service", "0x52545056"), ("Transport", "udp"), ("Port", "6511"), ("Mtu", "1400"))));
        Assert.Null(factory.Validate(Options(("Service", "RTPV"), ("StatsLogMs", "500"), ("DeadPeerMs", "0"), ("SendQueue", "64"), ("ConnectTimeoutMs", "1000"))));
        Assert.Contains("Ccid", factory.Validate(Options(("Ccid", "3"))), StringComparison.Ordinal);
        Assert.Contains("Transport", factory.Validate(Options(("Transport", "tcp"))), StringComparison.Ordinal);
        Assert.Contains("Mtu", factory.Validate(Options(("Mtu", "100"))), StringComparison.Ordinal);
        Assert.Contains("Service", factory.Validate(Options(("Service", "4294967295"))), StringComparison.Ordinal);
        Assert.Contains("unknown option 'Colour'", factory.Validate(Options(("Colour", "red"))), StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => factory.Create(Options(("Port", "-1")), new TestStackHost()));
    }

    [Fact]
    public async Task Udp_flow_rides_one_dccp_connection_both_ways_without_allocating_per_packet()
    {
        await using var server = EchoServer.StartUdp(service: 77);
        await using ITransportStack stack = CreateStack(("Transport", "udp"), ("Service", "77"));
        var sink = new TestReplySink();
        IStackFlow flow = await stack.Open(UdpPacket.Flow(), new NetEndpoint(Loopback, server.Port), sink, CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        var packet = new UdpPacket(UdpPacket.Flow(), 1000);
        "hello over dccp"u8.CopyTo(packet.Payload);
        packet.Info.PayloadLength = 15;
        Assert.Equal(DropReason.None, flow.Send(packet.Bytes, packet.Info));
        stack.Flush();
        Assert.Equal("hello over dccp", System.Text.Encoding.ASCII.GetString(await sink.NextReplyAsync(TimeSpan.FromSeconds(10))));
        Assert.Equal(77u, server.LastServiceCode);

        // Steady state: a paced stream allocates nothing per packet on the sending thread (after warm-up and tiering).
        packet.Info.PayloadLength = 1000;
        for (int i = 0; i < 3000; i++)
        {
            flow.Send(packet.Bytes, packet.Info);
            stack.Flush();
            Thread.SpinWait(2000);
        }

        const int Measured = 2000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        int accepted = 0;
        for (int i = 0; i < Measured; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(packet.Payload, i);
            accepted += flow.Send(packet.Bytes, packet.Info) == DropReason.None ? 1 : 0;
            stack.Flush();
            Thread.SpinWait(2000);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < Measured, $"{allocated} bytes allocated for {Measured} sends");
        Assert.True(accepted > Measured / 2, $"only {accepted} of {Measured} accepted");

        // Wait until the echoes stop, then every one the connection received went to the sink. (The echo server
        // refuses what its own CCID 2 window cannot take at this rate: DCCP is unreliable, so not all come back.)
        long last = -1;
        while (flow.Stats.PacketsReceived != last)
        {
            last = flow.Stats.PacketsReceived;
            await Task.Delay(500);
        }

        Assert.True(flow.Stats.PacketsReceived >= 200, $"only {flow.Stats.PacketsReceived} echoes came back");
        Assert.Equal(flow.Stats.PacketsReceived, sink.Replies.Count + 1);
        Assert.True(flow.Stats.PacketsSent >= 3000);
        flow.Dispose();
        await server.WaitClosedAsync(TimeSpan.FromSeconds(10)); // Dispose closes gracefully: the server sees the Close
        Assert.Empty(sink.Faults);
    }

    [Fact]
    public async Task A_reset_connection_is_reported_as_a_fault_and_a_new_open_works()
    {
        await using var server = EchoServer.StartUdp(service: 0);
        await using ITransportStack stack = CreateStack(("Transport", "udp"));
        var sink = new TestReplySink();
        IStackFlow flow = await stack.Open(UdpPacket.Flow(), new NetEndpoint(Loopback, server.Port), sink, CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        await server.WaitAcceptedAsync(TimeSpan.FromSeconds(10));
        server.AbortAll();
        string fault = await sink.NextFaultAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("reset by peer", fault, StringComparison.Ordinal);
        var packet = new UdpPacket(UdpPacket.Flow(), 10);
        Assert.Equal(DropReason.StackNotReady, flow.Send(packet.Bytes, packet.Info));
        flow.Dispose();

        IStackFlow again = await stack.Open(UdpPacket.Flow(), new NetEndpoint(Loopback, server.Port), sink, CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(DropReason.None, again.Send(packet.Bytes, packet.Info));
        Assert.Equal(10, (await sink.NextReplyAsync(TimeSpan.FromSeconds(10))).Length);
        again.Dispose();
    }

    [Fact]
    public async Task A_far_end_that_vanishes_fills_the_queue_then_drops_and_is_reported_dead()
    {
        var server = EchoServer.StartUdp(service: 0);
        await using ITransportStack stack = CreateStack(("Transport", "udp"), ("SendQueue", "16"), ("DeadPeerMs", "1500"));
        var sink = new TestReplySink();
        IStackFlow flow = await stack.Open(UdpPacket.Flow(), new NetEndpoint(Loopback, server.Port), sink, CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        await server.WaitAcceptedAsync(TimeSpan.FromSeconds(10));
        await server.KillAsync(); // gone without a Reset, like kill -9

        var packet = new UdpPacket(UdpPacket.Flow(), 500);
        int dropped = 0;
        var started = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 200; i++)
        {
            DropReason drop = flow.Send(packet.Bytes, packet.Info);
            Assert.True(started.ElapsedMilliseconds < 1000, "Send must never wait for the window");
            dropped += drop == DropReason.StackError ? 1 : 0;
        }

        Assert.True(dropped >= 150, $"{dropped} dropped"); // the initial window plus 16 queued, the rest dropped
        Assert.Equal(dropped, flow.Stats.SendErrors);
        string fault = await sink.NextFaultAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("peer not responding", fault, StringComparison.Ordinal);
        flow.Dispose();
    }

    [SkippableTheory]
    [InlineData("udp")]
    [InlineData("raw")]
    public async Task Open_returns_at_once_and_creates_the_endpoint_and_starts_the_handshake_on_another_thread(string transport)
    {
        Skip.If(transport == "raw" && !Environment.IsPrivilegedProcess, "raw IP protocol 33 needs root or CAP_NET_RAW");
        await using ITransportStack stack = CreateStack(("Transport", transport), ("ConnectTimeoutMs", "600"));
        using var unused = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        unused.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0)); // nothing answers DCCP here
        var far = new NetEndpoint(Loopback, (ushort)((System.Net.IPEndPoint)unused.LocalEndPoint!).Port);

        // The stack's first Open (no endpoint yet: a socket and a thread to create, a handshake to start), from a
        // thread of its own standing in for the pipeline thread. 50 ms is a bound for "did not block", not a target.
        ValueTask<IStackFlow> opening = default;
        TimeSpan took = default;
        bool completedOnReturn = true;
        var caller = new Thread(() =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            opening = stack.Open(UdpPacket.Flow(), far, new TestReplySink(), CancellationToken.None);
            took = clock.Elapsed;
            // Looked at the moment Open returns, on the calling thread: by the time this test thread looks, the work
            // started elsewhere may have ended (a loaded machine can deschedule the test between Join and the check).
            completedOnReturn = opening.IsCompleted;
        });
        caller.Start();
        caller.Join();
        Assert.False(completedOnReturn, "Open must not complete (or fail) on the calling thread");
        Assert.True(took < TimeSpan.FromMilliseconds(50), $"Open took {took.TotalMilliseconds} ms on the calling thread");

        // The work happened elsewhere: the endpoint exists and the handshake ran to its limit.
        await Assert.ThrowsAsync<DccpException>(() => opening.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, ((DccpStack)stack).EndpointCount);
    }

    [Fact]
    public async Task EarlyOpen_flow_is_ready_at_once_and_what_it_is_sent_before_its_connection_exists_arrives()
    {
        await using var server = EchoServer.StartUdp(service: 0);
        await using ITransportStack stack = CreateStack(("Transport", "udp"), ("EarlyOpen", "true"));
        var sink = new TestReplySink();
        var packet = new UdpPacket(UdpPacket.Flow(), 10);
        IStackFlow? flow = null;
        DropReason sent = DropReason.StackError;
        TimeSpan took = default;
        var caller = new Thread(() =>
        {
            // The stack's first Open (its endpoint is still to be made) and a Send straight after, as the pipeline
            // thread does with the packet that asked for the flow. 50 ms: a bound for "did not block".
            var clock = System.Diagnostics.Stopwatch.StartNew();
            ValueTask<IStackFlow> opening = stack.Open(UdpPacket.Flow(), new NetEndpoint(Loopback, server.Port), sink, CancellationToken.None);
            took = clock.Elapsed;
            flow = opening.IsCompletedSuccessfully ? opening.Result : null;
            sent = flow?.Send(packet.Bytes, packet.Info) ?? DropReason.StackError;
            stack.Flush();
        });
        caller.Start();
        caller.Join();
        Assert.NotNull(flow);
        Assert.True(took < TimeSpan.FromMilliseconds(50), $"Open took {took.TotalMilliseconds} ms on the calling thread");
        Assert.Equal(DropReason.None, sent);
        Assert.Equal(10, (await sink.NextReplyAsync(TimeSpan.FromSeconds(10))).Length);
        flow.Dispose();
    }

    [Fact]
    public async Task Open_after_the_stack_is_disposed_fails_at_once_and_a_cancelled_open_is_cancelled()
    {
        ITransportStack stack = CreateStack(("Transport", "udp"), ("ConnectTimeoutMs", "8000"));
        using var unused = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        unused.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        var far = new NetEndpoint(Loopback, (ushort)((System.Net.IPEndPoint)unused.LocalEndPoint!).Port);
        using var cancel = new CancellationTokenSource();
        ValueTask<IStackFlow> opening = stack.Open(UdpPacket.Flow(), far, new TestReplySink(), cancel.Token);
        await Task.Delay(50);
        cancel.Cancel();
        // The handshake is aborted at once (its Reset ends the open with "aborted"), long before its 8 s limit.
        Exception e = await Assert.ThrowsAnyAsync<Exception>(() => opening.AsTask().WaitAsync(TimeSpan.FromSeconds(4)));
        Assert.True(e is OperationCanceledException || (e is DccpException && e.Message.Contains("aborted", StringComparison.Ordinal)), e.ToString());

        await stack.DisposeAsync();
        ValueTask<IStackFlow> late = stack.Open(UdpPacket.Flow(40002), far, new TestReplySink(), CancellationToken.None);
        Assert.True(late.IsFaulted);
    }

    [Theory]
    [InlineData("udp")]
    [InlineData("raw")]
    public async Task Warm_up_at_creation_runs_a_whole_flow_through_the_stack_and_leaves_its_counters_alone(string transport)
    {
        // Raw or not, the warm-up runs over a loopback UDP pair: no privilege needed, nothing leaves 127.0.0.1.
        await using ITransportStack created = CreateStack(("Transport", transport));
        var stack = (DccpStack)created;
        Assert.True(await stack.WarmUp.WaitAsync(TimeSpan.FromSeconds(10)), "the warm-up flow did not open, carry data both ways and close");
        Assert.Equal(0, stack.EndpointCount);
        Assert.Equal(0, Interlocked.Read(ref stack.Counters.ConnectionsOpened));
        Assert.Equal(0, Interlocked.Read(ref stack.Counters.Delivered));
    }

    [Fact]
    public async Task Open_fails_when_nobody_answers()
    {
        await using ITransportStack stack = CreateStack(("Transport", "udp"), ("ConnectTimeoutMs", "600"));
        using var unused = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        unused.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0)); // a port where nothing speaks DCCP
        ushort port = (ushort)((System.Net.IPEndPoint)unused.LocalEndPoint!).Port;
        await Assert.ThrowsAsync<DccpException>(() => stack.Open(UdpPacket.Flow(), new NetEndpoint(Loopback, port), new TestReplySink(), CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task EarlyOpen_takes_datagrams_during_the_handshake_and_reports_a_handshake_that_fails()
    {
        await using var server = EchoServer.StartUdp(service: 0);
        await using ITransportStack stack = CreateStack(("Transport", "udp"), ("EarlyOpen", "true"), ("ConnectTimeoutMs", "600"));
        var sink = new TestReplySink();
        ValueTask<IStackFlow> opening = stack.Open(UdpPacket.Flow(), new NetEndpoint(Loopback, server.Port), sink, CancellationToken.None);
        Assert.True(opening.IsCompletedSuccessfully); // ready before any answer could have come back
        IStackFlow flow = await opening;
        var packet = new UdpPacket(UdpPacket.Flow(), 10);
        Assert.Equal(DropReason.None, flow.Send(packet.Bytes, packet.Info)); // queued until the Response
        Assert.Equal(10, (await sink.NextReplyAsync(TimeSpan.FromSeconds(10))).Length);
        flow.Dispose();

        // Nobody answers: the flow was ready at once, and the failed handshake is reported as a fault.
        using var unused = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        unused.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        var silent = new TestReplySink();
        IStackFlow orphan = await stack.Open(UdpPacket.Flow(40001), new NetEndpoint(Loopback, (ushort)((System.Net.IPEndPoint)unused.LocalEndPoint!).Port), silent, CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(5)); // well before the 600 ms handshake limit reports the fault
        Assert.Equal(DropReason.None, orphan.Send(packet.Bytes, packet.Info));
        Assert.Contains("connect timeout", await silent.NextFaultAsync(TimeSpan.FromSeconds(10)), StringComparison.Ordinal);
        orphan.Dispose();
    }

    [SkippableFact]
    public async Task Raw_ip_flow_rides_one_dccp_connection()
    {
        Skip.IfNot(Environment.IsPrivilegedProcess, "raw IP sockets need root (CAP_NET_RAW)");
        // Two loopback addresses: every raw DCCP socket sees every DCCP packet on lo, and each keeps only its own.
        await using var server = EchoServer.StartRaw(NetAddress.Parse("127.0.0.2"), 5555);
        await using ITransportStack stack = CreateStack(("Transport", "raw"));
        var sink = new TestReplySink();
        IStackFlow flow = await stack.Open(UdpPacket.Flow(), new NetEndpoint(NetAddress.Parse("127.0.0.2"), 5555), sink, CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var packet = new UdpPacket(UdpPacket.Flow(), 1200);
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(DropReason.None, flow.Send(packet.Bytes, packet.Info));
            await Task.Delay(1);
        }

        for (int i = 0; i < 90; i++)
        {
            Assert.Equal(1200, (await sink.NextReplyAsync(TimeSpan.FromSeconds(10))).Length);
        }

        flow.Dispose();
    }

    private static ITransportStack CreateStack(params (string Key, string Value)[] values) =>
        new DccpStackFactory().Create(Options(values), new TestStackHost());

    private static StackOptions Options(params (string Key, string Value)[] values) =>
        new("dccp", "Dccp", values.ToDictionary(v => v.Key, v => v.Value, StringComparer.OrdinalIgnoreCase));

    private sealed class Registry : IPluginRegistry
    {
        public List<IStackFactory> Stacks { get; } = [];

        public void AddStack(IStackFactory factory) => Stacks.Add(factory);

        public List<IPluginCommand> Commands { get; } = [];

        public void AddNat(INatFactory factory)
        {
        }

        public void AddCommand(IPluginCommand command) => Commands.Add(command);
    }
}
