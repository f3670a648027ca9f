using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Plugins.Shared.Native;

/// <summary>
/// Messages waiting for one sendmmsg call on one socket. The mmsghdr, iovec and sockaddr arrays are allocated once
/// in native memory and wired to each other once, so queueing a message only writes its iovec and its address
/// (dotnet-design.md §(vii)). The iovecs point straight into the host's pinned packet buffers, which stay valid
/// until the stack's Flush returns: nothing is copied.
/// </summary>
/// <remarks>Used by one thread at a time (the pipeline thread that calls Send and Flush).</remarks>
internal sealed unsafe class SendBatch : IDisposable
{
    private readonly MessageVector _vector;
    private readonly MMsgHdr* _messages;
    private readonly IoVec* _iov;
    private readonly StackFlowStats?[] _owners;
    private readonly UdpSegmentation? _segmentation;
    private int _count;

    /// <param name="capacity">Messages queued at most before a send.</param>
    /// <param name="maxSegments">
    /// For a UDP socket: datagrams of one flow joined into one UDP GSO send at most (<see cref="UdpSegmentation"/>);
    /// 1 sends every datagram on its own (raw sockets, DCCP).
    /// </param>
    public SendBatch(int capacity, int maxSegments = 1)
    {
        _vector = new MessageVector(capacity);
        _messages = _vector.Messages;
        _iov = _vector.Iov;
        _owners = new StackFlowStats?[capacity];
        _segmentation = maxSegments > 1 ? new UdpSegmentation(capacity, Math.Min(maxSegments, UdpSegmentation.MaxSegments)) : null;
        Capacity = capacity;
    }

    public int Capacity { get; }

    public int Count => _count;

    public bool IsFull => _count == Capacity;

    /// <summary>Queues <paramref name="length"/> bytes at <paramref name="data"/> for the given far end. The caller checks <see cref="IsFull"/> first.</summary>
    public void Add(byte* data, int length, NetAddress address, ushort port, StackFlowStats owner)
    {
        int i = _count++;
        _iov[i].Base = data;
        _iov[i].Length = (nuint)length;
        _messages[i].Header.NameLength = SockAddr.Write((byte*)_messages[i].Header.Name, address, port);
        _owners[i] = owner;
    }

    /// <summary>
    /// Sends every queued message on <paramref name="fd"/> and empties the batch. A partial send goes on from the
    /// first message not sent; a message the kernel refuses is counted in its flow's
    /// <see cref="StackFlowStats.SendErrors"/> and skipped, so one bad message never costs the rest of the batch.
    /// </summary>
    /// <param name="fd">The socket.</param>
    /// <param name="waitWritableMs">
    /// For a non-blocking socket: how long to wait for room in the socket buffer when the kernel answers EAGAIN
    /// before the rest of the batch counts as failed. A blocking socket (SO_SNDTIMEO) has already waited: 0.
    /// </param>
    public SendOutcome Send(int fd, int waitWritableMs = 0)
    {
        var outcome = default(SendOutcome);
        int start = 0;
        while (start < _count)
        {
            // The messages handed to the kernel: the queued ones, or runs of them joined into UDP GSO sends.
            UdpSegmentation? joined = _segmentation is { Enabled: true } ? _segmentation : null;
            MMsgHdr* wire = _messages + start;
            int wireCount = _count - start;
            if (joined is not null)
            {
                wire = joined.Messages;
                wireCount = joined.Build(_messages, _iov, _owners, start, _count);
            }

            int sent = LibC.SendMmsg(fd, wire, (uint)wireCount, 0);
            if (sent > 0)
            {
                for (int w = 0; w < sent; w++)
                {
                    int run = joined?.RunLength(w) ?? 1;
                    for (int i = start; i < start + run; i++)
                    {
                        StackFlowStats owner = _owners[i]!;
                        owner.PacketsSent++;
                        owner.BytesSent += (long)_iov[i].Length;
                    }

                    start += run;
                    outcome.Sent += run;
                    if (run > 1)
                    {
                        outcome.Joined++;
                    }
                }

                continue;
            }

            int errno = sent < 0 ? Errno.Last : 0;
            if (errno == Errno.EINTR)
            {
                continue;
            }

            if (joined is not null && joined.Refused(0, errno))
            {
                // The path refused the joined send, not the datagrams: the next round sends them unjoined.
                continue;
            }

            outcome.LastErrno = errno;
            if (errno == Errno.EAGAIN && waitWritableMs > 0 && WaitWritable(fd, waitWritableMs))
            {
                continue;
            }

            if (errno == Errno.EAGAIN)
            {
                // The send timeout passed with the socket buffer still full: waiting on would stall every flow of the
                // pipeline thread, so the rest of this socket's batch is counted as failed.
                for (int i = start; i < _count; i++)
                {
                    _owners[i]!.SendErrors++;
                }

                outcome.Failed += _count - start;
                break;
            }

            // sendmmsg reports an error only for the first message of a call (later ones end the call short and are
            // retried here as the first): this one was refused (EMSGSIZE, EPERM from a firewall, ENETUNREACH...),
            // and with it every datagram joined into it.
            int refused = joined?.RunLength(0) ?? 1;
            for (int i = start; i < start + refused; i++)
            {
                _owners[i]!.SendErrors++;
            }

            outcome.Failed += refused;
            start += refused;
        }

        // Drop the references so that a batch never keeps a closed flow's counters alive.
        Array.Clear(_owners, 0, _count);
        _count = 0;
        return outcome;
    }

    private static bool WaitWritable(int fd, int timeoutMs)
    {
        PollFd poll = new() { Fd = fd, Events = PollFd.PollOut };
        int ready = LibC.Poll(&poll, 1, timeoutMs);
        return ready > 0 && (poll.Revents & PollFd.PollOut) != 0;
    }

    public void Dispose()
    {
        _vector.Dispose();
        _segmentation?.Dispose();
    }
}

/// <summary>What one <see cref="SendBatch.Send"/> achieved.</summary>
internal struct SendOutcome
{
    public int Sent;
    public int Failed;

    /// <summary>UDP GSO sends among <see cref="Sent"/>: runs of datagrams the kernel took as one.</summary>
    public int Joined;

    /// <summary>errno of the last refused message, 0 when none was refused.</summary>
    public int LastErrno;
}
