using System.Globalization;
using System.Text.Json.Nodes;
using VirtualStack.Host.Lab;
using VirtualStack.Host.Management;
using VirtualStack.Host.Setup;

namespace VirtualStack.Host.Bench;

/// <summary>
/// <c>vs bench multipath</c>: one UDP flow over two veth paths against the same flow over one, and the failover
/// time when one of two paths goes down mid-stream. Both paths are shaped with a token bucket of
/// <see cref="PathMbit"/> Mbit/s each (the edge side of each veth), so the paths, not VS or the two CPUs, are the
/// bottleneck, as with two real access links; the generator offers twice one path's capacity.
/// </summary>
/// <remarks>
/// Failover: a stream at <see cref="FailoverRate"/> datagrams/s (well within one path) spread 1:1, path 2's link set
/// down halfway. Everything lost was sent on path 2 between the link going down and VS taking the path out, so the
/// failover time is lost / (rate x path 2's share); the counter's 10 ms buckets give a second reading (the time
/// the arrival rate stayed under 3/4 of its median), and VS itself the time from the link command to taking the path
/// out (detected_ms, which includes the command's own run time, link_command_ms).
/// </remarks>
internal sealed class MultipathBench(string vs, int size, int seconds, Action<string> log)
{
    public const int PathMbit = 100;
    public const int FailoverRate = 4000;
    private const string TunName = "vsm0";
    private const string Mark = "0x56530b02";
    private const int TwoPathsPort = 9000;
    private const int OnePathPort = 9001;

    public async Task<JsonObject> RunAsync()
    {
        JsonArray loadBefore = BenchLab.LoadAverage();
        using LabTopology lab = LabTopology.Create("vsmp", paths: 2, log);
        string socket = $"/run/virtualstack/{lab.Edge}.sock";
        string config = Path.Combine(Path.GetTempPath(), $"vs-bench-multipath-{Environment.ProcessId}.json");
        try
        {
            string[] devices = [Device(lab.Edge, LabTopology.EdgeAddress(1)), Device(lab.Edge, LabTopology.EdgeAddress(2))];
            foreach (string device in devices)
            {
                CommandRunner.Check("ip", "netns", "exec", lab.Edge, "tc", "qdisc", "add", "dev", device, "root", "tbf",
                    "rate", $"{PathMbit}mbit", "burst", "256kb", "latency", "50ms");
            }

            await File.WriteAllTextAsync(config, Config(devices, socket).ToJsonString());
            LabProcess process = lab.Start(lab.Edge, vs, ["run", "--config", config], cpu: 1);
            await process.WaitForLineAsync("vs: ready", TimeSpan.FromSeconds(30));
            var daemon = new BenchDaemon(process, socket);

            // Offered: twice one path's capacity, in datagrams of `size` bytes.
            int offered = (int)(2.0 * PathMbit * 1e6 / (size * 8));
            log($"one path: {size}-byte datagrams at {offered}/s for {seconds} s (+1 s warm-up), each path shaped to {PathMbit} Mbit/s");
            await Stream(lab, OnePathPort, offered, 1);
            Traffic one = await Stream(lab, OnePathPort, offered, seconds);
            log($"two paths: the same over both (WeightedRoundRobin 1:1)");
            await Stream(lab, TwoPathsPort, offered, 1);
            Traffic two = await Stream(lab, TwoPathsPort, offered, seconds);

            log($"failover: {FailoverRate}/s over both paths for {seconds} s; path 2's link ({devices[1]}) down after {seconds / 2.0:F1} s");
            Task<Traffic> failover = Stream(lab, TwoPathsPort, FailoverRate, seconds, warmupMs: 0);
            await Task.Delay(TimeSpan.FromSeconds(seconds / 2.0 + 0.3));
            long downAt = Environment.TickCount64;
            CommandRunner.Check("ip", "-n", lab.Edge, "link", "set", devices[1], "down");
            long commandMs = Environment.TickCount64 - downAt;
            Traffic down = await failover;
            JsonObject? path2 = await Path2Async(socket);
            long queriedAt = Environment.TickCount64;

            // VS says for how long path 2 has been out: what is left of the time since the link went down is how long
            // it took to notice (the link may have gone down at any moment while the command ran).
            double? detectedMs = path2?["down_for_ms"]?.GetValue<long>() is long downFor ? queriedAt - downAt - downFor : null;
            CommandRunner.Check("ip", "-n", lab.Edge, "link", "set", devices[1], "up");
            await daemon.StopAsync();

            double onePps = one.ReceivedPackets / one.SendSeconds;
            double twoPps = two.ReceivedPackets / two.SendSeconds;
            long lost = Math.Max(0, down.SentPackets - down.ReceivedPackets);
            return new JsonObject
            {
                ["size"] = size,
                ["seconds"] = seconds,
                ["path_mbit"] = PathMbit,
                ["offered_pps"] = offered,
                ["one_path"] = Side(onePps, one),
                ["two_paths"] = Side(twoPps, two),
                ["ratio"] = Math.Round(twoPps / onePps, 3),
                ["failover"] = new JsonObject
                {
                    ["rate_pps"] = FailoverRate,
                    ["sent"] = down.SentPackets,
                    ["received"] = down.ReceivedPackets,
                    ["lost"] = lost,
                    ["window_ms"] = Math.Round(lost / (FailoverRate * 0.5) * 1000, 1),
                    ["dip_ms"] = DipMs(down.Received),
                    ["detected_ms"] = detectedMs,
                    ["link_command_ms"] = commandMs,
                    ["detected_after_command_ms"] = detectedMs - commandMs,
                    ["path2_state"] = path2?["state"]?.GetValue<string>(),
                    ["path2_reason"] = path2?["reason"]?.GetValue<string>(),
                    ["path2_downs"] = path2?["downs"]?.GetValue<long>(),
                },
                ["load"] = new JsonObject { ["before"] = loadBefore, ["after"] = BenchLab.LoadAverage() },
            };
        }
        finally
        {
            File.Delete(config);
            File.Delete(socket);
        }
    }

