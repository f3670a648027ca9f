using System.Globalization;
using System.Text.Json.Nodes;
using VirtualStack.Host.Lab;

namespace VirtualStack.Host.Bench;

/// <summary>
/// <c>vs bench throughput --stack dccp</c>: one run, one topology, one generator, four paths measured in turn
/// (kernel only, VS with the Udp stack, VS with the Udp stack sending every datagram on its own, VS with the Dccp
/// stack; with <c>--runs N</c> N rounds, every other one in reverse order so that drift in the machine's load hits
/// all alike). Why the third: the Udp stack joins a flow's datagrams into UDP GSO sends, which raw IP sockets (the
/// Dccp stack's) cannot do; the Udp stack without joining pays the kernel per datagram as DCCP does, so dccp /
/// unjoined udp is the cost of DCCP's own work, dccp / udp what a user gives up by choosing DCCP. The DCCP connection ends at a
/// <c>vs dccp listen --deliver</c> in the server namespace, which hands each datagram as UDP to the counter; it
/// shares the counter's CPU, not VS's. One <c>vs run</c> carries both stacks (port 9000 on udp, 9002 on dccp), with
/// a fixed source port per path so that each path keeps one flow (and one DCCP connection) across rounds.
/// With <c>--loss PCT</c> the veth drops that share of the data direction and the DCCP connection's CCID 2 state
/// (cwnd, ssthresh, pipe, RTT, losses, congestion events) is sampled every 100 ms (the stack's StatsLogMs) into
/// the JSON, a CSV and a PNG.
/// </summary>
internal sealed class DccpThroughputBench(string vs, int size, int seconds, int runs, double? lossPercent, Action<string> log)
{
    private const int UdpPort = 9000;
    private const int DccpPort = 9001;
    private const int DccpDeliverPort = 9002;
    private const int UnjoinedPort = 9003;
    private const int SampleMs = 100;
    private const string Vnic = "vsb0"; // BenchLab's TUN name
    private const string SourcePortUdp = "40000";
    private const string SourcePortDccp = "40002";
    private const string SourcePortUnjoined = "40003";

    /// <summary>Largest IP packet whose UDP payload fits one DCCP packet at MTU 1500 (MPS 1352 + 28).</summary>
    public const int MaxSize = 1380;

    /// <summary>Default IP packet size of the DCCP comparison.</summary>
    public const int DefaultSize = 1300;

