using System.Globalization;
using System.Text.Json.Nodes;

namespace VirtualStack.Host.Bench;

/// <summary>
/// <c>vs bench throughput</c>: UDP from an unchanged generator to a counting server, first on the kernel-only path
/// (edge -> veth -> server), then through VirtualStack (edge -> VNIC -> VS -> stack -> veth -> server), in the same
/// run on the same topology, placed as <see cref="BenchLab"/> describes (shared/perf's placement). The Dccp stack
/// has its own comparison (<see cref="DccpThroughputBench"/>).
/// </summary>
internal sealed class ThroughputBench(string vs, int size, int seconds, string stack, Action<string> log)
{
    private const int Port = 9000;

    public async Task<JsonObject> RunAsync()
    {
        using BenchLab bench = BenchLab.Create(vs, "vsb", log);
        JsonArray loadBefore = BenchLab.LoadAverage();

        log($"direct: kernel only, {size}-byte packets for {seconds} s");
        Traffic direct = await Measure(bench, seconds, BenchPath.Direct);

        log($"through VS: stack {stack}, {size}-byte packets for {seconds} s (+1 s warm-up)");
        JsonObject rule = BenchRules.Udp("bench", Port, stack);
        BenchDaemon daemon = await bench.StartVsAsync(
            new JsonObject { [stack] = new JsonObject { ["Plugin"] = char.ToUpperInvariant(stack[0]) + stack[1..] } },
            [rule]);

        // Warm-up: JIT tiers, flow creation, socket buffers; then the steady window is measured.
        await Measure(bench, 1, BenchPath.ThroughVs);
        JsonObject before = await daemon.StatusAsync();
        TimeSpan cpuBefore = daemon.CpuTime();
        Traffic through = await Measure(bench, seconds, BenchPath.ThroughVs);
        TimeSpan cpuAfter = daemon.CpuTime();
        JsonObject after = await daemon.StatusAsync();
        await daemon.StopAsync();

        long carried = BenchLab.Value(after, "packets_in") - BenchLab.Value(before, "packets_in");
        // The data path's allocation (the shard thread's): process-wide figures also count the status answers themselves.
        long allocated = BenchLab.Value(after["loop"]!.AsObject(), "allocated_bytes") - BenchLab.Value(before["loop"]!.AsObject(), "allocated_bytes");
        double directPps = direct.ReceivedPackets / direct.SendSeconds;
        double vsPps = through.ReceivedPackets / through.SendSeconds;
        return new JsonObject
        {
            ["size"] = size,
            ["seconds"] = seconds,
            ["stack"] = stack,
            ["direct"] = new JsonObject
            {
                ["pps"] = Math.Round(directPps),
                ["gbps"] = Math.Round(Gbps(directPps), 3),
                ["lost"] = direct.Lost,
            },
            ["vs"] = new JsonObject
            {
                ["pps"] = Math.Round(vsPps),
                ["gbps"] = Math.Round(Gbps(vsPps), 3),
                ["lost"] = through.Lost,
                ["cpu"] = Math.Round((cpuAfter - cpuBefore).TotalSeconds / through.SendSeconds, 3),
                ["alloc_bytes_per_packet"] = carried > 0 ? Math.Round((double)allocated / carried, 3) : null,
            },
            ["ratio"] = Math.Round(vsPps / directPps, 3),
            ["load"] = new JsonObject { ["before"] = loadBefore, ["after"] = BenchLab.LoadAverage() },
        };
    }

    private double Gbps(double pps) => pps * size * 8 / 1e9;

    private Task<Traffic> Measure(BenchLab bench, int duration, BenchPath path) =>
        bench.RunAsync(path, Port,
            ["--size", size.ToString(CultureInfo.InvariantCulture), "--seconds", duration.ToString(CultureInfo.InvariantCulture)],
            [],
            TimeSpan.FromSeconds(duration + 30));
}
