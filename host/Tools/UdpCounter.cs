using System.Diagnostics;
using System.Net.Sockets;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Shared.Native;
using static Tmds.Linux.LibC;

namespace VirtualStack.Host.Tools;

/// <summary>
/// The counting server of the benchmarks and the demo: receives with recvmmsg, counts packets and bytes, counts
/// them per time bucket on the wall clock (so that two servers' buckets line up), checks the generator's sequence
/// numbers for loss and reordering, and records each datagram's one-way latency from the send time the generator
/// wrote into it (same machine, same clock) into a fixed histogram. It listens on one port, or on a range of
/// ports with one socket each (the flows benchmark's many far ends) watched by one epoll. Optionally echoes each
/// datagram back.
/// </summary>
internal sealed unsafe class UdpCounter
{
    private const int Batch = 64;
    private const int MaxDatagram = 65536;
    private const int MsgDontWait = 0x40;
    private const int MsgWaitForOne = 0x10000;

    // Large forced buffers are for the one hot socket; a thousand sockets of a flow set-up run see a few datagrams each.
    private const int MaxPortsWithLargeBuffers = 16;

    public required NetEndpoint Bind { get; init; }

    /// <summary>Number of consecutive ports from <see cref="Bind"/>'s port, one socket each.</summary>
    public int Ports { get; init; } = 1;

    public int BucketMs { get; init; } = 10;

    /// <summary>Latency is recorded only for datagrams received this long after the first one (steady state).</summary>
    public int WarmupMs { get; init; }

    public bool Echo { get; init; }

    /// <summary>When set, every datagram's sequence number and arrival time go to this file (<see cref="ArrivalLog"/>).</summary>
    public string? ArrivalsPath { get; init; }

    public CounterResult Run(CancellationToken cancel, Action? ready = null)
    {
        var sockets = new List<Socket>(Ports);
        using ArrivalLog? arrivals = ArrivalsPath is null ? null : new ArrivalLog(ArrivalsPath);
        try
        {
            for (int i = 0; i < Ports; i++)
            {
                var socket = new Socket(Bind.Address.Family, SocketType.Dgram, ProtocolType.Udp);
                sockets.Add(socket);
                if (Ports <= MaxPortsWithLargeBuffers)
                {
                    SocketBuffers.Enlarge(socket, receive: true);
                }

                socket.Bind(new NetEndpoint(Bind.Address, (ushort)(Bind.Port + i)).ToIPEndPoint());
                socket.ReceiveTimeout = 100;
            }

            ready?.Invoke();
            var result = new CounterResult(BucketMs, WarmupMs) { Arrivals = arrivals };
            byte[] buffers = GC.AllocateUninitializedArray<byte>(Batch * MaxDatagram, pinned: true);
            using var vector = new MessageVector(Batch);
            fixed (byte* data = buffers)
            {
                for (int i = 0; i < Batch; i++)
                {
                    vector.Iov[i].Base = data + ((long)i * MaxDatagram);
                }

                if (Ports == 1)
                {
                    ReceiveOne((int)sockets[0].Handle, vector, data, result, cancel);
                }
                else
                {
                    ReceiveMany(sockets, vector, data, result, cancel);
                }
            }

            return result;
        }
        finally
        {
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    private void ReceiveOne(int fd, MessageVector vector, byte* data, CounterResult result, CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            // MSG_WAITFORONE: block for the first datagram (up to SO_RCVTIMEO), then take what is queued.
            if (Drain(fd, vector, data, result, MsgWaitForOne) <= 0)
            {
                result.Arrivals?.Flush(); // quiet for 100 ms: the log on disk is complete up to now (the demo waits for that)
            }
        }
    }

    private void ReceiveMany(List<Socket> sockets, MessageVector vector, byte* data, CounterResult result, CancellationToken cancel)
    {
        int epoll = epoll_create1(EPOLL_CLOEXEC);
        if (epoll < 0)
        {
            throw new IOException($"epoll_create1: errno {errno}");
        }

        try
        {
            foreach (Socket socket in sockets)
            {
                Tmds.Linux.epoll_event add = default;
                add.events = EPOLLIN;
                add.data.fd = (int)socket.Handle;
                if (epoll_ctl(epoll, EPOLL_CTL_ADD, add.data.fd, &add) < 0)
                {
                    throw new IOException($"epoll_ctl: errno {errno}");
                }
            }

            const int MaxEvents = 64;
            Tmds.Linux.epoll_event* events = stackalloc Tmds.Linux.epoll_event[MaxEvents];
            while (!cancel.IsCancellationRequested)
            {
                int ready = epoll_wait(epoll, events, MaxEvents, 100);
                if (ready == 0)
                {
                    result.Arrivals?.Flush();
                }

                for (int e = 0; e < ready; e++)
                {
                    // Level-triggered: a socket with more queued than one batch is simply reported again.
                    Drain(events[e].data.fd, vector, data, result, MsgDontWait);
                }
            }
        }
        finally
        {
            _ = close(epoll);
        }
    }

    private int Drain(int fd, MessageVector vector, byte* data, CounterResult result, int flags)
    {
        MMsgHdr* messages = vector.Messages;
        for (int i = 0; i < Batch; i++)
        {
            vector.Iov[i].Length = MaxDatagram;
            messages[i].Header.NameLength = SockAddr.SlotSize;
        }

        int n = LibC.RecvMmsg(fd, messages, Batch, flags, null);
        if (n <= 0)
        {
            return n;
        }

        long nowNs = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
        long nowTicks = Stopwatch.GetTimestamp();
        for (int i = 0; i < n; i++)
        {
            int length = (int)messages[i].Length;
            result.Add(new ReadOnlySpan<byte>(data + ((long)i * MaxDatagram), length), nowNs, nowTicks);
            vector.Iov[i].Length = (nuint)length;
        }

        if (Echo)
        {
            // Each message still names its sender: the echo goes back where it came from.
            LibC.SendMmsg(fd, messages, (uint)n, 0);
        }

        return n;
    }
}
