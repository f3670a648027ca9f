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
/// is concerned (kernel sockets), sending datagrams of a fixed IP size in batches of 64 with sendmmsg, at full
/// speed or at a given rate. Each payload starts with a 16-byte header (sequence number, send time in Unix
/// nanoseconds) followed by random bytes, like the paper's generator.
/// </summary>
/// <remarks>
/// With <see cref="Flows"/> it plays many flows instead of one: flow <c>i</c> goes from socket <c>i / Ports</c> to
/// destination port <c>Target.Port + i % Ports</c>, and the flows are visited in turn, one datagram each. Spreading
/// the flows over several destination ports gives them different far ends, which VirtualStack's Udp stack can
/// carry on shared sockets (a far end seen twice needs a second socket), and keeps the generator's own descriptors
/// (one per source port) and the server's (one per destination port) far below the 20,000 per process.
/// </remarks>
internal sealed unsafe partial class UdpGenerator
{
    public const int HeaderLength = 16;

    /// <summary>Sockets the flows mode opens at most (the process may hold 20,000 descriptors).</summary>
    public const int MaxSockets = 16_384;

    private const int Batch = 64;
    private const int MaxSocketsWithLargeBuffers = 16;

    public required NetEndpoint Target { get; init; }

    /// <summary>Size of each IP packet (header included), as the paper counts it.</summary>
    public int PacketSize { get; init; } = 1500;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(5);

    public long Count { get; init; } = long.MaxValue;

    /// <summary>Packets per second; 0 sends as fast as the socket takes them.</summary>
    public long Rate { get; init; }

    /// <summary>
    /// With <see cref="Rate"/>: how far behind its schedule the generator may catch up, in ms (0: all the way). A
    /// generator descheduled for longer skips what it missed beyond this instead of sending it at full speed, so the
    /// offered load never exceeds the rate by more than this much at once.
    /// </summary>
    public int CatchUpMs { get; init; }

    public int SocketMark { get; init; }

    /// <summary>0: one flow on one connected socket. Otherwise the number of flows to cycle through.</summary>
    public int Flows { get; init; }

    /// <summary>Destination ports the flows are spread over, from <see cref="Target"/>'s port up.</summary>
    public int Ports { get; init; } = 1;

    /// <summary>Source port of the first socket, the next socket takes the next port; 0 lets the kernel choose.</summary>
    public int SourcePort { get; init; }

    public int PayloadLength => PacketSize - (Target.Address.IsV4 ? 28 : 48);

    /// <summary>Sockets this generator opens: one, or one per <see cref="Ports"/> flows.</summary>
    public int SocketCount => Flows == 0 ? 1 : (Flows + Ports - 1) / Ports;

