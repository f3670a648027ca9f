using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Plugins.Udp;

/// <summary>A flow on a Udp stack: its far end on one shared socket, and where its replies go.</summary>
internal sealed unsafe class UdpFlow : IStackFlow
{
    /// <summary>Largest UDP payload in an IPv4 datagram: 65,535 - 20 (IP header) - 8 (UDP header).</summary>
    public const int MaxPayloadV4 = 65_507;

    /// <summary>Largest UDP payload in an IPv6 datagram without jumbograms: 65,535 - 8 (the IPv6 header is not counted).</summary>
    public const int MaxPayloadV6 = 65_527;

    private const PacketFlags NotCarried = PacketFlags.Fragment | PacketFlags.TransportMalformed;

    private readonly UdpStack _stack;
    private readonly IReplySink _replies;
    private readonly int _maxPayload;
    private int _disposed;

    public UdpFlow(UdpStack stack, UdpSocket socket, in FlowKey key, NetEndpoint remote, IReplySink replies)
    {
        _stack = stack;
        Socket = socket;
        Key = key;
        Remote = remote;
        _replies = replies;
        _maxPayload = remote.Address.IsV4 ? MaxPayloadV4 : MaxPayloadV6;
    }

    public FlowKey Key { get; }

    /// <summary>The far end (after NAT) this flow sends to and hears from.</summary>
    public NetEndpoint Remote { get; }

    public UdpSocket Socket { get; }

    public StackFlowStats Stats { get; } = new();

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <inheritdoc />
    public DropReason Send(ReadOnlySpan<byte> packet, in PacketInfo info)
    {
        if (_disposed != 0 || _stack.IsDisposed)
        {
            return DropReason.ShuttingDown;
        }

        // A payload stack re-sends UDP payloads only: a fragment has no whole payload to send, and a malformed
        // header has no trustworthy one.
        if (!info.HasTransport || (info.Flags & NotCarried) != 0 || info.Protocol != IpProtocols.Udp)
        {
            return DropReason.Unsupported;
        }

        int offset = info.PayloadOffset;
        int length = info.PayloadLength;
        if (offset + length > packet.Length)
        {
            return DropReason.BadLength;
        }

        if (length > _maxPayload)
        {
            return DropReason.TooBig;
        }

        // The host's packet memory is pinned and valid until Flush returns (IStackFlow.Send): keep its address.
        byte* payload = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(packet)) + offset;
        _stack.Enqueue(this, payload, length);
        return DropReason.None;
    }

    /// <summary>A datagram from <see cref="Remote"/> arrived. Receive thread.</summary>
    public void Receive(ReadOnlySpan<byte> payload)
    {
        Stats.PacketsReceived++;
        Stats.BytesReceived += payload.Length;
        _replies.Deliver(payload);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _stack.Close(this);
        }
    }
}
