using System.Runtime.InteropServices;
using VirtualStack.Plugins.Shared.Native;

namespace VirtualStack.Plugins.Dccp.Transport;

/// <summary>
/// Packets read with one recvmmsg call into slots of a pinned slab, handed out one at a time: a burst costs one
/// system call instead of one per packet. Used by the endpoint's thread only (the transport's Receive).
/// </summary>
internal sealed unsafe class ReceiveRing : IDisposable
{
    private const int MsgDontWait = 0x40;
    private const int MsgTrunc = 0x20;

    private readonly MessageVector _vector;
    private readonly byte[] _slab;
    private readonly byte* _base;
    private readonly int _slotSize;
    private GCHandle _pin;
    private int _next;
    private int _filled;

    public ReceiveRing(int slots, int slotSize)
    {
        _vector = new MessageVector(slots);
        _slotSize = slotSize;
        _slab = GC.AllocateUninitializedArray<byte>(slots * slotSize, pinned: true);
        _pin = GCHandle.Alloc(_slab, GCHandleType.Pinned);
        _base = (byte*)_pin.AddrOfPinnedObject();
        for (int i = 0; i < slots; i++)
        {
            // The source comes from the IP header: no address wanted back.
            _vector.Messages[i].Header.Name = null;
            _vector.Messages[i].Header.NameLength = 0;
            _vector.Iov[i].Base = _base + (i * slotSize);
            _vector.Iov[i].Length = (nuint)slotSize;
        }
    }

    /// <summary>Packets read and not handed out yet.</summary>
    public bool HasPending => _next < _filled;

    /// <summary>Packets the kernel cut to the slot size (larger than any path this transport serves): dropped.</summary>
    public long Truncated { get; private set; }

    /// <summary>
    /// Reads what is waiting on <paramref name="fd"/> without blocking. Returns the number of packets read, 0 when
    /// none was waiting, or -errno.
    /// </summary>
    public int Fill(int fd)
    {
        _next = 0;
        _filled = 0;
        int n = LibC.RecvMmsg(fd, _vector.Messages, (uint)_vector.Count, MsgDontWait, null);
        if (n < 0)
        {
            int errno = Errno.Last;
            return errno == Errno.EAGAIN ? 0 : -errno;
        }

        _filled = n;
        return n;
    }

    /// <summary>The next packet read (valid until the next <see cref="Fill"/>), or an empty span when none is left.</summary>
    public ReadOnlySpan<byte> Next()
    {
        while (_next < _filled)
        {
            int i = _next++;
            MMsgHdr* message = _vector.Messages + i;
            if ((message->Header.Flags & MsgTrunc) != 0 || message->Length > (uint)_slotSize)
            {
                Truncated++;
                continue;
            }

            return new ReadOnlySpan<byte>(_base + (i * _slotSize), (int)message->Length);
        }

        return default;
    }

    public void Dispose()
    {
        _vector.Dispose();
        if (_pin.IsAllocated)
        {
            _pin.Free();
        }
    }
}
