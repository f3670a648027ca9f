using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Packets;

namespace VirtualStack.Host.Tests.Packets;

/// <summary>The data path allocates nothing per packet: classify, extract and build, measured on this thread.</summary>
public class PacketHotPathAllocationTests
{
    private const int Packets = 100_000;

    [Fact]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)] // no OSR compile inside the measured loop
    public void Classify_and_extract_allocate_nothing()
    {
        // A mix that walks every parser: IPv4/IPv6, options, extension headers, fragments, malformed, dropped.
        byte[][] packets = [.. ClassifierCases.All.Values.Select(c => c.Packet)];
        var infos = new PacketInfo[packets.Length];

        Run(packets, infos, 2_000);  // warm up: JIT and static initialisation may allocate once
        long before = GC.GetAllocatedBytesForCurrentThread();
        int carried = Run(packets, infos, Packets);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(carried > Packets / 2);
    }

    [Fact]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)] // no OSR compile inside the measured loop
    public void Building_replies_allocates_nothing()
    {
        var v4 = new FlowKey(IpProtocols.Udp, NetAddress.Parse("10.200.0.1"), 40000, NetAddress.Parse("10.201.0.2"), 7);
        var v6 = new FlowKey(IpProtocols.Udp, NetAddress.Parse("fd00:200::1"), 40000, NetAddress.Parse("fd00:201::2"), 7);
        byte[] payload = HandPackets.Payload(1400);
        byte[] buffer = new byte[2048];

        Build(v4, v6, payload, buffer, 2_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        long bytes = Build(v4, v6, payload, buffer, Packets);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(Packets / 2 * (1428L + 1448L), bytes);
    }

    // The measured loops are here, not in the tests: tier-0 code would replace them on the stack (OSR) after enough
    // iterations, a compilation on this thread inside the measurement (seen: 40 bytes in the full test run).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static int Run(byte[][] packets, PacketInfo[] infos, int count)
    {
        int carried = 0;
        for (int i = 0; i < count; i++)
        {
            int k = i % packets.Length;
            ref PacketInfo info = ref infos[k];
            if (PacketClassifier.Classify(packets[k], ref info) == DropReason.None)
            {
                carried++;
            }

            FlowIdExtractor.Extract(packets[k], ref info);
        }

        return carried;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static long Build(FlowKey v4, FlowKey v6, byte[] payload, byte[] buffer, int count)
    {
        long bytes = 0;
        for (int i = 0; i < count; i++)
        {
            bytes += ReplyPacketBuilder.BuildUdp((i & 1) == 0 ? v4 : v6, payload, buffer);
        }

        return bytes;
    }
}
