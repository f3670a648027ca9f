using System.Buffers.Binary;
using System.Collections.Concurrent;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Plugins.Tests.Infrastructure;

/// <summary>
/// Collects what a stack delivers for one flow. Payloads are kept (copied) unless <see cref="KeepPayloads"/> is off;
/// the first four bytes of each are read as a big-endian sequence number so that loss and order can be checked.
/// </summary>
internal sealed class TestReplySink(bool keepPayloads = true) : IReplySink
{
    private readonly List<int> _sequence = [];
    private long _count;
    private long _allocatedAtFirst = -1;
    private long _allocatedAtLast = -1;

    public bool KeepPayloads => keepPayloads;

    public ConcurrentQueue<byte[]> Payloads { get; } = new();

    public ConcurrentQueue<string> Faults { get; } = new();

    public long Count => Interlocked.Read(ref _count);

    /// <summary>Bytes the delivering thread allocated between the first delivery and the last one.</summary>
    public long AllocatedBetweenFirstAndLast => _allocatedAtLast - _allocatedAtFirst;

    public void Deliver(ReadOnlySpan<byte> payload)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        if (_allocatedAtFirst < 0)
        {
            _allocatedAtFirst = allocated;
        }

        _allocatedAtLast = allocated;
        if (keepPayloads)
        {
            Payloads.Enqueue(payload.ToArray());
            lock (_sequence)
            {
                _sequence.Add(payload.Length >= 4 ? BinaryPrimitives.ReadInt32BigEndian(payload) : -1);
            }
        }

        Interlocked.Increment(ref _count);
    }

    public void Fault(string reason) => Faults.Enqueue(reason);

    public int[] Sequence()
    {
        lock (_sequence)
        {
            return [.. _sequence];
        }
    }

    public bool WaitFor(long count, TimeSpan timeout) => SpinWait.SpinUntil(() => Count >= count, timeout);
}
