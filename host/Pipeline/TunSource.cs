using System.Threading.Tasks.Dataflow;
using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Tun;

namespace VirtualStack.Host.Pipeline;

/// <summary>
/// The head of the pipeline: reads up to a batch of packets from the TUN queue per call (non-blocking reads until
/// the queue is empty or the batch is full) and posts the batch to the first block.
/// </summary>
/// <remarks>
/// Backpressure: when no batch is free or the first block is full, the source stops reading; the packets wait in
/// the kernel's TUN queue (txqueuelen) and, beyond it, the kernel drops them as a NIC would.
/// </remarks>
internal sealed unsafe class TunSource(TunDevice tun, PacketBatchPool pool, ITargetBlock<PacketBatch?> target, PipelineCounters counters)
    : IShardSource
{
    private const int BatchesPerRound = 8;

    private PacketBatch? _pending;
    private volatile bool _stopped;

    public int Descriptor => tun.Descriptor;

    public bool WantsRead => !_stopped && _pending is null && pool.Available > 0;

    public void Stop() => _stopped = true;

    /// <summary>
    /// Reads up to <see cref="BatchesPerRound"/> batches before the loop runs the blocks again. Each Dataflow block
    /// allocates a task per activation, so handing it several batches per activation divides that cost (measured:
    /// 3.0 managed bytes per packet with one batch per round, 0.8 with four).
    /// </summary>
    public bool Pump()
    {
        bool worked = false;
        for (int round = 0; round < BatchesPerRound; round++)
        {
            if (!PumpOne(out bool more))
            {
                break;
            }

            worked = true;
            if (!more)
            {
                break;
            }
        }

        return worked;
    }

    private bool PumpOne(out bool more)
    {
        more = false;
        if (_stopped)
        {
            return false;
        }

        if (_pending is { } pending)
        {
            if (!target.Post(pending))
            {
                return false;
            }

            _pending = null;
            more = true;
            return true;
        }

        if (!pool.TryRent(out PacketBatch batch))
        {
            return false;
        }

        int count = 0;
        PacketInfo[] info = batch.Info;
        while (count < batch.Capacity)
        {
            int n = tun.TryRead(batch.SlotPointer(count), batch.SlotSize);
            if (n <= 0)
            {
                if (n < 0)
                {
                    counters.ReadErrors++;
                }

                break;
            }

            info[count] = default;
            info[count].Length = (ushort)n;
            count++;
        }

        if (count == 0)
        {
            pool.Return(batch);
            return false;
        }

        batch.Count = count;
        batch.ReceivedAt = Environment.TickCount64;
        if (!target.Post(batch))
        {
            _pending = batch;
            return true;
        }

        // A full batch means the queue may hold more: keep reading in this round.
        more = count == batch.Capacity;
        return true;
    }
}
