using System.Globalization;
using System.Text.Json.Nodes;

namespace VirtualStack.Host.Bench;

/// <summary>
/// <c>vs bench flows</c>: how fast VS sets up new flows and what a flow costs in memory.
/// </summary>
/// <remarks>
/// The generator plays many flows, one datagram each (<c>udp-gen --flows N --ports K</c>): flow i goes from source
/// port P + i / K to server port 30000 + i % K, so the flows have K different far ends. VS's Udp stack shares a
/// socket between flows with different far ends and needs a socket per flow only for flows to the same far end
/// (design.md §3), so N flows take N / K sockets in VS (100 for 100k flows over 1000 ports), N / K in the generator
/// and K in the one counting server: all far below the 20,000 descriptors a process may hold. Every phase uses
/// source ports no earlier phase used, so its flows are new to VS.
/// <para>
/// Set-up rate: the last step (10k to 100k flows) is first sent at full speed, on the kernel-only path and then
/// through VS, and the rate is the datagrams that reached the server per second between the first and the last
/// one: each of them is a new flow VS set up and carried. What did not arrive is counted as lost and sent again,
/// paced, so that the table then really holds the level's flows. Memory: VS's resident set (/proc) and, where
/// <c>vs status</c> reports it, its managed heap, at a baseline after a warm-up and at 1k, 10k and 100k flows; per
/// flow is the growth over the baseline divided by the flows added.
/// </para>
/// </remarks>
internal sealed class FlowsBench(string vs, int size, int ports, Action<string> log)
{
    private const int BasePort = 30000;
    private const int PacedRate = 20_000;
    private const int WarmupFlows = 1_000;
    private const int FillTries = 3;

    // Generator source ports stay below the kernel's ephemeral range (32768+), which VS's own sockets draw from.
    private const int DirectSourcePort = 1_024;
    private const int VsSourcePort = 12_000;

    public static IReadOnlyList<int> Levels { get; } = [1_000, 10_000, 100_000];

    public async Task<JsonObject> RunAsync()
    {
        using BenchLab bench = BenchLab.Create(vs, "vsf", log);
        JsonArray loadBefore = BenchLab.LoadAverage();
        BenchDaemon daemon = await bench.StartVsAsync(
            new JsonObject { ["udp"] = new JsonObject { ["Plugin"] = "Udp" } },
            [BenchRules.UdpTo("flows", BenchLab.Server + "/32", "udp")],
            new JsonObject { ["MaxFlows"] = Levels[^1] * 2 + WarmupFlows, ["UdpIdleTimeout"] = "01:00:00" });

        int sourcePort = VsSourcePort;
        log($"warm-up: {WarmupFlows} flows through VS");
        await Fill(bench, daemon, WarmupFlows, sourcePort, WarmupFlows);
        sourcePort += Sockets(WarmupFlows);
        await Task.Delay(1000);
        JsonObject baseline = await Snapshot(daemon);
        long baseFlows = baseline["flows"]!.GetValue<long>();

        var levels = new JsonArray();
        JsonObject? setup = null;
        int total = 0;
        foreach (int level in Levels)
        {
            int add = level - total;
            if (level == Levels[^1])
            {
                setup = await MeasureSetup(bench, daemon, add, sourcePort);
            }

            log($"{level} flows: adding {add} flows through VS at {PacedRate} per second");
            await Fill(bench, daemon, add, sourcePort, baseFlows + level);
            sourcePort += Sockets(add);
            total = level;
            await Task.Delay(1000);
            levels.Add(PerFlow(level, baseline, await Snapshot(daemon)));
        }

        await daemon.StopAsync();
        return new JsonObject
        {
            ["size"] = size,
            ["ports"] = ports,
            ["setup"] = setup,
            ["memory"] = new JsonObject { ["baseline"] = baseline, ["levels"] = levels },
            ["load"] = new JsonObject { ["before"] = loadBefore, ["after"] = BenchLab.LoadAverage() },
        };
    }

    private int Sockets(int flows) => (flows + ports - 1) / ports;

