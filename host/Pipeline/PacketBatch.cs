using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Flows;

namespace VirtualStack.Host.Pipeline;

/// <summary>
/// The unit that moves between pipeline blocks: up to <see cref="Capacity"/> packets read from the VNIC, each in
/// its own slot of one pinned slab, with the metadata the stages fill in beside it.
/// </summary>
/// <remarks>
/// Ownership: a batch belongs to exactly one block at a time. The TUN source rents it from the
/// <see cref="PacketBatchPool"/>, each block passes it on, and the last block (the stack sink) returns it once
/// every stack it touched has flushed, which is the moment the stacks stop using the packet memory
/// (<see cref="Contracts.Stacks.IStackFlow.Send"/>). The slab lives on the pinned object heap, so stacks may keep
/// raw pointers into it until their flush without pinning anything per packet.
/// </remarks>
internal sealed unsafe class PacketBatch
{
    private readonly byte[] _slab;
    private readonly byte* _base;

    public PacketBatch(int capacity, int slotSize)
    {
        Capacity = capacity;
        SlotSize = slotSize;
        _slab = GC.AllocateUninitializedArray<byte>(capacity * slotSize, pinned: true);
        _base = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_slab));
        Info = new PacketInfo[capacity];
        Flows = new FlowEntry?[capacity];
        Targets = new StackSlot?[capacity];
    }

    public int Capacity { get; }

    public int SlotSize { get; }

    /// <summary>Number of packets in the batch.</summary>
    public int Count { get; set; }

    /// <summary>Per-packet metadata, written by the classifier, the ID extractor and the decision stage.</summary>
    public PacketInfo[] Info { get; }

    /// <summary>The flow each packet belongs to, set by the decision stage (null for dropped packets).</summary>
    public FlowEntry?[] Flows { get; }

    /// <summary>The cached stack each packet goes to, set by the flow router (null for dropped packets).</summary>
    public StackSlot?[] Targets { get; }

    /// <summary>Milliseconds timestamp (<see cref="Environment.TickCount64"/>) taken once when the batch was read.</summary>
    public long ReceivedAt { get; set; }

    public byte* SlotPointer(int index) => _base + ((nint)index * SlotSize);

    /// <summary>The whole slot of packet <paramref name="index"/>, to read or write a packet into.</summary>
    public Span<byte> Slot(int index) => new(_slab, index * SlotSize, SlotSize);

    /// <summary>The received bytes of packet <paramref name="index"/>.</summary>
    public Span<byte> Packet(int index) => new(_slab, index * SlotSize, Info[index].Length);

    /// <summary>Clears the per-packet state so that the batch can be filled again.</summary>
    public void Reset()
    {
        Array.Clear(Flows, 0, Count);
        Array.Clear(Targets, 0, Count);
        Count = 0;
    }
}
