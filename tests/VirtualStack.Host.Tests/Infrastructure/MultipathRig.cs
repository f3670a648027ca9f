using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Configuration;
using VirtualStack.Host.Multipath;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Tests.Infrastructure;

/// <summary>A multipath flow of rule "spread" over two paths (a to 10.201.0.2:9401, b to 10.202.0.2:9402), for unit tests.</summary>
internal static class MultipathRig
{
    public static readonly NetEndpoint FarA = new(NetAddress.Parse("10.201.0.2"), 9401);
    public static readonly NetEndpoint FarB = new(NetAddress.Parse("10.202.0.2"), 9402);

    public static MultipathFlow Create(
        PathScheduler scheduler, ITransportStack a, ITransportStack b, IReplySink sink, LinkState? linkB = null, Action<string>? log = null, bool sequenceTag = false)
    {
        PathDefinition[] paths =
        [
            new("a", new StackRuntime(0, "udpA", "Udp", a), FarA, null, 1),
            new("b", new StackRuntime(1, "udpB", "Udp", b), FarB, linkB, 1),
        ];
        var stack = new MultipathStack("spread", paths, scheduler, TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(100), null, log ?? (_ => { }))
        {
            SequenceTag = sequenceTag,
        };
        var key = new FlowKey(IpProtocols.Udp, NetAddress.Parse("10.200.0.1"), 5000, NetAddress.Parse("10.201.0.2"), 9400);
        return (MultipathFlow)stack.Open(key, FarA, sink, CancellationToken.None).Result;
    }

    /// <summary>What the classifier says of a <see cref="TestPackets.Udp"/> packet (IPv4, 20-byte header).</summary>
    public static PacketInfo UdpInfo(byte[] packet) => new()
    {
        Length = (ushort)packet.Length,
        IpVersion = 4,
        Protocol = IpProtocols.Udp,
        TransportOffset = 20,
        PayloadOffset = 28,
        PayloadLength = (ushort)(packet.Length - 28),
        Flags = PacketFlags.TransportParsed,
    };
}

/// <summary>A stack whose one flow only counts: nothing of its own allocates per packet.</summary>
internal sealed class CountingStack : ITransportStack, IStackFlow
{
    public long Sent;

    public string Name => "counting";

    public StackCarries Carries => StackCarries.Payload;

    public StackFlowStats Stats { get; } = new();

    public ValueTask<IStackFlow> Open(FlowKey flow, NetEndpoint remote, IReplySink replies, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IStackFlow>(this);

    public DropReason Send(ReadOnlySpan<byte> packet, in PacketInfo info)
    {
        Sent++;
        return DropReason.None;
    }

    public void Flush()
    {
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public void Dispose()
    {
    }
}
