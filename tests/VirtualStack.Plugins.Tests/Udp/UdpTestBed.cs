using System.Net;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Tests.Infrastructure;
using VirtualStack.Plugins.Udp;

namespace VirtualStack.Plugins.Tests.Udp;

/// <summary>A Udp stack made through its factory, with helpers to open flows and send hand-built packets through them.</summary>
internal sealed class UdpTestBed : IAsyncDisposable
{
    // What the application believes it talks to; the stack is told the real far end (as the NAT would).
    public static readonly IPEndPoint Application = new(IPAddress.Parse("10.200.0.1"), 40_000);
    public static readonly IPEndPoint Addressed = new(IPAddress.Parse("10.201.0.2"), 7);
    public static readonly IPEndPoint Application6 = new(IPAddress.Parse("fd00:200::1"), 40_000);
    public static readonly IPEndPoint Addressed6 = new(IPAddress.Parse("fd00:201::2"), 7);

    public UdpTestBed(int socketMark = 0, params (string Key, string Value)[] options)
    {
        Host = new TestStackHost(socketMark);
        Stack = (UdpStack)new UdpStackFactory().Create(Loopback.Options("udp", "Udp", options), Host);
    }

    public TestStackHost Host { get; }

    public UdpStack Stack { get; }

    public static FlowKey Key(int applicationPort = 40_000, bool v6 = false) => new(
        IpProtocols.Udp,
        NetAddress.FromIPAddress((v6 ? Application6 : Application).Address),
        (ushort)applicationPort,
        NetAddress.FromIPAddress((v6 ? Addressed6 : Addressed).Address),
        (ushort)Addressed.Port);

    public UdpFlow Open(NetEndpoint remote, IReplySink sink, int applicationPort = 40_000)
    {
        ValueTask<IStackFlow> opening = Stack.Open(Key(applicationPort, v6: !remote.Address.IsV4), remote, sink, CancellationToken.None);
        Assert.True(opening.IsCompleted, "a Udp flow opens at once");
        return (UdpFlow)opening.Result;
    }

    /// <summary>Builds one packet per payload in <paramref name="slab"/>, sends them all through the flow and flushes.</summary>
    public void SendAndFlush(UdpFlow flow, PacketSlab slab, params byte[][] payloads)
    {
        bool v6 = !flow.Key.Source.IsV4;
        for (int i = 0; i < payloads.Length; i++)
        {
            ref PacketInfo info = ref slab.WriteUdp(i, v6 ? Application6 : Application, v6 ? Addressed6 : Addressed, payloads[i]);
            Assert.Equal(DropReason.None, flow.Send(slab.Packet(i), info));
        }

        Stack.Flush();
    }

    public ValueTask DisposeAsync() => Stack.DisposeAsync();
}
