using System.Diagnostics;
using VirtualStack.Contracts.Net;
using VirtualStack.Dccp.Tests.Support;
using VirtualStack.Plugins.Dccp.Core;
using VirtualStack.Plugins.Dccp.Endpoint;
using VirtualStack.Plugins.Dccp.Transport;
using Xunit.Abstractions;

namespace VirtualStack.Dccp.Tests.Interop;

/// <summary>
/// Interoperation with the Linux 6.1 kernel's DCCP (/work/shared/dccp-lab): our client against the kernel server
/// and the kernel client against our server, CCID 2 both ways, clean closes, 10,000 datagrams each way. Skipped
/// with the reason when not root or the lab is down. Tests share the lab's one raw socket address, so they run
/// one at a time (one collection).
/// </summary>
[Collection(nameof(KernelInteropTests))]
public class KernelInteropTests(ITestOutputHelper output)
{
    private static readonly NetAddress Host = NetAddress.FromIPAddress(DccpLab.Host);
    private static readonly NetAddress Vm = NetAddress.FromIPAddress(DccpLab.Vm);

    internal static int Datagrams => int.TryParse(Environment.GetEnvironmentVariable("DCCP_LAB_DATAGRAMS"), out int n) ? n : 10_000;

    /// <summary>Datagrams per second our client sends to the kernel: 10,000 take 1 s.</summary>
    private const int PacedRate = 10_000;

    [SkippableFact]
    public async Task Our_client_to_kernel_server_every_datagram_counted_ccid2_both_ways_clean_close()
    {
        Skip.If(DccpLab.WhyUnavailable is not null, DccpLab.WhyUnavailable);
        const ushort Port = 5101;
        Assert.Equal("ok", (await DccpLab.ControlAsync($"listen port={Port} svc=0 ccid=2 log=4", TimeSpan.FromSeconds(20))).Trim());
        try
        {
            // Keep the raw socket open for the whole test (lab README pitfall 1).
            using var endpoint = new DccpEndpoint(DccpLab.InLab(() => new RawIpTransport(Host)));
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
            var watch = Stopwatch.StartNew();
            await using DccpConnection connection = await endpoint.ConnectAsync(new NetEndpoint(Vm, Port), 0, timeout.Token);
            int count = Datagrams;
            long bytes = 0;
            byte[] datagram = new byte[1000];
            var pace = Stopwatch.StartNew();
            for (int i = 0; i < count; i++)
            {
                int size = 100 + (i % 9 * 100);
                System.Text.Encoding.ASCII.GetBytes($"vs-dccp seq={i} ").CopyTo(datagram, 0);
                await connection.SendAsync(datagram.AsMemory(0, size), timeout.Token);
                bytes += size;
                if ((i + 1) % 100 == 0 && TimeSpan.FromSeconds((i + 1) / (double)PacedRate) - pace.Elapsed is { Ticks: > 0 } ahead)
                {
                    // A moderate rate, as for every 10,000-datagram test: unpaced, our sender (batched sendmmsg, a
                    // window of 500 packets) bursts faster than the emulated VM drains its queue, and real loss there
                    // is congestion, not an interop failure (CCID 2 then detects and counts it, checked below).
                    await Task.Delay(ahead, timeout.Token);
                }
            }

            await connection.CloseAsync(timeout.Token);
            DccpConnectionStats stats = connection.Stats;
            output.WriteLine($"sent {count} datagrams / {bytes} bytes in {watch.Elapsed}; close: {connection.CloseReason}; {stats}");
            output.WriteLine("drops: " + endpoint.Drops);
            Assert.Equal("closed", connection.CloseReason); // our Close answered by Reset(Closed)

            Dictionary<string, string>? conn = await DccpLab.ConnectionStatsAsync($"{DccpLab.Host}:{connection.LocalPort}");
            Assert.NotNull(conn);
            output.WriteLine("labd: " + string.Join(' ', conn.Select(kv => kv.Key + "=" + kv.Value)));
            Assert.Equal("2", conn["tx_ccid"]);
            Assert.Equal("2", conn["rx_ccid"]);
            // Whatever the kernel did not count, our CCID 2 must have seen as lost: the accounting of both ends agrees.
            Assert.Equal(count, long.Parse(conn["rx_pkts"], System.Globalization.CultureInfo.InvariantCulture) + stats.DataPacketsLost);
            Assert.Equal(count.ToString(System.Globalization.CultureInfo.InvariantCulture), conn["rx_pkts"]);
            Assert.Equal(bytes.ToString(System.Globalization.CultureInfo.InvariantCulture), conn["rx_bytes"]);
            Assert.Equal("closed", conn["state"]);
            Assert.Equal("peer-closed", conn["reason"]);
        }
        finally
        {
            await DccpLab.ControlAsync($"unlisten port={Port}", TimeSpan.FromSeconds(20));
        }
    }