    public GeneratorResult Run(CancellationToken cancel)
    {
        int payload = PayloadLength;
        if (payload < HeaderLength)
        {
            throw new ArgumentException($"--size {PacketSize} leaves no room for the {HeaderLength}-byte header");
        }

        var sockets = new List<Socket>(SocketCount);
        try
        {
            int[] fds = new int[SocketCount];
            for (int i = 0; i < fds.Length; i++)
            {
                Socket socket = Open(i);
                sockets.Add(socket);
                fds[i] = (int)socket.Handle;
            }

            byte[] buffers = GC.AllocateUninitializedArray<byte>(Batch * payload, pinned: true);
            Random.Shared.NextBytes(buffers);
            using var vector = new MessageVector(Batch);
            fixed (byte* data = buffers)
            {
                for (int i = 0; i < Batch; i++)
                {
                    vector.Iov[i].Base = data + (i * payload);
                    vector.Iov[i].Length = (nuint)payload;
                    if (Flows == 0)
                    {
                        vector.Messages[i].Header.Name = null; // connected socket: no per-message address
                    }
                }

                return SendLoop(fds, vector, data, payload, cancel);
            }
        }
        finally
        {
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    private Socket Open(int index)
    {
        var socket = new Socket(Target.Address.Family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (SocketCount <= MaxSocketsWithLargeBuffers)
            {
                SocketBuffers.Enlarge(socket, receive: false);
            }

            if (SocketMark != 0)
            {
                socket.SetRawSocketOption(1, 36, BitConverter.GetBytes(SocketMark));
            }

            if (SourcePort != 0)
            {
                IPAddress any = Target.Address.IsV4 ? IPAddress.Any : IPAddress.IPv6Any;
                socket.Bind(new IPEndPoint(any, SourcePort + index));
            }

            if (Flows == 0)
            {
                socket.Connect(Target.ToIPEndPoint());
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private GeneratorResult SendLoop(int[] fds, MessageVector vector, byte* data, int payload, CancellationToken cancel)
    {
        MMsgHdr* messages = vector.Messages;
        long sent = 0;
        long errors = 0;
        int flow = 0; // next flow in flows mode
        long start = Stopwatch.GetTimestamp();
        long end = start + (long)(Duration.TotalSeconds * Stopwatch.Frequency);
        double ticksPerPacket = Rate > 0 ? (double)Stopwatch.Frequency / Rate : 0;
        long quantum = Math.Clamp(Rate / 5000, 1, Batch);
        long origin = start; // the schedule: packet k is due at origin + k * ticksPerPacket
        long maxLag = CatchUpMs > 0 ? CatchUpMs * Stopwatch.Frequency / 1000 : long.MaxValue;
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
                // Pace by schedule, not by sleeping a fixed time: a late batch catches up, an early one waits. The wait
                // is a nanosleep until a quantum of packets (about 200 us of them) is due: no spinning (the generator
                // shares a core with the servers) and few system calls, yet the stream stays smooth at 10 ms.
                long late = now - (origin + (long)(sent * ticksPerPacket));
                if (late > maxLag)
                {
                    origin += late - maxLag; // descheduled too long: what is missed beyond CatchUpMs is not sent
                }

                long due = origin + (long)((sent + quantum - 1) * ticksPerPacket);
                if (due > now)
                {
                    Nap((due - now) * 1_000_000_000 / Stopwatch.Frequency);
                    continue;
                }

                n = (int)Math.Min(n, Math.Max(1, (long)((now - origin) / ticksPerPacket) + 1 - sent));
            }

            int fd = fds[0];
            if (Flows > 0)
            {
                // One call, one socket: the flows of this socket from `flow` on, each to its own port.
                int socket = flow / Ports;
                fd = fds[socket];
                n = Math.Min(n, Math.Min((socket + 1) * Ports, Flows) - flow);
                for (int i = 0; i < n; i++)
                {
                    messages[i].Header.NameLength = SockAddr.Write(vector.Names + (i * SockAddr.SlotSize), Target.Address, (ushort)(Target.Port + ((flow + i) % Ports)));
                }
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
            if (Flows > 0)
            {
                flow = (flow + done) % Flows;
            }
        }

        return new GeneratorResult(sent, errors, Stopwatch.GetElapsedTime(start), PacketSize);
    }

    private static void Nap(long nanoseconds)
    {
        TimeSpec request = new() { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
        _ = NanoSleep(&request, null); // EINTR: the loop looks at the clock again anyway
    }

    [LibraryImport("libc", EntryPoint = "nanosleep")]
    private static partial int NanoSleep(TimeSpec* request, TimeSpec* remaining);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}

/// <summary>What a generator run sent.</summary>
internal sealed record GeneratorResult(long Sent, long Errors, TimeSpan Elapsed, int PacketSize)
{
    public double PacketsPerSecond => Sent / Elapsed.TotalSeconds;

    /// <summary>Gbit/s counted at the IP level (the whole packet), like the paper and shared/perf.</summary>
    public double Gbps => PacketsPerSecond * PacketSize * 8 / 1e9;
}
