using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Shared.Diagnostics;
using VirtualStack.Plugins.Shared.Native;
using VirtualStack.Plugins.Udp.Native;

namespace VirtualStack.Plugins.Udp;

/// <summary>
/// The stack's one receive thread: epoll over all its sockets, recvmmsg into buffers allocated once, each datagram
/// handed to the flow whose far end sent it. It also owns closing sockets, so that a descriptor number is never
/// reused while this thread may still read from it.
/// </summary>
internal sealed unsafe class UdpReceiver : IDisposable
{
    private const int MaxEvents = 64;

    // epoll tag of the eventfd; socket ids are small non-negative numbers.
    private const ulong WakeTag = ulong.MaxValue;

    // recvmmsg calls per socket and wake-up: epoll is level-triggered, so a busy socket is simply visited again
    // after the others had their turn.
    private const int RoundsPerWake = 8;

    private readonly UdpStackCounters _counters;
    private readonly ErrorReport _deliverErrors;
    private readonly ErrorReport _receiveErrors;
    private readonly ReceiveBatch _batch;
    private readonly byte* _events;
    private readonly int _epollFd;
    private readonly int _wakeFd;
    private readonly Thread _thread;
    private readonly Lock _gate = new();
    private readonly Stack<int> _freeIds = new();
    private readonly ConcurrentQueue<UdpSocket> _retired = new();
    private UdpSocket?[] _sockets = new UdpSocket?[16];
    private int _nextId;
    private volatile bool _stopping;
    private bool _disposed;
    private bool _disposeOnExit;

    public UdpReceiver(string stackName, int receiveBatch, UdpStackCounters counters, IStackHost host)
    {
        _counters = counters;
        _deliverErrors = new ErrorReport(host, "replies could not be delivered (the reply sink threw)");
        _receiveErrors = new ErrorReport(host, "receive calls failed");
        _epollFd = Epoll.Create();
        _wakeFd = LibC.EventFd(0, Linux.EfdCloexec | Linux.EfdNonBlock);
        if (_wakeFd < 0)
        {
            int errno = Errno.Last;
            LibC.Close(_epollFd);
            throw new NativeCallException("eventfd", errno);
        }

        try
        {
            Epoll.AddInput(_epollFd, _wakeFd, WakeTag);
        }
        catch
        {
            LibC.Close(_wakeFd);
            LibC.Close(_epollFd);
            throw;
        }

        _batch = new ReceiveBatch(receiveBatch);
        _events = (byte*)NativeMemory.Alloc(MaxEvents, (nuint)Epoll.EventSize);
        _thread = new Thread(Run) { IsBackground = true, Name = "vs-udp-" + stackName };
        _thread.Start();
    }

    public bool IsRunning => _thread.IsAlive;

    /// <summary>Starts receiving on <paramref name="socket"/>. Any thread.</summary>
    public void Add(UdpSocket socket)
    {
        lock (_gate)
        {
            int id = _freeIds.Count > 0 ? _freeIds.Pop() : _nextId++;
            if (id >= _sockets.Length)
            {
                // Copy, then publish: the receive thread may be reading the old array.
                UdpSocket?[] grown = new UdpSocket?[_sockets.Length * 2];
                Array.Copy(_sockets, grown, _sockets.Length);
                Volatile.Write(ref _sockets, grown);
            }

            socket.Id = id;
            Volatile.Write(ref _sockets[id], socket);
            try
            {
                Epoll.AddInput(_epollFd, socket.Fd, (ulong)id);
            }
            catch
            {
                _sockets[id] = null;
                _freeIds.Push(id);
                socket.Id = -1;
                throw;
            }
        }
    }

    /// <summary>
    /// Hands a socket over for closing. The caller must not use it again; the receive thread closes it after
    /// finishing any datagrams it was reading from it.
    /// </summary>
    public void Retire(UdpSocket socket)
    {
        _retired.Enqueue(socket);
        Wake();
    }

