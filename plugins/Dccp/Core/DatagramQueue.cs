using System.Buffers;

namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>
/// A bounded FIFO of datagrams. Each entry owns an array rented from <see cref="ArrayPool{T}.Shared"/> until it is
/// dequeued or the queue is cleared, so a steady flow allocates nothing.
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
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(datagram.Length, 1));
        datagram.CopyTo(buffer);
        _buffers[tail] = buffer;
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

        byte[] buffer = _buffers[_head]!;
        int length = _lengths[_head];
        buffer.AsSpan(0, Math.Min(length, destination.Length)).CopyTo(destination);
        Drop();
        return length;
    }

    /// <summary>Removes the oldest datagram without reading it.</summary>
    public void Drop()
    {
        if (Count == 0)
        {
            return;
        }

        ArrayPool<byte>.Shared.Return(_buffers[_head]!);
        _buffers[_head] = null;
        _head = (_head + 1) % _buffers.Length;
        Count--;
    }

    public void Clear()
    {
        while (Count > 0)
        {
            Drop();
        }
    }
}
