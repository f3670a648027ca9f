using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Shared.Native;

namespace VirtualStack.Host.Tools;

/// <summary>
/// The load generator of the benchmarks and the demo: an ordinary, unchanged UDP application as far as VirtualStack
/// is concerned (a kernel socket), sending datagrams of a fixed IP size in batches of 64 with sendmmsg, at full
/// speed or at a given rate. Each payload starts with a 16-byte header (sequence number, send time in Unix
/// nanoseconds) followed by random bytes, like the paper's generator.
/// </summary>
internal sealed unsafe class UdpGenerator
{
    public const int HeaderLength = 16;
    private const int Batch = 64;

    public required NetEndpoint Target { get; init; }

    /// <summary>Size of each IP packet (header included), as the paper counts it.</summary>
    public int PacketSize { get; init; } = 1500;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(5);

    public long Count { get; init; } = long.MaxValue;

    /// <summary>Packets per second; 0 sends as fast as the socket takes them.</summary>
    public long Rate { get; init; }

    public int SocketMark { get; init; }

    public int PayloadLength => PacketSize - (Target.Address.IsV4 ? 28 : 48);

    public GeneratorResult Run(CancellationToken cancel)
    {
        int payload = PayloadLength;
        if (payload < HeaderLength)
        {
            throw new ArgumentException($"--size {PacketSize} leaves no room for the {HeaderLength}-byte header");
        }

        using var socket = new Socket(Target.Address.Family, SocketType.Dgram, ProtocolType.Udp);
        SocketBuffers.Enlarge(socket, receive: false);
        if (SocketMark != 0)
        {
            socket.SetRawSocketOption(1, 36, BitConverter.GetBytes(SocketMark));
        }

        socket.Connect(Target.ToIPEndPoint());
        int fd = (int)socket.Handle;

        byte[] buffers = GC.AllocateUninitializedArray<byte>(Batch * payload, pinned: true);
        Random.Shared.NextBytes(buffers);
        using var vector = new MessageVector(Batch);
        fixed (byte* data = buffers)
        {
            for (int i = 0; i < Batch; i++)
            {
                vector.Iov[i].Base = data + (i * payload);
                vector.Iov[i].Length = (nuint)payload;
                vector.Messages[i].Header.Name = null; // connected socket: no per-message address
            }

            return SendLoop(fd, vector.Messages, data, payload, cancel);
        }
    }

    private GeneratorResult SendLoop(int fd, MMsgHdr* messages, byte* data, int payload, CancellationToken cancel)
    {
        long sent = 0;
        long errors = 0;
        long start = Stopwatch.GetTimestamp();
        long end = start + (long)(Duration.TotalSeconds * Stopwatch.Frequency);
        double ticksPerPacket = Rate > 0 ? (double)Stopwatch.Frequency / Rate : 0;
        while (sent < Count && !cancel.IsCancellationRequested)
        {
            long now = Stopwatch.GetTimestamp();
            if (now >= end)
            {
                break;
            }

            int n = (int)Math.Min(Batch, Count - sent);
            if (Rate > 0)
            {
                // Pace by schedule, not by sleeping a fixed time: a late batch catches up, an early one waits.
                long due = start + (long)(sent * ticksPerPacket);
                if (due > now)
                {
                    long waitMs = (due - now) * 1000 / Stopwatch.Frequency;
                    if (waitMs > 1)
                    {
                        Thread.Sleep((int)waitMs - 1);
                    }

                    continue;
                }

                n = (int)Math.Min(n, Math.Max(1, (long)((now - due) / ticksPerPacket) + 1));
            }

            long unixNanos = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
            for (int i = 0; i < n; i++)
            {
                var header = new Span<byte>(data + (i * payload), HeaderLength);
                BinaryPrimitives.WriteInt64BigEndian(header, sent + i);
                BinaryPrimitives.WriteInt64BigEndian(header[8..], unixNanos);
            }

            int done = LibC.SendMmsg(fd, messages, (uint)n, 0);
            if (done < 0)
            {
                int error = Marshal.GetLastPInvokeError();
                if (error != Tmds.Linux.LibC.EINTR)
                {
                    errors++;
                    // ECONNREFUSED from an ICMP error of an earlier datagram: the next call goes on.
                    if (errors > 1_000_000)
                    {
                        break;
                    }
                }

                continue;
            }

            sent += done;
        }

        return new GeneratorResult(sent, errors, Stopwatch.GetElapsedTime(start), PacketSize);
    }
}

/// <summary>What a generator run sent.</summary>
internal sealed record GeneratorResult(long Sent, long Errors, TimeSpan Elapsed, int PacketSize)
{
    public double PacketsPerSecond => Sent / Elapsed.TotalSeconds;

    /// <summary>Gbit/s counted at the IP level (the whole packet), like the paper and shared/perf.</summary>
    public double Gbps => PacketsPerSecond * PacketSize * 8 / 1e9;
}
