using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Dccp.Endpoint;
using VirtualStack.Plugins.Dccp.Stack;
using VirtualStack.Plugins.Dccp.Transport;
using Xunit.Abstractions;

namespace VirtualStack.Dccp.Tests.Stack;

/// <summary>
/// A stack flow sending to a listener that takes datagrams with <see cref="DccpConnection.StartDelivery"/>: in steady
/// state nothing in the process (both endpoints' threads, the sender, the relay) allocates per packet.
/// </summary>
[Collection(nameof(SteadyStateAllocationTests))]
public class SteadyStateAllocationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Stack_flow_to_a_delivering_listener_allocates_nothing_per_packet_process_wide()
    {
        var transport = new UdpEncapsulationTransport(NetAddress.Parse("127.0.0.1"));
        using var endpoint = new DccpEndpoint(transport);
        using var listener = endpoint.Listen(transport.UdpPort);
        long count = 0; // only the engine thread of the listener's endpoint writes it
        var accepting = Task.Run(async () => { var c = await listener.AcceptAsync(); c.StartDelivery(d => count++); return c; });
        await using ITransportStack stack = new DccpStackFactory().Create(new StackOptions("d", "Dccp", new Dictionary<string, string> { ["Transport"] = "udp" }), new TestStackHost());
        IStackFlow flow = await stack.Open(UdpPacket.Flow(), new NetEndpoint(NetAddress.Parse("127.0.0.1"), transport.UdpPort), new TestReplySink(), CancellationToken.None);
        await accepting;
        var packet = new UdpPacket(UdpPacket.Flow(), 1000);
        long accepted = 0;
        for (int i = 0; i < 30000; i++)
        {
            accepted += flow.Send(packet.Bytes, packet.Info) == Contracts.Packets.DropReason.None ? 1 : 0;
            Thread.SpinWait(1000);
        }

        await Task.Delay(500);
        long before = GC.GetTotalAllocatedBytes(true);
        for (int i = 0; i < 50000; i++)
        {
            accepted += flow.Send(packet.Bytes, packet.Info) == Contracts.Packets.DropReason.None ? 1 : 0;
            Thread.SpinWait(1000);
        }

        await Task.Delay(500);
        double perPacket = (GC.GetTotalAllocatedBytes(true) - before) / 50000.0;
        output.WriteLine($"{perPacket} B/packet process-wide, delivered {count} of the {accepted} the stack took");
        Assert.True(perPacket < 1, $"{perPacket} bytes allocated per packet");
        Assert.True(Interlocked.Read(ref count) >= accepted * 99 / 100, $"only {count} of the {accepted} the stack took were delivered over loopback");
    }

    [SkippableFact]
    public async Task Raw_ip_stack_flow_with_batched_sends_and_burst_reads_allocates_nothing_per_packet()
    {
        Skip.IfNot(Environment.IsPrivilegedProcess, "raw IP sockets need root (CAP_NET_RAW)");
        // Two loopback addresses: each raw socket keeps only the packets to its own. The listener's endpoint reads
        // bursts with recvmmsg and sends its acknowledgements in one sendmmsg per round; the stack batches as VS does
        // (Send per packet, Flush per batch of 32).
        using var endpoint = new DccpEndpoint(new RawIpTransport(NetAddress.Parse("127.0.0.2")));
        using var listener = endpoint.Listen(5557);
        long count = 0; // only the engine thread of the listener's endpoint writes it
        var accepting = Task.Run(async () => { var c = await listener.AcceptAsync(); c.StartDelivery(d => count++); return c; });
        await using ITransportStack stack = new DccpStackFactory().Create(new StackOptions("d", "Dccp", new Dictionary<string, string> { ["Transport"] = "raw" }), new TestStackHost());
        IStackFlow flow = await stack.Open(UdpPacket.Flow(), new NetEndpoint(NetAddress.Parse("127.0.0.2"), 5557), new TestReplySink(), CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        await accepting.WaitAsync(TimeSpan.FromSeconds(10));
        var packet = new UdpPacket(UdpPacket.Flow(), 1200);
        long accepted = 0;
        long Run(int packets)
        {
            for (int i = 0; i < packets; i++)
            {
                accepted += flow.Send(packet.Bytes, packet.Info) == Contracts.Packets.DropReason.None ? 1 : 0;
                if (i % 32 == 31)
                {
                    stack.Flush();
                    Thread.SpinWait(20000);
                }
            }

            stack.Flush();
            return accepted;
        }

        Run(30000);
        await Task.Delay(500);
        long before = GC.GetTotalAllocatedBytes(true);
        Run(50000);
        await Task.Delay(500);
        double perPacket = (GC.GetTotalAllocatedBytes(true) - before) / 50000.0;
        output.WriteLine($"{perPacket} B/packet process-wide, delivered {count} of the {accepted} the stack took");
        Assert.True(perPacket < 1, $"{perPacket} bytes allocated per packet");
        Assert.True(Interlocked.Read(ref count) >= accepted * 99 / 100, $"only {count} of the {accepted} the stack took were delivered over loopback");
        flow.Dispose();
    }
}

/// <summary>The allocation count is process-wide: nothing else may run meanwhile.</summary>
[CollectionDefinition(nameof(SteadyStateAllocationTests), DisableParallelization = true)]
public class SteadyStateAllocationCollection;