    [SkippableFact]
    public async Task Kernel_client_to_our_server_every_datagram_arrives_without_sender_stalls()
    {
        Skip.If(DccpLab.WhyUnavailable is not null, DccpLab.WhyUnavailable);
        const ushort Port = 6101;
        // DCCP has no flow control: a reader that falls behind loses datagrams at its receive queue (counted as
        // ReceiveQueueFull). This test is about the protocol (every datagram accepted, no sender stall), not about how
        // fast a test thread drains on a loaded CI machine, so the queue holds the whole transfer.
        using var endpoint = new DccpEndpoint(
            DccpLab.InLab(() => new RawIpTransport(Host)),
            new DccpProtocolOptions { ReceiveQueueCapacity = Math.Max(4096, Datagrams + 1024) });
        using DccpListener listener = endpoint.Listen(Port, 0);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        int count = Datagrams;
        var watch = Stopwatch.StartNew();
        Task<string> client = DccpLab.ControlAsync($"client host={DccpLab.Host} port={Port} svc=0 ccid=2 n={count} size=600 timeout_ms=20000 linger_ms=20000", TimeSpan.FromMinutes(4));
        await using DccpConnection connection = await listener.AcceptAsync(timeout.Token);
        byte[] buffer = new byte[2048];
        int received = 0;
        TimeSpan longestGap = TimeSpan.Zero;
        TimeSpan last = watch.Elapsed;
        while (true)
        {
            int n = await connection.ReceiveAsync(buffer, timeout.Token);
            if (n < 0)
            {
                break;
            }

            Assert.Equal(600, n);
            Assert.StartsWith("labd-client seq=", System.Text.Encoding.ASCII.GetString(buffer, 0, 16));
            TimeSpan now = watch.Elapsed;
            if (received > 0 && now - last > longestGap)
            {
                longestGap = now - last;
            }

            last = now;
            received++;
        }

        string reply = await client;
        DccpConnectionStats stats = connection.Stats;
        output.WriteLine($"received {received} in {watch.Elapsed}, longest gap {longestGap}; close: {connection.CloseReason}; {stats}");
        output.WriteLine("labd client: " + reply.Trim().Replace('\n', '|'));
        output.WriteLine("drops: " + endpoint.Drops);
        Assert.Equal(count, received);
        Assert.Contains($"done sent={count} failed=0", reply, StringComparison.Ordinal);
        Assert.Equal("peer-closed", connection.CloseReason); // the kernel's Close, answered by our Reset(Closed)
        // A kernel CCID 2 sender that gets no usable Ack Vectors stalls until its RTO (≥ 200 ms, backing off to
        // seconds); with them the data keeps flowing.
        Assert.True(longestGap < TimeSpan.FromSeconds(1), $"the kernel sender stalled for {longestGap}");
    }

