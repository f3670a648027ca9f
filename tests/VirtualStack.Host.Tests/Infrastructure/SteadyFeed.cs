using System.Threading.Tasks.Dataflow;
using VirtualStack.Host.Pipeline;

namespace VirtualStack.Host.Tests.Infrastructure;

/// <summary>
/// Plays the TUN source for steady-state measurements: on the loop thread, fills several full batches per round
/// with one packet, and counts what the loop thread allocated during the second half of the rounds (the first half
/// is warm-up: JIT tiers, flow creation, first switches).
/// </summary>
internal sealed class SteadyFeed(PacketBatchPool pool, ITargetBlock<PacketBatch?> head, byte[] packet, int rounds, int batchesPerRound) : IShardSource
{
    private int _round;
    private long _allocatedAtHalf;
    private long _packets;
    private bool _measuring;

    public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long AllocatedInSecondHalf { get; private set; }

    public long PacketsInSecondHalf { get; private set; }

    public int Descriptor => -1;

    public bool WantsRead => false;

    public bool Pump()
    {
        if (_round == rounds / 2 && !_measuring)
        {
            _allocatedAtHalf = GC.GetAllocatedBytesForCurrentThread();
            _packets = 0;
            _measuring = true;
        }

        if (_round >= rounds)
        {
            if (pool.Available == pool.Size && !Done.Task.IsCompleted)
            {
                AllocatedInSecondHalf = GC.GetAllocatedBytesForCurrentThread() - _allocatedAtHalf;
                PacketsInSecondHalf = _packets;
                Done.TrySetResult();
            }

            return false;
        }

        int posted = 0;
        while (posted < batchesPerRound && pool.TryRent(out PacketBatch batch))
        {
            for (int i = 0; i < batch.Capacity; i++)
            {
                PipelineRig.Fill(batch, packet);
            }

            if (!head.Post(batch))
            {
                pool.Return(batch);
                break;
            }

            _packets += batch.Count;
            posted++;
        }

        if (posted > 0)
        {
            _round++;
        }

        return true;
    }
}