    public async Task<JsonObject> RunAsync()
    {
        using BenchLab bench = BenchLab.Create(vs, "vsb", log);
        JsonArray loadBefore = BenchLab.LoadAverage();
        using DccpLossShaping? shaping = lossPercent is { } pct ? DccpLossShaping.Apply(bench.Lab, pct, log) : null;

        LabProcess listener = bench.Lab.Start(bench.Lab.Server, vs,
            ["dccp", "listen", "--port", $"{DccpPort}", "--address", BenchLab.Server, "--deliver", $"127.0.0.1:{DccpDeliverPort}"], cpu: 0);
        await listener.WaitForLineAsync("listening on DCCP", TimeSpan.FromSeconds(20));

        JsonObject dccpRule = BenchRules.Udp("dccp", DccpDeliverPort, "dccp");
        dccpRule["Nat"] = new JsonObject { ["dccp"] = $"{BenchLab.Server}:{DccpPort}" };
        BenchDaemon daemon = await bench.StartVsAsync(
            new JsonObject
            {
                ["udp"] = new JsonObject { ["Plugin"] = "Udp" },
                ["udp1"] = new JsonObject { ["Plugin"] = "Udp", ["SendSegments"] = 1 },
                ["dccp"] = new JsonObject { ["Plugin"] = "Dccp", ["StatsLogMs"] = SampleMs },
            },
            [BenchRules.Udp("udp", UdpPort, "udp"), BenchRules.Udp("udp1", UnjoinedPort, "udp1"), dccpRule]);

        var direct = new PathTotals();
        var udp = new PathTotals();
        var unjoined = new PathTotals();
        var dccp = new PathTotals();
        long dccpStartMs = 0;
        for (int round = 0; round < runs; round++)
        {
            PathTotals[] order = round % 2 == 0 ? [direct, udp, unjoined, dccp] : [dccp, unjoined, udp, direct];
            foreach (PathTotals path in order)
            {
                if (path == direct)
                {
                    log($"round {round + 1}/{runs}: kernel only, {size}-byte packets for {seconds} s");
                    DccpDropCounters directBefore = DccpDropCounters.Read(bench.Lab.Edge, bench.Lab.Server, Vnic);
                    path.Add(await Measure(bench, BenchPath.Direct, UdpPort, null, seconds));
                    path.KernelDrops.Add(DccpDropCounters.Read(bench.Lab.Edge, bench.Lab.Server, Vnic).Since(directBefore));
                    continue;
                }

                bool isDccp = path == dccp;
                (string stack, int port, string sourcePort) = isDccp ? ("dccp", DccpDeliverPort, SourcePortDccp)
                    : path == unjoined ? ("udp1 (one datagram per send)", UnjoinedPort, SourcePortUnjoined)
                    : ("udp", UdpPort, SourcePortUdp);
                if (path.Runs == 0)
                {
                    // Warm-up: JIT tiers, the flow (and the DCCP handshake, slow start), socket buffers.
                    if (isDccp)
                    {
                        dccpStartMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                    }

                    await Measure(bench, BenchPath.ThroughVs, port, sourcePort, 1);
                }

                log($"round {round + 1}/{runs}: through VS, stack {stack}, {size}-byte packets for {seconds} s");
                JsonObject statusBefore = await daemon.StatusAsync();
                TimeSpan cpuBefore = daemon.CpuTime();
                DccpThreadCpu threadsBefore = DccpThreadCpu.Read(daemon.Process.Pid);
                TimeSpan listenerBefore = listener.CpuTime();
                DccpThreadCpu listenerThreadsBefore = DccpThreadCpu.Read(listener.Pid);
                DccpDropCounters dropsBefore = DccpDropCounters.Read(bench.Lab.Edge, bench.Lab.Server, Vnic);
                Traffic traffic = await Measure(bench, BenchPath.ThroughVs, port, sourcePort, seconds);
                path.KernelDrops.Add(DccpDropCounters.Read(bench.Lab.Edge, bench.Lab.Server, Vnic).Since(dropsBefore));
                path.Add(traffic);
                path.Cpu += daemon.CpuTime() - cpuBefore;
                JsonObject statusAfter = await daemon.StatusAsync();
                path.Carried += BenchLab.Value(statusAfter, "packets_in") - BenchLab.Value(statusBefore, "packets_in");
                path.Allocated += BenchLab.Value(statusAfter, "gc_allocated_bytes") - BenchLab.Value(statusBefore, "gc_allocated_bytes");
                path.Batches += BenchLab.Value(statusAfter, "batches") - BenchLab.Value(statusBefore, "batches");
                path.Drops += BenchLab.Value(statusAfter, "drops_total") - BenchLab.Value(statusBefore, "drops_total");
                path.Sleeps += Loop(statusAfter, "sleeps") - Loop(statusBefore, "sleeps");
                path.SleepsBackpressured += Loop(statusAfter, "sleeps_backpressured") - Loop(statusBefore, "sleeps_backpressured");
                path.Threads.Add((threadsBefore, DccpThreadCpu.Read(daemon.Process.Pid), traffic.ReceivedPackets));
                if (isDccp)
                {
                    path.ListenerCpu += listener.CpuTime() - listenerBefore;
                    path.ListenerThreads.Add((listenerThreadsBefore, DccpThreadCpu.Read(listener.Pid), traffic.ReceivedPackets));
                }
            }
        }

        await Task.Delay(2 * SampleMs); // one more sample after the last datagram
        long dccpEndMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await daemon.StopAsync();
        await listener.StopAsync(TimeSpan.FromSeconds(5));
        foreach (string line in listener.Output.Where(l => l.StartsWith("closed", StringComparison.Ordinal) || l.StartsWith("totals", StringComparison.Ordinal)))
        {
            log($"dccp listen: {line}");
        }

        List<DccpCwndSample> series = DccpCwndSample.Parse(daemon.Process.Errors, dccpStartMs, dccpEndMs);
        listener.Dispose();
        shaping?.Dispose();

        double directPps = direct.Pps;
        var result = new JsonObject
        {
            ["size"] = size,
            ["seconds"] = seconds,
            ["stack"] = "dccp",
            ["runs"] = runs,
            ["direct"] = new JsonObject
            {
                ["pps"] = Math.Round(directPps),
                ["gbps"] = Math.Round(Gbps(directPps), 3),
                ["lost"] = direct.Lost,
                ["lost_where"] = direct.KernelDropsJson(),
            },
            ["vs"] = VsBlock(dccp, directPps, withListener: true),
            ["ratio"] = Ratio(dccp.Pps, directPps),
            ["udp_stack"] = VsBlock(udp, directPps, withListener: false),
            ["ratio_dccp_udp"] = Ratio(dccp.Pps, udp.Pps),
            ["udp_stack_unjoined"] = VsBlock(unjoined, directPps, withListener: false),
            ["ratio_dccp_udp_unjoined"] = Ratio(dccp.Pps, unjoined.Pps),
            // Load-independent: VS's own CPU per carried packet, udp stack / dccp stack (1: DCCP costs VS no more).
            ["cpu_ratio_udp_dccp"] = dccp.Received > 0 && udp.Received > 0 && dccp.Cpu > TimeSpan.Zero
                ? Math.Round((udp.Cpu.TotalSeconds / udp.Received) / (dccp.Cpu.TotalSeconds / dccp.Received), 3) : null,
            ["loss"] = lossPercent is { } loss ? new JsonObject { ["percent"] = loss, ["method"] = shaping?.Method } : null,
            ["cwnd"] = CwndBlock(series),
            ["load"] = new JsonObject { ["before"] = loadBefore, ["after"] = BenchLab.LoadAverage() },
        };
        return result;
    }