    private async Task<JsonObject> MeasureSetup(BenchLab bench, BenchDaemon daemon, int flows, int sourcePort)
    {
        log($"set-up rate: {flows} new flows at full speed, kernel only then through VS");
        Traffic direct = await Send(bench, BenchPath.Direct, flows, DirectSourcePort, rate: 0);
        JsonObject before = await daemon.StatusAsync();
        TimeSpan cpuBefore = daemon.CpuTime();
        Traffic through = await Send(bench, BenchPath.ThroughVs, flows, sourcePort, rate: 0);
        TimeSpan cpuAfter = daemon.CpuTime();
        JsonObject after = await daemon.StatusAsync();

        long created = Flows(after, "created") - Flows(before, "created");
        long allocated = BenchLab.Value(after, "gc_allocated_bytes") - BenchLab.Value(before, "gc_allocated_bytes");
        double directRate = Rate(direct);
        double vsRate = Rate(through);
        return new JsonObject
        {
            ["flows"] = flows,
            ["direct"] = new JsonObject
            {
                ["flows_per_s"] = Math.Round(directRate),
                ["received"] = direct.ReceivedPackets,
                ["lost"] = direct.Lost,
                ["seconds"] = Math.Round(direct.ActiveSeconds, 3),
            },
            ["vs"] = new JsonObject
            {
                ["flows_per_s"] = Math.Round(vsRate),
                ["received"] = through.ReceivedPackets,
                ["lost"] = through.Lost,
                ["seconds"] = Math.Round(through.ActiveSeconds, 3),
                ["created"] = created,
                ["evicted"] = Flows(after, "evicted") - Flows(before, "evicted"),
                ["cpu_seconds"] = Math.Round((cpuAfter - cpuBefore).TotalSeconds, 3),
                ["alloc_bytes_per_flow"] = created > 0 ? Math.Round((double)allocated / created) : null,
            },
            ["ratio"] = directRate > 0 ? Math.Round(vsRate / directRate, 3) : null,
        };
    }

    // Datagrams (= new flows) per second at the server, first to last arrival.
    private static double Rate(Traffic traffic) =>
        traffic.ActiveSeconds > 0 ? traffic.ReceivedPackets / traffic.ActiveSeconds : 0;

    /// <summary>Sends one datagram on each of <paramref name="flows"/> new flows, paced, until VS holds <paramref name="expected"/> flows.</summary>
    private async Task Fill(BenchLab bench, BenchDaemon daemon, int flows, int sourcePort, long expected)
    {
        for (int attempt = 1; ; attempt++)
        {
            await Send(bench, BenchPath.ThroughVs, flows, sourcePort, PacedRate);
            long active = Flows(await daemon.StatusAsync(), "active");
            if (active >= expected)
            {
                return;
            }

            if (attempt == FillTries)
            {
                log($"after {attempt} rounds VS holds {active} flows, not {expected}: the figures below count the flows it holds");
                return;
            }
        }
    }

    private Task<Traffic> Send(BenchLab bench, BenchPath path, int flows, int sourcePort, int rate)
    {
        List<string> generator =
        [
            "--flows", flows.ToString(CultureInfo.InvariantCulture),
            "--ports", ports.ToString(CultureInfo.InvariantCulture),
            "--source-port", sourcePort.ToString(CultureInfo.InvariantCulture),
            "--size", size.ToString(CultureInfo.InvariantCulture),
        ];
        if (rate > 0)
        {
            generator.AddRange(["--rate", rate.ToString(CultureInfo.InvariantCulture)]);
        }

        return bench.RunAsync(path, BasePort, generator, ["--ports", ports.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(120));
    }

    private static async Task<JsonObject> Snapshot(BenchDaemon daemon)
    {
        JsonObject status = await daemon.StatusAsync(collect: true);
        ProcessMemory memory = daemon.Memory();
        return new JsonObject
        {
            ["flows"] = Flows(status, "active"),
            ["rss_bytes"] = memory.RssBytes,
            ["rss_anon_bytes"] = memory.RssAnonBytes,
            // Managed heap after a full collection: only when vs status reports it (README); null otherwise.
            ["heap_bytes"] = status["gc_heap_bytes"]?.GetValue<long>(),
            ["gc_allocated_bytes"] = BenchLab.Value(status, "gc_allocated_bytes"),
            ["descriptors"] = (long)memory.Descriptors,
        };
    }

    private static JsonObject PerFlow(int level, JsonObject baseline, JsonObject now)
    {
        long flows = now["flows"]!.GetValue<long>();
        long added = flows - baseline["flows"]!.GetValue<long>();
        double? Per(string key) =>
            added > 0 && baseline[key] is not null && now[key] is not null
                ? Math.Round((double)(now[key]!.GetValue<long>() - baseline[key]!.GetValue<long>()) / added)
                : null;

        return new JsonObject
        {
            ["level"] = level,
            ["flows"] = flows,
            ["rss_bytes"] = now["rss_bytes"]!.GetValue<long>(),
            ["rss_per_flow_bytes"] = Per("rss_bytes"),
            ["heap_bytes"] = now["heap_bytes"]?.GetValue<long>(),
            ["heap_per_flow_bytes"] = Per("heap_bytes"),
            ["alloc_per_flow_bytes"] = Per("gc_allocated_bytes"),
            ["descriptors"] = now["descriptors"]!.GetValue<long>(),
        };
    }

    private static long Flows(JsonObject status, string key) => status["flows"]?[key]?.GetValue<long>() ?? 0;
}
