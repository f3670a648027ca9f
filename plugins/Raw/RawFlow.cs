using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Plugins.Raw;

/// <summary>
/// A flow on the Raw stack: only its counters. Its packets leave unchanged and the network routes the replies
/// straight back to the application, so there is nothing per flow to set up or to listen on.
/// </summary>
internal sealed class RawFlow(RawStack stack) : IStackFlow
{
    private volatile bool _disposed;

    public StackFlowStats Stats { get; } = new();

    public DropReason Send(ReadOnlySpan<byte> packet, in PacketInfo info) =>
        _disposed ? DropReason.ShuttingDown : stack.Enqueue(packet, Stats);

    public void Dispose() => _disposed = true;
}
