using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Core;
using VirtualStack.Plugins.Dccp.Endpoint;
using VirtualStack.Plugins.Dccp.Stack;
using VirtualStack.Plugins.Dccp.Transport;

namespace VirtualStack.Plugins.Dccp.Tool;

/// <summary>
/// <c>vs dccp send</c>: opens one DCCP connection, sends datagrams (as fast as CCID 2 allows, or at --rate), and
/// prints what was sent, acknowledged and lost, any replies, and the connection's statistics; with --stats-ms a
/// sampled series of the congestion window while it runs.
/// </summary>
internal static class SendTool
{
    public static async Task<int> RunAsync(ToolArguments args, TextWriter output, CancellationToken cancellationToken)
    {
        NetEndpoint to = args.Endpoint("to") ?? throw new ToolUsageException("--to HOST:PORT is required (the listener's address and DCCP port)");
        uint service = args.Service("service") ?? 0;
        int count = args.Int("count", 10, 1, int.MaxValue);
        int size = args.Int("size", 1000, 8, 65535);
        args.Int("ccid", 2, 2, 2); // only CCID 2 is implemented; the option exists for the documented command line
        DccpTransportKind kind = args.Transport();
        ushort udpPort = (ushort)args.Int("udp-port", to.Port, 1, 65535);
        int rate = args.Int("rate", 0, 0, 10_000_000);
        int statsMs = args.Int("stats-ms", 0, 0, 3_600_000);
        int waitMs = args.Int("wait-ms", 1000, 0, 600_000);
        int mtu = args.Int("mtu", 1500, 576, 65535);
        int mark = args.Int("mark", 0, 0, int.MaxValue);
        NetAddress? address = args.Address("address");
        args.RejectUnknown();

        NetAddress local = address ?? Routing.SourceAddressFor(to, mark);
        using var endpoint = new DccpEndpoint(ToolTransports.Open(kind, local, 0, mtu, mark, udpPort));
        if (size > endpoint.MaxDatagramSize)
        {
            throw new ToolUsageException($"--size: {size} bytes is more than a datagram can carry here ({endpoint.MaxDatagramSize} bytes with MTU {mtu}); DCCP never fragments");
        }

        var clock = Stopwatch.StartNew();
        DccpConnection connection;
        try
        {
            connection = await endpoint.ConnectAsync(to, service, cancellationToken);
        }
        catch (DccpException e)
        {
            throw new DccpToolException(e.Message);
        }

        await using (connection)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"connected to {to} from {local}:{connection.LocalPort} in {ToolTransports.Ms(clock.Elapsed)} ({ToolTransports.Describe(kind)}, service {service}, CCID 2, max datagram {connection.MaxDatagramSize} bytes)"));

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            long replies = 0;
            Task receiving = Task.Run(async () =>
            {
                byte[] buffer = new byte[65536];
                try
                {
                    while (await connection.ReceiveAsync(buffer, stop.Token) >= 0)
                    {
                        Interlocked.Increment(ref replies);
                    }
                }
                catch (OperationCanceledException)
                {
                }
            }, CancellationToken.None);
            Task sampling = statsMs > 0 ? Sample(connection, output, statsMs, clock, stop.Token) : Task.CompletedTask;

            byte[] datagram = new byte[size];
            datagram.AsSpan(8).Fill(0x5A);
            var sending = Stopwatch.StartNew();
            long sent = 0;
            long bytes = 0;
            try
            {
                for (long i = 0; i < count; i++)
                {
                    if (rate > 0)
                    {
                        long due = i * Stopwatch.Frequency / rate;
                        while (sending.ElapsedTicks < due)
                        {
                            TimeSpan ahead = TimeSpan.FromTicks((due - sending.ElapsedTicks) * TimeSpan.TicksPerSecond / Stopwatch.Frequency);
                            if (ahead > TimeSpan.FromMilliseconds(2))
                            {
                                await Task.Delay(ahead - TimeSpan.FromMilliseconds(1), cancellationToken);
                            }
                            else
                            {
                                Thread.SpinWait(100);
                            }
                        }
                    }

                    BinaryPrimitives.WriteInt64BigEndian(datagram, i);
                    await connection.SendAsync(datagram, cancellationToken); // waits while CCID 2's window and the queue are full
                    sent++;
                    bytes += size;
                }
            }
            catch (OperationCanceledException)
            {
                output.WriteLine("interrupted");
            }
            catch (DccpException e)
            {
                output.WriteLine($"connection ended while sending: {e.Message}");
            }

            TimeSpan took = sending.Elapsed;

            // Let the last datagrams be acknowledged (and replies arrive) before reading the counters.
            var settle = Stopwatch.StartNew();
            while (settle.ElapsedMilliseconds < Math.Max(waitMs, 100) && !cancellationToken.IsCancellationRequested)
            {
                DccpConnectionStats now = connection.Stats;
                if (now.Pipe == 0 && now.SendQueueLength == 0 && (waitMs == 0 || Interlocked.Read(ref replies) >= sent || settle.ElapsedMilliseconds >= waitMs))
                {
                    break;
                }

                await Task.Delay(10, CancellationToken.None);
            }

            DccpConnectionStats s = connection.Stats;
            long acknowledged = s.DataPacketsSent - s.DataPacketsLost - s.Pipe;
            double seconds = Math.Max(took.TotalSeconds, 1e-6);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"sent {sent} datagrams ({bytes} bytes) in {seconds:0.###} s: {sent / seconds:0} datagrams/s, {bytes * 8 / seconds / 1e6:0.#} Mbit/s"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"acknowledged {acknowledged}, lost {s.DataPacketsLost} ({(s.DataPacketsSent == 0 ? 0 : 100.0 * s.DataPacketsLost / s.DataPacketsSent):0.##} %), in flight {s.Pipe}, unsent {s.SendQueueLength}, replies received {Interlocked.Read(ref replies)}"));
            output.WriteLine("connection: " + ToolTransports.Describe(s));

            await stop.CancelAsync();
            await Task.WhenAll(receiving, sampling);
            using var closing = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            try
            {
                await connection.CloseAsync(closing.Token);
            }
            catch (OperationCanceledException)
            {
                connection.Abort();
            }

            output.WriteLine($"closed: {connection.CloseReason}");
            return 0;
        }
    }

    private static async Task Sample(DccpConnection connection, TextWriter output, int intervalMs, Stopwatch clock, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(intervalMs));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                DccpConnectionStats s = connection.Stats;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"t={clock.Elapsed.TotalSeconds:0.000}s cwnd={s.Cwnd} ssthresh={(s.Ssthresh == int.MaxValue ? "-" : s.Ssthresh.ToString(CultureInfo.InvariantCulture))} pipe={s.Pipe} rtt={s.Rtt.TotalMilliseconds:0.###}ms sent={s.DataPacketsSent} lost={s.DataPacketsLost} timeouts={s.Timeouts}"));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
