using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Raw;
using VirtualStack.Plugins.Tests.Infrastructure;

namespace VirtualStack.Plugins.Tests.Raw;

public sealed class RawStackTests
{
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_hand_built_udp_packet_leaves_unchanged_and_reaches_a_udp_socket(bool v6)
    {
        Skip.IfNot(Privileges.IsRoot, Privileges.NeedsRoot);
        Skip.If(v6 && !Loopback.HasIpv6, Loopback.NoIpv6);
        IPAddress loopback = v6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;
        using Socket listener = Loopback.Listener(loopback);
        var destination = (IPEndPoint)listener.LocalEndPoint!;
        var source = new IPEndPoint(loopback, 45_678);
        await using RawStack stack = Create();
        Assert.Equal(v6, v6 && stack.HasIpv6);
        IStackFlow flow = await stack.Open(default, default, new TestReplySink(), CancellationToken.None);

        var slab = new PacketSlab(1);
        ref PacketInfo info = ref slab.WriteUdp(0, source, destination, "raw and unchanged"u8);
        Assert.Equal(DropReason.None, flow.Send(slab.Packet(0), info));
        stack.Flush();

        byte[] buffer = new byte[2048];
        EndPoint from = new IPEndPoint(v6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        int received = listener.ReceiveFrom(buffer, ref from);
        Assert.Equal("raw and unchanged"u8.ToArray(), buffer[..received]);
        Assert.Equal(source, from); // the source port the packet carried, not one of a socket of ours
        Assert.Equal(1, flow.Stats.PacketsSent);
        Assert.Equal(info.Length, flow.Stats.BytesSent);
        Assert.Equal(StackCarries.Packet, stack.Carries);
    }

    [SkippableFact]
    public async Task A_batch_bigger_than_one_sendmmsg_arrives_whole_and_in_order()
    {
        Skip.IfNot(Privileges.IsRoot, Privileges.NeedsRoot);
        using Socket listener = Loopback.Listener(IPAddress.Loopback);
        var destination = (IPEndPoint)listener.LocalEndPoint!;
        await using RawStack stack = Create(("SendBatch", "8"));
        IStackFlow flow = await stack.Open(default, default, new TestReplySink(), CancellationToken.None);

        const int Count = 50;
        var slab = new PacketSlab(Count);
        for (int i = 0; i < Count; i++)
        {
            ref PacketInfo info = ref slab.WriteUdp(i, new IPEndPoint(IPAddress.Loopback, 45_000), destination, [(byte)i]);
            Assert.Equal(DropReason.None, flow.Send(slab.Packet(i), info));
        }

        stack.Flush();
        byte[] buffer = new byte[64];
        for (int i = 0; i < Count; i++)
        {
            Assert.Equal(1, listener.Receive(buffer));
            Assert.Equal(i, buffer[0]);
        }

        Assert.Equal(Count, flow.Stats.PacketsSent);
        Assert.Equal(Count, stack.PacketsSent);
    }

    [SkippableFact]
    public async Task Packets_that_are_not_ip_are_refused_with_a_reason()
    {
        Skip.IfNot(Privileges.IsRoot, Privileges.NeedsRoot);
        await using RawStack stack = Create();
        IStackFlow flow = await stack.Open(default, default, new TestReplySink(), CancellationToken.None);

        Assert.Equal(DropReason.Truncated, flow.Send([], default));
        Assert.Equal(DropReason.Truncated, flow.Send(new byte[] { 0x45, 0, 0, 10, 0, 0, 0, 0, 64, 17 }, default));
        Assert.Equal(DropReason.Truncated, flow.Send(new byte[] { 0x60, 0, 0, 0, 0, 0, 17, 64 }, default));
        Assert.Equal(DropReason.BadVersion, flow.Send(new byte[40], default));
        stack.Flush();
        Assert.Equal(0, flow.Stats.PacketsSent);
        flow.Dispose();
        Assert.Equal(DropReason.ShuttingDown, flow.Send(new byte[40], default));
    }

    [SkippableFact]
    public async Task Every_raw_socket_carries_the_hosts_mark()
    {
        Skip.IfNot(Privileges.IsRoot, Privileges.NeedsRoot);
        const int Mark = 0x5a18;
        await using var stack = (RawStack)new RawStackFactory().Create(Loopback.Options("raw", "Raw"), new TestStackHost(Mark));
        Assert.Equal(Mark, SocketOption.Get(stack.Ipv4Fd, SocketOption.SoMark));
        if (stack.HasIpv6)
        {
            Assert.Equal(Mark, SocketOption.Get(stack.Ipv6Fd, SocketOption.SoMark));
        }
    }

    [SkippableFact]
    public void Without_CAP_NET_RAW_creation_fails_with_a_clear_message()
    {
        Skip.IfNot(Privileges.IsRoot, Privileges.NeedsRoot);
        Exception? error = Privileges.RunWithout([Privileges.CapNetRaw], () => Record.Exception(() => Create()));

        Assert.NotNull(error);
        Assert.Contains("SOCK_RAW", error.Message, StringComparison.Ordinal);
        Assert.Contains("EPERM", error.Message, StringComparison.Ordinal);
        Assert.Contains("root or CAP_NET_RAW", error.Message, StringComparison.Ordinal);
    }

    private static RawStack Create(params (string Key, string Value)[] options) =>
        (RawStack)new RawStackFactory().Create(Loopback.Options("raw", "Raw", options), new TestStackHost());
}