    /// <summary>Stops the thread and waits for it (unless called from it, from inside a reply sink).</summary>
    public void Stop()
    {
        _stopping = true;
        Wake();
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }
    }

    /// <summary>Closes every socket still open, the epoll and eventfd descriptors, and frees the buffers. After <see cref="Stop"/>.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (Thread.CurrentThread == _thread)
        {
            // Disposed from inside a reply sink: the buffers are still in use up the stack; Run frees them on its way out.
            _disposeOnExit = true;
            return;
        }

        Release();
    }

    private void Release()
    {
        CloseRetired();
        foreach (UdpSocket? socket in _sockets)
        {
            if (socket is not null)
            {
                Close(socket);
            }
        }

        LibC.Close(_wakeFd);
        LibC.Close(_epollFd);
        _batch.Dispose();
        NativeMemory.Free(_events);
    }

    private void Wake()
    {
        ulong one = 1;
        _ = LibC.Write(_wakeFd, &one, sizeof(ulong));
    }

    private void Run()
    {
        while (!_stopping)
        {
            int ready = LibC.EpollWait(_epollFd, _events, MaxEvents, -1);
            if (ready < 0)
            {
                int errno = Errno.Last;
                if (errno != Errno.EINTR)
                {
                    _counters.ReceiveErrors++;
                    _receiveErrors.Note(1, errno);

                    // Never spin at full speed on a descriptor that keeps failing.
                    Thread.Sleep(10);
                }

                continue;
            }

            UdpSocket?[] sockets = Volatile.Read(ref _sockets);
            for (int i = 0; i < ready; i++)
            {
                ulong tag = Epoll.Data(_events, i);
                if (tag == WakeTag)
                {
                    ulong count;
                    _ = LibC.Read(_wakeFd, &count, sizeof(ulong));
                }
                else if (tag < (ulong)sockets.Length && sockets[tag] is { } socket)
                {
                    Drain(socket);
                }
            }

            // Only now: datagrams already reported for a retired socket were read above, and the next epoll_wait
            // can no longer report it.
            CloseRetired();
        }

        if (_disposeOnExit)
        {
            Release();
        }
    }

    private void Drain(UdpSocket socket)
    {
        for (int round = 0; round < RoundsPerWake; round++)
        {
            int received = _batch.Receive(socket.Fd);
            if (received < 0)
            {
                int errno = Errno.Last;
                if (errno == Errno.EINTR)
                {
                    continue;
                }

                if (errno != Errno.EAGAIN)
                {
                    _counters.ReceiveErrors++;
                    _receiveErrors.Note(1, errno);
                }

                return;
            }

            for (int i = 0; i < received; i++)
            {
                Dispatch(socket, i);
            }

            if (received < _batch.Count)
            {
                return;
            }
        }
    }

    private void Dispatch(UdpSocket socket, int index)
    {
        if (_batch.IsTruncated(index))
        {
            _counters.Truncated++;
            return;
        }

        if (!_batch.TryGetSource(index, out NetEndpoint source) || !socket.TryFind(source, out UdpFlow? flow) || flow is null)
        {
            _counters.Unmatched++;
            return;
        }

        ReadOnlySpan<byte> payload = _batch.Payload(index);
        _counters.DatagramsReceived++;
        _counters.BytesReceived += payload.Length;
        try
        {
            flow.Receive(payload);
        }
        catch (Exception)
        {
            // The host's sink failed for this reply: count it and keep the thread (and every other flow) alive.
            _counters.DeliverErrors++;
            _deliverErrors.Note(1, 0);
        }
    }

    private void CloseRetired()
    {
        while (_retired.TryDequeue(out UdpSocket? socket))
        {
            Close(socket);
        }
    }

    private void Close(UdpSocket socket)
    {
        lock (_gate)
        {
            if (socket.Id < 0)
            {
                return;
            }

            Epoll.Remove(_epollFd, socket.Fd);
            LibC.Close(socket.Fd);
            _sockets[socket.Id] = null;
            _freeIds.Push(socket.Id);
            socket.Id = -1;
            socket.Pending.Dispose();
            _counters.SocketsClosed++;
        }
    }
}