    [SkippableFact]
    public async Task Tshark_decodes_every_packet_we_sent_to_the_kernel_as_dccp_with_checksum_good()
    {
        Skip.If(DccpLab.WhyUnavailable is not null, DccpLab.WhyUnavailable);
        string? tshark = ExternalTools.Find("tshark");
        Skip.If(tshark is null, "tshark is not installed");
        const ushort Port = 5102;
        string dir = Directory.CreateTempSubdirectory("vs-dccp-lab-capture-").FullName;
        string pcap = Path.Combine(dir, "lab.pcap");
        Assert.Equal("ok", (await DccpLab.ControlAsync($"listen port={Port} svc=0 ccid=2 echo=1 log=2", TimeSpan.FromSeconds(20))).Trim());
        // `ip netns exec` execs tshark, so the pid we get is tshark's own: we stop exactly the process we started.
        var capture = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("ip")
        {
            // -B 64: a 64 MiB capture buffer, so a capture process that falls behind on a loaded machine does not drop.
            ArgumentList = { "netns", "exec", DccpLab.Namespace, tshark!, "-i", "dccptap0", "-B", "64", "-f", "ip proto 33", "-w", pcap },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        try
        {
            var started = new TaskCompletionSource();
            var captureLog = new System.Collections.Concurrent.ConcurrentQueue<string>();
            capture.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is { } line)
                {
                    captureLog.Enqueue(line);
                }

                if (e.Data?.Contains("Capturing on", StringComparison.Ordinal) == true)
                {
                    started.TrySetResult();
                }
            };
            capture.BeginErrorReadLine();
            await started.Task.WaitAsync(TimeSpan.FromSeconds(20));
            await Task.Delay(500); // "Capturing on" comes before the capture is live: on a loaded machine the first burst was missed

            using (var endpoint = new DccpEndpoint(DccpLab.InLab(() => new RawIpTransport(Host))))
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
                await using DccpConnection connection = await endpoint.ConnectAsync(new NetEndpoint(Vm, Port), 0, timeout.Token);
                byte[] buffer = new byte[2048];
                for (int i = 0; i < 500; i++)
                {
                    await connection.SendAsync(new byte[1 + (i * 7 % 1300)], timeout.Token);
                }

                // The kernel server echoes (echo=1): our receiver's Ack Vectors drive the kernel's CCID 2 sender too.
                int echoed = 0;
                using var quiet = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
                quiet.CancelAfter(TimeSpan.FromSeconds(3));
                try
                {
                    while (echoed < 500 && await connection.ReceiveAsync(buffer, quiet.Token) >= 0)
                    {
                        echoed++;
                    }
                }
                catch (OperationCanceledException) when (!timeout.IsCancellationRequested)
                {
                }

                output.WriteLine($"echoed back {echoed} of 500");

                // SendAsync returns once a datagram is queued; CCID 2 paces the queue out as the window opens, which on
                // a slow (emulated, loaded) lab VM can take longer than the echo wait. Close only once all 500 left
                // and were acknowledged, so the capture below must hold every one of them.
                while (connection.Stats is { SendQueueLength: > 0 } or { Pipe: > 0 })
                {
                    await Task.Delay(20, timeout.Token);
                }

                output.WriteLine($"before close: {connection.Stats}");
                await connection.CloseAsync(timeout.Token);
                Assert.Equal("closed", connection.CloseReason);
            }

            await Task.Delay(500);
            ExternalTools.Run("kill", ["-INT", capture.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(5));
            Assert.True(capture.WaitForExit(10_000));

            string[] common = ["-r", pcap, "-o", "dccp.check_checksum:TRUE"];
            (int code, string all, string err) = ExternalTools.Run(tshark!, [.. common, "-Y", $"ip.src == {DccpLab.Host} && dccp"], TimeSpan.FromSeconds(60));
            Assert.True(code == 0, err);
            int ours = all.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
            (_, string kernel, _) = ExternalTools.Run(tshark!, [.. common, "-Y", $"ip.src == {DccpLab.Vm} && dccp"], TimeSpan.FromSeconds(60));
            (_, string bad, _) = ExternalTools.Run(tshark!,
                [.. common, "-Y", $"ip.src == {DccpLab.Host} && (_ws.malformed || _ws.expert.severity >= \"Error\" || dccp.checksum.status != 1)"], TimeSpan.FromSeconds(60));
            output.WriteLine($"tshark: {ours} DCCP packets from us, {kernel.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length} from the kernel");
            // tshark reports on exit how many packets the capture itself lost ("N packets dropped from ..."): those are
            // the capture's shortfall, not ours, and the check below still covers every packet that was captured.
            int captureDropped = captureLog.Select(CaptureDrops).Sum();
            output.WriteLine($"capture log: {string.Join(" | ", captureLog)}");
            Assert.True(ours + captureDropped >= 500, $"only {ours} of our packets captured ({captureDropped} dropped by the capture)");
            Assert.True(bad.Trim().Length == 0, "tshark flagged:\n" + bad);
        }
        finally
        {
            if (!capture.HasExited)
            {
                capture.Kill();
            }

            capture.Dispose();
            await DccpLab.ControlAsync($"unlisten port={Port}", TimeSpan.FromSeconds(20));
            Directory.Delete(dir, recursive: true);
        }
    }

    private static int CaptureDrops(string line)
    {
        // e.g. "1234 packets captured" / "12 packets dropped from dccptap0"
        var match = System.Text.RegularExpressions.Regex.Match(line, @"^(\d+) packets? dropped");
        return match.Success ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }
}