    private JsonObject Config(string[] devices, string socket)
    {
        JsonObject Path(string name, string stack, int pathIndex, int port) => new()
        {
            ["Name"] = name,
            ["Stack"] = stack,
            ["To"] = $"{LabTopology.ServerAddress(pathIndex)}:{port}",
            ["Interface"] = devices[pathIndex - 1],
        };

        JsonObject Rule(string name, int port, params JsonObject[] paths) => new()
        {
            ["Name"] = name,
            ["Match"] = new JsonObject { ["Protocol"] = "udp", ["DestinationPort"] = port },
            ["Scheduler"] = "WeightedRoundRobin",
            // One-way traffic: no replies to judge silence by; link state and faults decide.
            ["Paths"] = new JsonArray([.. paths]),
        };

        return new JsonObject
        {
            ["VirtualStack"] = new JsonObject
            {
                ["Tun"] = new JsonObject
                {
                    ["Name"] = TunName,
                    ["Address"] = "10.200.0.1/24",
                    ["Capture"] = new JsonArray("10.201.0.0/24"),
                    ["Mark"] = Mark,
                    ["Table"] = Mark,
                    ["TxQueueLength"] = 20000,
                },
                ["Stacks"] = new JsonObject
                {
                    ["udpA"] = new JsonObject { ["Plugin"] = "Udp" },
                    ["udpB"] = new JsonObject { ["Plugin"] = "Udp" },
                    ["raw"] = new JsonObject { ["Plugin"] = "Raw" },
                },
                ["Rules"] = new JsonArray(
                    Rule("two-paths", TwoPathsPort, Path("a", "udpA", 1, TwoPathsPort), Path("b", "udpB", 2, TwoPathsPort)),
                    Rule("one-path", OnePathPort, Path("a", "udpA", 1, OnePathPort))),
                ["Default"] = "raw",
                ["Management"] = new JsonObject { ["Socket"] = socket },
            },
        };
    }

