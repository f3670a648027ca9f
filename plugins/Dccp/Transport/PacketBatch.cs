using System.Runtime.InteropServices;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Shared.Native;

namespace VirtualStack.Plugins.Dccp.Transport;

/// <summary>
/// DCCP packets waiting for one sendmmsg call: each is copied into a slot of a pinned slab (the protocol core
/// builds every packet in one scratch buffer), the message vector points at the slots. Not thread-safe: the
/// endpoint's lock serializes every use.
/// </summary>
internal sealed unsafe class PacketBatch : IDisposable
{
    private readonly SendBatch _batch;
    private readonly byte[] _slab;
    private readonly byte* _base;
    private readonly int _slotSize;
    private readonly StackFlowStats _counters = new();
    private GCHandle _pin;

    public PacketBatch(int capacity, int slotSize)
    {
        _batch = new SendBatch(capacity);
        _slotSize = slotSize;
        _slab = GC.AllocateUninitializedArray<byte>(capacity * slotSize, pinned: true);
        _pin = GCHandle.Alloc(_slab, GCHandleType.Pinned);
        _base = (byte*)_pin.AddrOfPinnedObject();
    }

    public int Count => _batch.Count;

    public bool IsFull => _batch.IsFull;

    /// <summary>Packets the kernel refused (counted as lost: CCID 2 sees them as loss).</summary>
    public long Failed => _counters.SendErrors;

    /// <summary>Copies <paramref name="packet"/> into the next slot. The caller flushes first when <see cref="IsFull"/>.</summary>
    public void Add(ReadOnlySpan<byte> packet, NetAddress destination, ushort port)
    {
        byte* slot = _base + (_batch.Count * _slotSize);
        int length = Math.Min(packet.Length, _slotSize);
        packet[..length].CopyTo(new Span<byte>(slot, _slotSize));
        _batch.Add(slot, length, destination, port, _counters);
    }

    /// <summary>Sends everything queued on <paramref name="fd"/> with as few sendmmsg calls as the kernel allows.</summary>
    public void Send(int fd)
    {
        if (_batch.Count > 0)
        {
            // The IPv4 raw socket is non-blocking (its reads burst without a poll per packet): when its buffer is
            // full, wait for room rather than lose the rest of the batch, as a blocking send would.
            _batch.Send(fd, waitWritableMs: 250);
        }
    }

    public void Dispose()
    {
        _batch.Dispose();
        if (_pin.IsAllocated)
        {
            _pin.Free();
        }
    }
}
