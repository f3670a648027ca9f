namespace VirtualStack.Host.Pipeline;

/// <summary>
/// A fixed set of batches allocated at start. Renting never allocates: when every batch is in flight the source
/// simply stops reading the VNIC (backpressure reaches the kernel's TUN queue) until one comes back.
/// </summary>
/// <remarks>A locked array stack rather than a ConcurrentQueue, whose segments are re-allocated as items cycle.</remarks>
internal sealed class PacketBatchPool
{
    private readonly PacketBatch[] _free;
    private readonly Lock _lock = new();
    private int _count;

    public PacketBatchPool(int batches, int packetsPerBatch, int slotSize)
    {
        _free = new PacketBatch[batches];
        for (int i = 0; i < batches; i++)
        {
            _free[i] = new PacketBatch(packetsPerBatch, slotSize);
        }

        _count = batches;
    }

    public int Size => _free.Length;

    public int Available => Volatile.Read(ref _count);

    public bool TryRent(out PacketBatch batch)
    {
        lock (_lock)
        {
            if (_count == 0)
            {
                batch = null!;
                return false;
            }

            batch = _free[--_count];
            _free[_count] = null!;
            return true;
        }
    }

    public void Return(PacketBatch batch)
    {
        batch.Reset();
        lock (_lock)
        {
            _free[_count++] = batch;
        }
    }
}
