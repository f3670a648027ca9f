using System.Numerics;

namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>
/// A bounded FIFO of datagrams. Each slot keeps the buffer it was given the first time it was used and reuses it
/// (growing it only for a larger datagram), so a steady flow allocates nothing, whichever threads enqueue and
/// dequeue (a shared pool would leak arrays between the application's and the endpoint's threads). Memory follows
/// the high-water mark of the queue and is given back by <see cref="Clear"/>.
/// </summary>
internal sealed class DatagramQueue
{
    private readonly byte[]?[] _buffers;
    private readonly int[] _lengths;
    private int _head;

    public DatagramQueue(int capacity)
    {
        _buffers = new byte[]?[capacity];
        _lengths = new int[capacity];
    }

    public int Count { get; private set; }

    public int Capacity => _buffers.Length;

    public bool IsFull => Count == _buffers.Length;

    public bool TryEnqueue(ReadOnlySpan<byte> datagram)
    {
        if (IsFull)
        {
            return false;
        }

        int tail = (_head + Count) % _buffers.Length;
        byte[]? buffer = _buffers[tail];
        if (buffer is null || buffer.Length < datagram.Length)
        {
            buffer = new byte[BitOperations.RoundUpToPowerOf2((uint)Math.Max(datagram.Length, 256))];
            _buffers[tail] = buffer;
        }

        datagram.CopyTo(buffer);
        _lengths[tail] = datagram.Length;
        Count++;
        return true;
    }

    /// <summary>The oldest datagram, still owned by the queue.</summary>
    public ReadOnlySpan<byte> Peek() => Count == 0 ? default : _buffers[_head].AsSpan(0, _lengths[_head]);

    /// <summary>Length of the oldest datagram, or -1 when empty.</summary>
    public int PeekLength => Count == 0 ? -1 : _lengths[_head];

    /// <summary>Removes the oldest datagram, copying at most <paramref name="destination"/>.Length bytes of it; returns its full length.</summary>
    public int Dequeue(Span<byte> destination)
    {
        if (Count == 0)
        {
            return -1;
        }

        int length = _lengths[_head];
        _buffers[_head].AsSpan(0, Math.Min(length, destination.Length)).CopyTo(destination);
        Drop();
        return length;
    }

    /// <summary>Removes the oldest datagram without reading it (its slot keeps the buffer for reuse).</summary>
    public void Drop()
    {
        if (Count == 0)
        {
            return;
        }

        _head = (_head + 1) % _buffers.Length;
        Count--;
    }

    /// <summary>Empties the queue and lets go of every buffer.</summary>
    public void Clear()
    {
        Array.Clear(_buffers);
        _head = 0;
        Count = 0;
    }
}