    /// <summary>udp-count on <paramref name="port"/> (any address: both paths' far ends), udp-gen into the VNIC.</summary>
    private async Task<Traffic> Stream(LabTopology lab, int port, int rate, int duration, int warmupMs = 0)
    {
        string portText = port.ToString(CultureInfo.InvariantCulture);
        LabProcess counter = lab.Start(lab.Server, vs, ["udp-count", "--port", portText, "--json", "--warmup-ms", $"{warmupMs}"], cpu: 0);
        try
        {
            await counter.WaitForLineAsync("listening", TimeSpan.FromSeconds(20));
            LabProcess sender = lab.Start(lab.Edge, vs,
                ["udp-gen", "--to", $"{LabTopology.ServerAddress(1)}:{portText}", "--json", "--size", $"{size}", "--seconds", $"{duration}", "--rate", $"{rate}"],
                cpu: 0, nice: 19);
            int exit = await sender.WaitAsync(TimeSpan.FromSeconds(duration + 30));
            if (exit != 0)
            {
                throw new InvalidOperationException($"{sender.Description} exited with {exit}: {sender.Errors}");
            }

            await Task.Delay(300);
            await counter.StopAsync(TimeSpan.FromSeconds(5));
            return new Traffic(Last(sender), Last(counter));
        }
        finally
        {
            counter.Dispose();
        }
    }

    private static JsonObject Side(double pps, Traffic traffic) => new()
    {
        ["pps"] = Math.Round(pps),
        ["mbps"] = Math.Round(pps * traffic.Received["bytes"]!.GetValue<long>() / Math.Max(1, traffic.ReceivedPackets) * 8 / 1e6, 1),
        ["lost"] = traffic.Lost,
    };

    /// <summary>How long (ms) the arrival rate stayed under 3/4 of its median, from the counter's buckets.</summary>
    private static double DipMs(JsonObject received)
    {
        long bucketMs = received["bucket_ms"]?.GetValue<long>() ?? 10;
        long[] counts = [.. (received["buckets"]?.AsArray() ?? []).Select(b => b!.AsArray()[1]!.GetValue<long>())];
        if (counts.Length < 10)
        {
            return 0;
        }

        // Leave out the first and last buckets (partial).
        long[] inner = counts[1..^1];
        long median = inner.Order().ElementAt(inner.Length / 2);
        return inner.Count(c => c < median * 3 / 4) * bucketMs;
    }

    private static async Task<JsonObject?> Path2Async(string socket)
    {
        JsonObject answer = await ManagementClient.SendAsync(socket, new JsonObject { ["command"] = "flows" }, TimeSpan.FromSeconds(10));
        foreach (JsonNode? flow in answer["result"]?.AsArray() ?? [])
        {
            if (flow?["rule"]?.GetValue<string>() == "two-paths" && flow["paths"]?["list"] is JsonArray list && list.Count > 1)
            {
                return list[1]!.AsObject();
            }
        }

        return null;
    }

    /// <summary>The device in <paramref name="ns"/> that holds <paramref name="address"/>.</summary>
    private static string Device(string ns, string address)
    {
        (int exit, string output, string error) = CommandRunner.Run("ip", "-n", ns, "-o", "-4", "addr", "show");
        if (exit != 0)
        {
            throw new InvalidOperationException($"ip addr in {ns}: {error}");
        }

        foreach (string line in output.Split('\n'))
        {
            string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length > 3 && words[3].StartsWith(address + "/", StringComparison.Ordinal))
            {
                return words[1].Split('@')[0];
            }
        }

        throw new InvalidOperationException($"no device with {address} in {ns}");
    }

    private static JsonObject Last(LabProcess process) =>
        JsonNode.Parse(process.Output.LastOrDefault(l => l.StartsWith('{')) ?? throw new InvalidOperationException($"{process.Description} printed no result: {process.Errors}"))!.AsObject();
}
