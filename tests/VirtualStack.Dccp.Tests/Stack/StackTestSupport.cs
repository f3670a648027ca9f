using System.Collections.Concurrent;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Dccp.Tests.Stack;

/// <summary>The host's side of a stack, for tests: no mark, log lines kept.</summary>
internal sealed class TestStackHost : IStackHost
{
    public int SocketMark => 0;

    public ConcurrentQueue<string> Lines { get; } = new();

    public void Log(StackLogLevel level, string message) => Lines.Enqueue($"{level}: {message}");
}

/// <summary>Collects what a stack hands to a flow: replies and faults.</summary>
internal sealed class TestReplySink : IReplySink
{
    private readonly SemaphoreSlim _arrived = new(0);

    public ConcurrentQueue<byte[]> Replies { get; } = new();

    public ConcurrentQueue<string> Faults { get; } = new();

    public void Deliver(ReadOnlySpan<byte> payload)
    {
        Replies.Enqueue(payload.ToArray());
        _arrived.Release();
    }

    public void Fault(string reason)
    {
        Faults.Enqueue(reason);
        _arrived.Release();
    }

    public async Task<byte[]> NextReplyAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            if (Replies.TryDequeue(out byte[]? reply))
            {
                return reply;
            }

            await _arrived.WaitAsync(cts.Token);
        }
    }

    public async Task<string> NextFaultAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            if (Faults.TryDequeue(out string? fault))
            {
                return fault;
            }

            await _arrived.WaitAsync(cts.Token);
        }
    }
}

/// <summary>An application's IPv4/UDP packet as the host hands it to a stack: the whole packet and where its payload is.</summary>
internal sealed class UdpPacket
{
    public UdpPacket(FlowKey flow, int payloadLength)
    {
        Bytes = GC.AllocateArray<byte>(28 + payloadLength, pinned: true); // host packet memory is pinned
        Bytes[0] = 0x45;
        Bytes[9] = IpProtocols.Udp;
        Info = new PacketInfo
        {
            Length = (ushort)Bytes.Length,
            IpVersion = 4,
            Protocol = IpProtocols.Udp,
            TransportOffset = 20,
            PayloadOffset = 28,
            PayloadLength = (ushort)payloadLength,
            Flags = PacketFlags.TransportParsed,
            Flow = flow,
        };
    }

    public byte[] Bytes { get; }

    public PacketInfo Info;

    public Span<byte> Payload => Bytes.AsSpan(28);

    public static FlowKey Flow(ushort sourcePort = 40000) =>
        new(IpProtocols.Udp, NetAddress.Parse("10.200.0.1"), sourcePort, NetAddress.Parse("10.201.0.2"), 9000);
}
