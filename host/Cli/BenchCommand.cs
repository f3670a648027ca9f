using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualStack.Host.Bench;

namespace VirtualStack.Host.Cli;

/// <summary><c>vs bench throughput|latency|flows|switch</c>.</summary>
internal static class BenchCommand
{
    public const string Help = """
        Usage: vs bench throughput [--size 1500|64|BYTES] [--seconds S] [--stack udp|raw|dccp] [--json FILE]
               vs bench throughput --stack dccp [--size 1300] [--seconds S] [--runs N] [--loss PCT] [--json FILE]
               vs bench latency    [--size BYTES] [--seconds S] [--stack udp|raw] [--runs N] [--json FILE]
               vs bench flows      [--size BYTES] [--ports K] [--json FILE]
               vs bench switch     [--runs N] [--seconds S] [--period P] [--rate PPS|Ngbit] [--warm-up yes|no] [--out DIR] [--json FILE]
               vs bench multipath  [--size BYTES] [--seconds S] [--json FILE]

        Measures VirtualStack side by side with the kernel-only path, in one run, on a private topology in network
        namespaces (built and removed by the benchmark). Needs root. The machine's load average is reported with
        the figures: on a shared machine only ratios from one run mean much.
          throughput  packets/s, Gbit/s at the IP level, loss, VS CPU (cores), managed bytes allocated per
                      packet, and the ratio VS / kernel
          latency     finds the maximum rate through VS, then one-way latency p50/p99/p99.9 at 10, 50 and 90 %
                      of it, kernel only and through VS, and what VS adds
          flows       new flows per second (90k flows, one datagram each), VS resident memory and managed heap
                      per flow at 1k, 10k and 100k flows, descriptors
          switch      the demo's experiment (udp <-> dccp every --period, default 5 s; --seconds default 20; paced
                      at --rate, default 20000 packets/s) --runs times (default 3), each after the same stream on
                      the kernel-only path: every switch's gap, the sender's own gap, delay, losses, emptiest 10 ms
                      bucket, the first DCCP build; --out DIR keeps each run's demo output in DIR/run-N
          multipath   one flow over two paths (each shaped to 100 Mbit/s) against one path: Mbit/s and the
                      ratio; then the failover time when one of two paths goes down mid-stream
          --size     IP packet size in bytes (default 1500; flows: 64)
          --seconds  length of each measurement (default 5)
          --stack    the stack that carries the flow (default udp)
          --runs     latency: measure each rate N times (kernel only and VS alternating), report medians (default 1);
                     throughput --stack dccp: rounds of kernel only, VS udp stack, VS dccp stack (alternating)
          --loss     throughput --stack dccp: drop PCT % of the veth's data direction (tc netem, nftables without
                     it) and record the DCCP connection's cwnd every 100 ms (JSON, dccp-cwnd.csv, dccp-cwnd.png
                     beside the --json file)
          --ports    flows: server ports the flows are spread over, i.e. different far ends (default 1000)
          --json     also write the result as JSON (format in the README)
        """;

    private static readonly string[] Kinds = ["throughput", "latency", "flows", "switch", "multipath"];

