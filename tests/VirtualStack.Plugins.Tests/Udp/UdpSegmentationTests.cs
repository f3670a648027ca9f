using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Plugins.Tests.Infrastructure;
using VirtualStack.Plugins.Udp;

namespace VirtualStack.Plugins.Tests.Udp;

/// <summary>
/// The Udp stack joins runs of one flow's datagrams into UDP GSO sends. Whatever it joins, a plain receiving socket
/// must see exactly the datagrams the flows sent: each one, whole, in order, with its own length.
/// </summary>
public sealed class UdpSegmentationTests
{
    // Equal sizes with a shorter one closing a run, a longer one right after a run of shorter ones, an empty datagram,
    // a run longer than one send may carry (64), all within blocks of 20 (see SendInTwoFlowsAndCheckAsync).
    private static readonly int[] Sizes = BuildSizes();

    [Fact]
    public async Task Runs_of_one_flows_datagrams_are_joined_and_arrive_as_sent()
    {
        await using var bed = new UdpTestBed();

        int sent = await SendInTwoFlowsAndCheckAsync(bed, IPAddress.Loopback);

        Assert.Equal(sent, bed.Stack.Counters.DatagramsSent);
        Assert.Equal(0, bed.Stack.Counters.SendErrors);
        Assert.True(bed.Stack.Counters.JoinedSends > 0, "no run of one flow's datagrams went as one UDP GSO send");
        Assert.True(bed.Stack.Counters.JoinedSends < sent / 4, $"{bed.Stack.Counters.JoinedSends} joined sends for {sent} datagrams: runs were hardly joined");
    }

    [SkippableFact]
    public async Task Runs_are_joined_over_ipv6_too()
    {
        Skip.IfNot(Loopback.HasIpv6, Loopback.NoIpv6);
        await using var bed = new UdpTestBed();

        await SendInTwoFlowsAndCheckAsync(bed, IPAddress.IPv6Loopback);

        Assert.True(bed.Stack.Counters.JoinedSends > 0, "no UDP GSO send over IPv6");
    }

    [Fact]
    public async Task SendSegments_1_sends_every_datagram_on_its_own()
    {
        await using var bed = new UdpTestBed(0, ("SendSegments", "1"));

        int sent = await SendInTwoFlowsAndCheckAsync(bed, IPAddress.Loopback);

        Assert.Equal(0, bed.Stack.Counters.JoinedSends);
        Assert.Equal(sent, bed.Stack.Counters.DatagramsSent);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65")]
    [InlineData("many")]
    public void SendSegments_out_of_range_is_refused_with_its_name(string value)
    {
        string? problem = new UdpStackFactory().Validate(Loopback.Options("udp", "Udp", ("SendSegments", value)));
        Assert.NotNull(problem);
        Assert.Contains("SendSegments", problem, StringComparison.Ordinal);
    }

    private static int[] BuildSizes()
    {
        var sizes = new List<int>();
        sizes.AddRange(Enumerable.Repeat(1000, 10));
        sizes.Add(300);
        sizes.AddRange(Enumerable.Repeat(64, 3));
        sizes.Add(1472);
        sizes.AddRange(Enumerable.Repeat(1200, 4));
        sizes.Add(0);
        sizes.AddRange(Enumerable.Repeat(1472, 70));
        sizes.Add(8);
        return [.. sizes];
    }

    // Two flows to two far ends share one socket (design.md §3); flow 0 sends Sizes in blocks of 20 with flow 1's
    // blocks in between, so runs also end where the flow changes. Each payload carries its flow and index.
    private static async Task<int> SendInTwoFlowsAndCheckAsync(UdpTestBed bed, IPAddress loopback)
    {
        using var receiver0 = Loopback.Listener(loopback);
        using var receiver1 = Loopback.Listener(loopback);
        var flows = new[]
        {
            bed.Open(NetEndpoint.FromIPEndPoint((IPEndPoint)receiver0.LocalEndPoint!), new TestReplySink(), 40_000),
            bed.Open(NetEndpoint.FromIPEndPoint((IPEndPoint)receiver1.LocalEndPoint!), new TestReplySink(), 40_001),
        };
        Assert.Same(flows[0].Socket, flows[1].Socket);

        // Receive while the flush sends: a socket buffer of the default size would not hold it all.
        Task received0 = Task.Run(() => ReceiveAndCheck(receiver0, 0));
        Task received1 = Task.Run(() => ReceiveAndCheck(receiver1, 1));
        var slab = new PacketSlab(Sizes.Length * 2, 1600);
        bool v6 = loopback.AddressFamily == AddressFamily.InterNetworkV6;
        int slot = 0;
        for (int block = 0; block < Sizes.Length; block += 20)
        {
            for (int f = 0; f < 2; f++)
            {
                for (int i = block; i < Math.Min(block + 20, Sizes.Length); i++)
                {
                    ref PacketInfo info = ref slab.WriteUdp(slot, v6 ? UdpTestBed.Application6 : UdpTestBed.Application, v6 ? UdpTestBed.Addressed6 : UdpTestBed.Addressed, Payload(f, i));
                    Assert.Equal(DropReason.None, flows[f].Send(slab.Packet(slot), info));
                    slot++;
                }
            }
        }

        bed.Stack.Flush();
        await Task.WhenAll(received0, received1);
        return slot;
    }

    // Every datagram of one flow, whole and in order, then nothing more.
    private static void ReceiveAndCheck(Socket receiver, int flow)
    {
        var buffer = new byte[65_536];
        for (int index = 0; index < Sizes.Length; index++)
        {
            int length = receiver.Receive(buffer);
            Assert.True(Sizes[index] == length, $"flow {flow}: a {length}-byte datagram arrived where datagram {index} ({Sizes[index]} bytes) was due");
            Assert.True(Payload(flow, index).AsSpan().SequenceEqual(buffer.AsSpan(0, length)), $"flow {flow}: datagram {index} arrived changed or out of order");
        }

        Thread.Sleep(50);
        Assert.Equal(0, receiver.Available);
    }

    private static byte[] Payload(int flow, int index)
    {
        var payload = new byte[Sizes[index]];
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)(index + (i * 7) + flow);
        }

        if (payload.Length >= 8)
        {
            BinaryPrimitives.WriteInt32BigEndian(payload, flow);
            BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(4), index);
        }

        return payload;
    }
}
