using System.Runtime.InteropServices;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Shared.Native;

namespace VirtualStack.Plugins.Udp.Native;

/// <summary>
/// The buffers of one recvmmsg call, allocated once in native memory and wired once: a slot per datagram, each big
/// enough for the largest UDP payload, so nothing is ever truncated by a buffer too small.
/// </summary>
/// <remarks>Owned by the receive thread.</remarks>
internal sealed unsafe class ReceiveBatch : IDisposable
{
    /// <summary>Largest UDP payload over IPv6 (65,535 minus the UDP header) rounded up: no datagram is cut.</summary>
    public const int SlotSize = 65_536;

    private readonly MessageVector _vector;
    private readonly MMsgHdr* _messages;
    private readonly byte* _data;
    private bool _disposed;

    public ReceiveBatch(int count)
    {
        _vector = new MessageVector(count);
        _messages = _vector.Messages;
        _data = (byte*)NativeMemory.Alloc((nuint)count, SlotSize);
        for (int i = 0; i < count; i++)
        {
            _vector.Iov[i].Base = _data + ((nint)i * SlotSize);
            _vector.Iov[i].Length = SlotSize;
        }

        Count = count;
    }

    /// <summary>Datagrams one call can take.</summary>
    public int Count { get; }

    /// <summary>Receives up to <see cref="Count"/> datagrams without waiting; -1 with errno set when none could be.</summary>
    public int Receive(int fd)
    {
        for (int i = 0; i < Count; i++)
        {
            // The kernel overwrites both with what it found; they must be reset before each call.
            _messages[i].Header.NameLength = SockAddr.SlotSize;
            _messages[i].Header.Flags = 0;
        }

        return LibC.RecvMmsg(fd, _messages, (uint)Count, Linux.MsgDontWait, null);
    }

    /// <summary>True when datagram <paramref name="index"/> did not fit its slot (cannot happen with 64 KiB slots, but is checked).</summary>
    public bool IsTruncated(int index) => (_messages[index].Header.Flags & Linux.MsgTrunc) != 0;

    public ReadOnlySpan<byte> Payload(int index) => new(_data + ((nint)index * SlotSize), (int)_messages[index].Length);

    public bool TryGetSource(int index, out NetEndpoint source) =>
        SockAddr.TryRead((byte*)_messages[index].Header.Name, _messages[index].Header.NameLength, out source);

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _vector.Dispose();
            NativeMemory.Free(_data);
        }
    }
}