    /// <summary>The table of <c>vs bench throughput --stack dccp</c> (three rows, the ratios, the loss summary).</summary>
    public static void Print(JsonObject result, TextWriter output)
    {
        var table = new Cli.TableWriter("PATH", "PACKETS/S", "GBIT/S", "LOST", "CPU", "US/PKT", "ALLOC B/PKT", "VS / KERNEL");
        JsonNode direct = result["direct"]!;
        table.Add("kernel only", direct["pps"], direct["gbps"], direct["lost"], "-", "-", "-", "1");
        foreach ((string name, string key) in new[] { ("VirtualStack (udp)", "udp_stack"), ("VirtualStack (udp, unjoined)", "udp_stack_unjoined"), ("VirtualStack (dccp)", "vs") })
        {
            JsonNode row = result[key]!;
            table.Add(name, row["pps"], row["gbps"], row["lost"], row["cpu"], row["cpu_us_per_packet"], row["alloc_bytes_per_packet"], row["ratio"]);
        }

        JsonNode? far = result["vs"]!["listener"];
        if (far is not null)
        {
            table.Add("  far end (dccp listen)", "-", "-", "-", far["cpu"], far["cpu_us_per_packet"], "-", "-");
        }

        table.WriteTo(output);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ratio dccp / udp stack: {result["ratio_dccp_udp"]}, dccp / udp stack sending each datagram alone: {result["ratio_dccp_udp_unjoined"]}  ({result["size"]}-byte packets, {result["runs"]} x {result["seconds"]} s per path, alternating); VS CPU per packet udp / dccp: {result["cpu_ratio_udp_dccp"]}"));
        if (result["cwnd"] is JsonObject cwnd)
        {
            string loss = result["loss"] is JsonObject l ? $"with {l["percent"]} % loss ({l["method"]})" : "loss-free";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"DCCP connection, {loss}: data sent {cwnd["data_sent"]}, lost {cwnd["data_lost"]}, congestion events {cwnd["congestion_events"]}, timeouts {cwnd["timeouts"]}; "
                + $"cwnd min {cwnd["cwnd_min"]} / mean {cwnd["cwnd_mean"]} / max {cwnd["cwnd_max"]} packets; back-offs seen {cwnd["backoffs"]}, cwnd grew again after {cwnd["recovered"]} "
                + $"({cwnd["samples"]} samples every {cwnd["sample_ms"]} ms)"));
        }
    }

    /// <summary>Writes the cwnd series as <c>dccp-cwnd.csv</c> and <c>dccp-cwnd.png</c> in <paramref name="directory"/> and names them in the JSON.</summary>
    public static void WriteSeries(JsonObject result, string directory)
    {
        if (result["cwnd"] is not JsonObject cwnd || cwnd["series"] is not JsonArray series || series.Count == 0)
        {
            return;
        }

        List<DccpCwndSample> samples = DccpCwndSample.FromJson(series);
        string csv = Path.Combine(directory, "dccp-cwnd.csv");
        string png = Path.Combine(directory, "dccp-cwnd.png");
        File.WriteAllLines(csv, [DccpCwndSample.CsvHeader, .. samples.Select(s => s.ToCsv())]);
        string loss = result["loss"] is JsonObject l ? $"{l["percent"]} % loss" : "no loss";
        DccpCwndFigure.Save(png, samples, $"DCCP (CCID 2) through VS, {loss}, {result["size"]}-byte packets");
        cwnd["csv"] = Path.GetFileName(csv);
        cwnd["plot"] = Path.GetFileName(png);
    }

    private JsonObject VsBlock(PathTotals path, double directPps, bool withListener)
    {
        double pps = path.Pps;
        double cpuSeconds = path.Cpu.TotalSeconds;
        var block = new JsonObject
        {
            ["pps"] = Math.Round(pps),
            ["gbps"] = Math.Round(Gbps(pps), 3),
            ["lost"] = path.Lost,
            ["cpu"] = path.SendSeconds > 0 ? Math.Round(cpuSeconds / path.SendSeconds, 3) : null,
            ["alloc_bytes_per_packet"] = path.Carried > 0 ? Math.Round((double)path.Allocated / path.Carried, 3) : null,
            ["cpu_us_per_packet"] = path.Received > 0 ? Math.Round(cpuSeconds * 1e6 / path.Received, 3) : null,
            ["ratio"] = Ratio(pps, directPps),
            ["threads"] = Threads(path.Threads),
            ["drops"] = path.Drops,
            ["lost_where"] = path.KernelDropsJson(),
            ["packets_per_batch"] = path.Batches > 0 ? Math.Round((double)path.Carried / path.Batches, 1) : null,
            ["loop_sleeps"] = path.Sleeps,
            ["loop_sleeps_backpressured"] = path.SleepsBackpressured,
        };
        if (withListener)
        {
            double listenerSeconds = path.ListenerCpu.TotalSeconds;
            block["listener"] = new JsonObject
            {
                ["cpu"] = path.SendSeconds > 0 ? Math.Round(listenerSeconds / path.SendSeconds, 3) : null,
                ["cpu_us_per_packet"] = path.Received > 0 ? Math.Round(listenerSeconds * 1e6 / path.Received, 3) : null,
                ["threads"] = Threads(path.ListenerThreads),
            };
        }

        return block;
    }

    // Per-thread CPU of the first measurement of a path (the later ones look alike; one keeps the JSON short).
    private static JsonArray Threads(List<(DccpThreadCpu Before, DccpThreadCpu After, long Packets)> readings) =>
        readings.Count == 0 ? [] : readings[0].After.Since(readings[0].Before, readings[0].Packets);

    private static JsonObject CwndBlock(List<DccpCwndSample> series)
    {
        (int backoffs, int recovered) = DccpCwndSample.Recoveries(series);
        DccpCwndSample? last = series.Count > 0 ? series[^1] : null;
        return new JsonObject
        {
            ["sample_ms"] = SampleMs,
            ["samples"] = series.Count,
            ["congestion_events"] = last?.CongestionEvents,
            ["data_sent"] = last?.Sent,
            ["data_lost"] = last?.Lost,
            ["timeouts"] = last?.Timeouts,
            ["cwnd_min"] = series.Count > 0 ? series.Min(s => s.Cwnd) : null,
            ["cwnd_mean"] = series.Count > 0 ? Math.Round(series.Average(s => s.Cwnd), 1) : null,
            ["cwnd_max"] = series.Count > 0 ? series.Max(s => s.Cwnd) : null,
            ["backoffs"] = backoffs,
            ["recovered"] = recovered,
            ["csv"] = null,
            ["plot"] = null,
            ["series"] = DccpCwndSample.ToJson(series),
        };
    }

    private static long Loop(JsonObject status, string key) => status["loop"]?[key]?.GetValue<long>() ?? 0;

    private static double? Ratio(double a, double b) => b > 0 ? Math.Round(a / b, 3) : null;

    private double Gbps(double pps) => pps * size * 8 / 1e9;

    private Task<Traffic> Measure(BenchLab bench, BenchPath path, int port, string? sourcePort, int duration)
    {
        List<string> generator = ["--size", size.ToString(CultureInfo.InvariantCulture), "--seconds", duration.ToString(CultureInfo.InvariantCulture)];
        if (sourcePort is not null)
        {
            generator.AddRange(["--source-port", sourcePort]);
        }

        return bench.RunAsync(path, port, generator, [], TimeSpan.FromSeconds(duration + 30));
    }

    /// <summary>What one path added up to over the rounds.</summary>
    private sealed class PathTotals
    {
        public int Runs;
        public long Sent;
        public long Received;
        public double SendSeconds;
        public TimeSpan Cpu;
        public TimeSpan ListenerCpu;
        public long Carried;
        public long Allocated;
        public long Batches;
        public long Drops;
        public long Sleeps;
        public long SleepsBackpressured;
        public readonly List<(DccpThreadCpu Before, DccpThreadCpu After, long Packets)> Threads = [];
        public readonly List<(DccpThreadCpu Before, DccpThreadCpu After, long Packets)> ListenerThreads = [];

        public readonly List<DccpDropCounters> KernelDrops = [];

        public JsonObject KernelDropsJson()
        {
            long vnic = 0;
            long rcvbuf = 0;
            foreach (DccpDropCounters d in KernelDrops)
            {
                vnic += d.VnicDropped;
                rcvbuf += d.ServerUdpRcvbufErrors;
            }

            return new DccpDropCounters(vnic, rcvbuf).ToJson();
        }

        public double Pps => SendSeconds > 0 ? Received / SendSeconds : 0;

        public long Lost => Math.Max(0, Sent - Received);

        public void Add(Traffic traffic)
        {
            Runs++;
            Sent += traffic.SentPackets;
            Received += traffic.ReceivedPackets;
            SendSeconds += traffic.SendSeconds;
        }
    }
}