    public static async Task<int> RunAsync(ParsedArguments args)
    {
        string kind = args.Positional.Count > 0 ? args.Positional[0] : throw new UsageException($"name a benchmark: vs bench {string.Join('|', Kinds)}");
        if (!Kinds.Contains(kind))
        {
            throw new UsageException($"unknown benchmark '{kind}' (available: {string.Join(", ", Kinds)})");
        }

        if (kind == "switch")
        {
            return await SwitchBench.RunAsync(args);
        }

        bool dccpThroughput = kind == "throughput" && string.Equals(args.Option("stack"), "dccp", StringComparison.OrdinalIgnoreCase);
        // DCCP: the UDP payload must fit one DCCP packet at MTU 1500 (the stack refuses larger ones, never fragments).
        int size = args.Int("size", kind == "flows" ? 64 : dccpThroughput ? DccpThroughputBench.DefaultSize : 1500, 64, dccpThroughput ? DccpThroughputBench.MaxSize : 9000);
        int seconds = kind == "flows" ? 0 : args.Int("seconds", 5, 1, 3600);
        string stack = kind is "flows" or "multipath" ? "udp" : (args.Option("stack") ?? "udp").ToLowerInvariant();
        if (stack is not ("udp" or "raw") && !(stack == "dccp" && kind == "throughput"))
        {
            throw new UsageException($"--stack: '{stack}' is not available (udp, raw; dccp for throughput)");
        }

        int runs = kind == "latency" || dccpThroughput ? args.Int("runs", 1, 1, 100) : 1;
        double? loss = null;
        if (args.Option("loss") is { } lossText)
        {
            if (!dccpThroughput)
            {
                throw new UsageException("--loss: only for vs bench throughput --stack dccp");
            }

            loss = double.TryParse(lossText, NumberStyles.Float, CultureInfo.InvariantCulture, out double pct) && pct > 0 && pct < 100
                ? pct : throw new UsageException($"--loss: '{lossText}' is not a percentage above 0 and below 100");
        }
        int ports = kind == "flows" ? args.Int("ports", 1000, 1, 16_384) : 0;
        if (kind == "flows" && (FlowsBench.Levels[^1] + ports - 1) / ports > 16_384)
        {
            throw new UsageException($"--ports: {FlowsBench.Levels[^1]} flows over {ports} ports need more than 16384 sockets");
        }

        string? jsonFile = args.Option("json");
        args.RejectUnknown(maxPositional: 1);
        if (Tmds.Linux.LibC.geteuid() != 0)
        {
            ConsoleLog.Write("vs bench needs root (it builds network namespaces and runs vs run)");
            return 1;
        }

        string vs = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the vs executable");
        JsonObject result;
        try
        {
            result = kind switch
            {
                "latency" => await new LatencyBench(vs, size, seconds, stack, runs, ConsoleLog.Write).RunAsync(),
                "flows" => await new FlowsBench(vs, size, ports, ConsoleLog.Write).RunAsync(),
                _ when dccpThroughput => await new DccpThroughputBench(vs, size, seconds, runs, loss, ConsoleLog.Write).RunAsync(),
                "multipath" => await new MultipathBench(vs, size, seconds, ConsoleLog.Write).RunAsync(),
                _ => await new ThroughputBench(vs, size, seconds, stack, ConsoleLog.Write).RunAsync(),
            };
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException)
        {
            // The lab is gone by now (disposed on the way out); say what failed, exit 1 (failure at run time).
            ConsoleLog.Write($"bench {kind} failed: {e.Message}");
            return 1;
        }

        switch (kind)
        {
            case "latency":
                PrintLatency(result);
                break;
            case "flows":
                PrintFlows(result);
                break;
            case "throughput" when dccpThroughput:
                DccpThroughputBench.Print(result, Console.Out);
                break;
            case "multipath":
                PrintMultipath(result);
                break;
            default:
                PrintThroughput(result);
                break;
        }

        Console.Out.WriteLine($"load average (1, 5, 15 min): before {Load(result, "before")}, after {Load(result, "after")}");
        if (jsonFile is not null)
        {
            if (dccpThroughput)
            {
                DccpThroughputBench.WriteSeries(result, Path.GetDirectoryName(Path.GetFullPath(jsonFile))!);
            }

            await File.WriteAllTextAsync(jsonFile, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }

        return 0;
    }

    private static string Load(JsonObject result, string when) =>
        string.Join(' ', result["load"]?[when]?.AsArray().Select(v => v?.ToString()) ?? []);

    private static void PrintThroughput(JsonObject result)
    {
        var table = new TableWriter("PATH", "PACKETS/S", "GBIT/S", "LOST", "CPU", "ALLOC B/PKT");
        JsonObject direct = result["direct"]!.AsObject();
        JsonObject through = result["vs"]!.AsObject();
        table.Add("kernel only", direct["pps"], direct["gbps"], direct["lost"], "-", "-");
        table.Add($"VirtualStack ({result["stack"]})", through["pps"], through["gbps"], through["lost"], through["cpu"], through["alloc_bytes_per_packet"]);
        table.WriteTo(Console.Out);
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ratio VS / kernel: {result["ratio"]}  ({result["size"]}-byte packets, {result["seconds"]} s each)"));
    }

    private static void PrintLatency(JsonObject result)
    {
        Console.Out.WriteLine($"maximum rate through VS ({result["stack"]}, {result["size"]}-byte packets): {result["max_pps"]} packets/s, {result["max_gbps"]} Gbit/s; one-way latency, median of {result["runs"]} run(s) of {result["seconds"]} s");
        var table = new TableWriter("LOAD", "PACKETS/S", "PATH", "SENT PPS", "LOST", "P50 US", "P99 US", "P99.9 US", "MAX US");
        foreach (JsonNode? row in result["rates"]!.AsArray())
        {
            string load = string.Create(CultureInfo.InvariantCulture, $"{row!["fraction"]!.GetValue<double>():P0}");
            foreach ((string name, string key) in new[] { ("kernel only", "direct"), ("VirtualStack", "vs") })
            {
                JsonNode side = row[key]!;
                table.Add(load, row["rate_pps"], name, side["pps"], side["lost"], side["p50_us"], side["p99_us"], side["p999_us"], side["max_us"]);
            }

            JsonNode added = row["added_us"]!;
            table.Add(load, row["rate_pps"], "added by VS", "-", "-", added["p50"], added["p99"], added["p999"], "-");
        }

        table.WriteTo(Console.Out);
    }

    private static void PrintMultipath(JsonObject result)
    {
        var table = new TableWriter("PATHS", "PACKETS/S", "MBIT/S", "LOST");
        table.Add("one path", result["one_path"]!["pps"], result["one_path"]!["mbps"], result["one_path"]!["lost"]);
        table.Add("two paths", result["two_paths"]!["pps"], result["two_paths"]!["mbps"], result["two_paths"]!["lost"]);
        table.WriteTo(Console.Out);
        JsonNode f = result["failover"]!;
        Console.Out.WriteLine($"ratio two paths / one: {result["ratio"]}  ({result["size"]}-byte packets, {result["seconds"]} s each, each path {result["path_mbit"]} Mbit/s, offered {result["offered_pps"]}/s)");
        Console.Out.WriteLine($"failover: {f["lost"]} of {f["sent"]} datagrams lost at {f["rate_pps"]}/s: window {f["window_ms"]} ms (rate dip {f["dip_ms"]} ms); path 2 taken out {f["detected_ms"]} ms after the link command started, {f["detected_after_command_ms"]} ms after it returned ({f["path2_reason"]})");
    }

    private static void PrintFlows(JsonObject result)
    {
        JsonNode? setup = result["setup"];
        if (setup is not null)
        {
            var rate = new TableWriter("PATH", "NEW FLOWS/S", "RECEIVED", "LOST", "SECONDS");
            rate.Add("kernel only", setup["direct"]!["flows_per_s"], setup["direct"]!["received"], setup["direct"]!["lost"], setup["direct"]!["seconds"]);
            rate.Add("VirtualStack (udp)", setup["vs"]!["flows_per_s"], setup["vs"]!["received"], setup["vs"]!["lost"], setup["vs"]!["seconds"]);
            rate.WriteTo(Console.Out);
            Console.Out.WriteLine($"set-up ratio VS / kernel: {setup["ratio"]}  ({setup["flows"]} new flows over {result["ports"]} server ports; VS created {setup["vs"]!["created"]}, {setup["vs"]!["alloc_bytes_per_flow"]} managed bytes allocated per flow)");
        }

        JsonNode baseline = result["memory"]!["baseline"]!;
        var memory = new TableWriter("FLOWS", "RSS MIB", "RSS B/FLOW", "HEAP MIB", "HEAP B/FLOW", "ALLOC B/FLOW", "FDS");
        memory.Add(string.Create(CultureInfo.InvariantCulture, $"{baseline["flows"]} (baseline)"), Mib(baseline["rss_bytes"]), "-", Mib(baseline["heap_bytes"]), "-", "-", baseline["descriptors"]);
        foreach (JsonNode? level in result["memory"]!["levels"]!.AsArray())
        {
            memory.Add(level!["flows"], Mib(level["rss_bytes"]), level["rss_per_flow_bytes"], Mib(level["heap_bytes"]), level["heap_per_flow_bytes"], level["alloc_per_flow_bytes"], level["descriptors"]);
        }

        memory.WriteTo(Console.Out);
    }

    private static string Mib(JsonNode? bytes) =>
        bytes is null ? "-" : string.Create(CultureInfo.InvariantCulture, $"{bytes.GetValue<long>() / 1048576.0:F1}");
}
