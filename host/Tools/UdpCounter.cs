using System.Buffers.Binary;
using System.Net.Sockets;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Shared.Native;

namespace VirtualStack.Host.Tools;

/// <summary>
/// The counting server of the benchmarks and the demo: receives with recvmmsg, counts packets and bytes, counts
/// them per time bucket on the wall clock (so that two servers' buckets line up), and checks the generator's
/// sequence numbers for loss and reordering. Optionally echoes each datagram back.
/// </summary>
internal sealed unsafe class UdpCounter
{
    private const int Batch = 64;
    private const int MaxDatagram = 65536;

    public required NetEndpoint Bind { get; init; }

    public int BucketMs { get; init; } = 10;

    public bool Echo { get; init; }

    public CounterResult Run(CancellationToken cancel, Action? ready = null)
    {
        using var socket = new Socket(Bind.Address.Family, SocketType.Dgram, ProtocolType.Udp);
        SocketBuffers.Enlarge(socket, receive: true);
        socket.Bind(Bind.ToIPEndPoint());
        socket.ReceiveTimeout = 100;
        int fd = (int)socket.Handle;
        ready?.Invoke();

        byte[] buffers = GC.AllocateUninitializedArray<byte>(Batch * MaxDatagram, pinned: true);
        using var vector = new MessageVector(Batch);
        MMsgHdr* messages = vector.Messages;
        var result = new CounterResult(BucketMs);
        fixed (byte* data = buffers)
        {
            for (int i = 0; i < Batch; i++)
            {
                vector.Iov[i].Base = data + ((long)i * MaxDatagram);
            }

            while (!cancel.IsCancellationRequested)
            {
                for (int i = 0; i < Batch; i++)
                {
                    vector.Iov[i].Length = MaxDatagram;
                    messages[i].Header.NameLength = SockAddr.SlotSize;
                }

                // MSG_WAITFORONE: block for the first datagram (up to SO_RCVTIMEO), then take what is queued.
                int n = LibC.RecvMmsg(fd, messages, Batch, 0x10000, null);
                if (n <= 0)
                {
                    continue;
                }

                long nowMs = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMillisecond;
                for (int i = 0; i < n; i++)
                {
                    int length = (int)messages[i].Length;
                    result.Add(new ReadOnlySpan<byte>(data + ((long)i * MaxDatagram), length), nowMs);
                    vector.Iov[i].Length = (nuint)length;
                }

                if (Echo)
                {
                    // Each message still names its sender: the echo goes back where it came from.
                    LibC.SendMmsg(fd, messages, (uint)n, 0);
                }
            }
        }

        return result;
    }
}

/// <summary>What a counting server saw.</summary>
internal sealed class CounterResult(int bucketMs)
{
    private readonly Dictionary<long, long> _buckets = [];
    private long _expected;

    public int BucketMs { get; } = bucketMs;

    public long Packets { get; private set; }

    public long Bytes { get; private set; }

    /// <summary>Datagrams whose sequence number was lower than one already seen.</summary>
    public long Reordered { get; private set; }

    /// <summary>Highest sequence number seen plus one: with one generator, <c>MaxSequence - Packets</c> were lost.</summary>
    public long MaxSequence => _expected;

    public long FirstMs { get; private set; } = -1;

    public long LastMs { get; private set; } = -1;

    /// <summary>Packets per bucket, keyed by bucket start in Unix milliseconds.</summary>
    public IReadOnlyDictionary<long, long> Buckets => _buckets;

    public void Add(ReadOnlySpan<byte> datagram, long nowMs)
    {
        Packets++;
        Bytes += datagram.Length;
        if (FirstMs < 0)
        {
            FirstMs = nowMs;
        }

        LastMs = nowMs;
        long bucket = nowMs / BucketMs * BucketMs;
        _buckets[bucket] = _buckets.TryGetValue(bucket, out long count) ? count + 1 : 1;
        if (datagram.Length >= UdpGenerator.HeaderLength)
        {
            long sequence = BinaryPrimitives.ReadInt64BigEndian(datagram);
            if (sequence < _expected)
            {
                Reordered++;
            }
            else
            {
                _expected = sequence + 1;
            }
        }
    }
}
