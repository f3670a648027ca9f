using VirtualStack.Contracts.Packets;

namespace VirtualStack.Contracts.Stacks;

/// <summary>A stack's state for one flow (socket binding, connection). Disposed when the flow ends.</summary>
public interface IStackFlow : IDisposable
{
    /// <summary>
    /// Queues one packet for sending. <paramref name="packet"/> is the whole IP packet read from the VNIC and
    /// <paramref name="info"/> says where its payload is. The memory is pinned (the host's packet buffers live on
    /// the pinned object heap) and stays valid until the stack's next <see cref="ITransportStack.Flush"/> returns,
    /// so a stack may keep the span's address (e.g. in an iovec for sendmmsg) until then instead of copying. Returns <see cref="DropReason.None"/> when queued, else why it was dropped. Must not allocate.
    /// </summary>
    DropReason Send(ReadOnlySpan<byte> packet, in PacketInfo info);

    /// <summary>Live counters of this flow on this stack.</summary>
    StackFlowStats Stats { get; }
}
