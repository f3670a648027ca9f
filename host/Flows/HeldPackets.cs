using VirtualStack.Contracts.Packets;

namespace VirtualStack.Host.Flows;

/// <summary>
/// Copies of a flow's packets that arrived while it had no stack ready to carry them: a new flow whose first stack
/// is still being built (a DCCP handshake), or a flow whose only built stack failed and is being rebuilt. They go
/// out, in order and before any later packet, on the stack that becomes ready (<see cref="StackEngine"/>).
/// </summary>
/// <remarks>
/// Why copies: the pipeline returns a batch's buffers to the pool when the batch leaves the stack sink, long before a
/// handshake ends. Why bounded: a far end that never answers must not grow VS's memory; what does not fit is dropped
/// as <see cref="DropReason.StackNotReady"/>, as before holding existed. The memory is pinned because stacks keep
/// pointers into a packet until their flush, and allocated once per flow that ever holds (never per packet).
/// </remarks>
internal sealed class HeldPackets(int maxPackets)
{
    private const int MaxBytes = 1 << 20;

    private byte[] _memory = [];
    private PacketInfo[] _info = [];
    private int[] _offsets = [];
    private FlowEntry?[] _entries = [];
    private int _used;

    /// <summary>Packets held now.</summary>
    public int Count { get; private set; }

    /// <summary>Packets held since the flow began (released or dropped since).</summary>
    public long Total { get; private set; }

    /// <summary>Keeps a copy of <paramref name="packet"/>; false when the flow already holds all it may.</summary>
    public bool Add(ReadOnlySpan<byte> packet, in PacketInfo info, FlowEntry? entry)
    {
        if (Count == maxPackets || _used + packet.Length > MaxBytes)
        {
            return false;
        }

        if (Count == _info.Length)
        {
            int slots = Math.Min(maxPackets, Math.Max(8, _info.Length * 2));
            Array.Resize(ref _info, slots);
            Array.Resize(ref _offsets, slots);
            Array.Resize(ref _entries, slots);
        }

        if (_used + packet.Length > _memory.Length)
        {
            // A new pinned array; packets are only ever read from the current one (nothing points into the old).
            byte[] larger = GC.AllocateUninitializedArray<byte>(Math.Min(MaxBytes, Math.Max(16 * 1024, Math.Max(_used + packet.Length, _memory.Length * 2))), pinned: true);
            _memory.AsSpan(0, _used).CopyTo(larger);
            _memory = larger;
        }

        packet.CopyTo(_memory.AsSpan(_used));
        _offsets[Count] = _used;
        _info[Count] = info;
        _entries[Count] = entry;
        _used += packet.Length;
        Count++;
        Total++;
        return true;
    }

    /// <summary>The held packet <paramref name="index"/> (in arrival order), valid until <see cref="Clear"/>.</summary>
    public ReadOnlySpan<byte> Packet(int index) => _memory.AsSpan(_offsets[index], _info[index].Length);

    public ref PacketInfo Info(int index) => ref _info[index];

    /// <summary>The flow entry the packet was counted on, for per-flow drops.</summary>
    public FlowEntry? Entry(int index) => _entries[index];

    /// <summary>Forgets every held packet (after they were sent, or dropped). Keeps the memory for the next hold.</summary>
    public void Clear()
    {
        Array.Clear(_entries, 0, Count);
        Count = 0;
        _used = 0;
    }
}
