using System.Globalization;
using System.Text.Json.Nodes;
using VirtualStack.Host.Lab;
using VirtualStack.Host.Management;

namespace VirtualStack.Host.Bench;

/// <summary>
/// <c>vs bench throughput</c>: UDP from an unchanged generator to a counting server, first on the kernel-only path
/// (edge -> veth -> server), then through VirtualStack (edge -> VNIC -> VS -> stack -> veth -> server), in the same
/// run on the same topology, with the placement of shared/perf: kernel only, sender on CPU 0 and receiver on CPU 1;
/// through VS, VS on CPU 1, receiver on CPU 0 and the sender beside it at nice 19 (a sender writing into a TUN never
/// blocks, so at equal priority it would starve the receiver and measure itself).
/// </summary>
internal sealed class ThroughputBench(string vs, int size, int seconds, string stack, Action<string> log)
{
    private const int Port = 9000;

    public async Task<JsonObject> RunAsync()
    {
        using LabTopology lab = LabTopology.Create("vsb", paths: 1, log);
        string server = LabTopology.ServerAddress(1);

        log($"direct: kernel only, {size}-byte packets for {seconds} s");
        (long directPackets, long directSent, double directSeconds) = await Measure(lab, server, seconds, throughVs: false);

        string config = WriteConfig(lab);
        try
        {
            log($"through VS: stack {stack}, {size}-byte packets for {seconds} s (+1 s warm-up)");
            LabProcess daemon = lab.Start(lab.Edge, vs, ["run", "--config", config], cpu: 1);
            await daemon.WaitForLineAsync("vs: ready", TimeSpan.FromSeconds(30));
            string socket = SocketPath(lab);

            // Warm-up: JIT tiers, flow creation, socket buffers; then the steady window is measured.
            await Measure(lab, server, 1, throughVs: true);
            JsonObject before = await Status(socket);
            TimeSpan cpuBefore = daemon.CpuTime();
            (long vsPackets, long vsSent, double vsSeconds) = await Measure(lab, server, seconds, throughVs: true);
            TimeSpan cpuAfter = daemon.CpuTime();
            JsonObject after = await Status(socket);

            int exit = await daemon.StopAsync(TimeSpan.FromSeconds(10));
            if (exit != 0)
            {
                throw new InvalidOperationException($"vs run exited with {exit}: {daemon.Errors}");
            }

            long carried = Value(after, "packets_in") - Value(before, "packets_in");
            long allocated = Value(after, "gc_allocated_bytes") - Value(before, "gc_allocated_bytes");
            double directPps = directPackets / directSeconds;
            double vsPps = vsPackets / vsSeconds;
            return new JsonObject
            {
                ["size"] = size,
                ["seconds"] = seconds,
                ["stack"] = stack,
                ["direct"] = new JsonObject
                {
                    ["pps"] = Math.Round(directPps),
                    ["gbps"] = Math.Round(Gbps(directPps), 3),
                    ["lost"] = Math.Max(0, directSent - directPackets),
                },
                ["vs"] = new JsonObject
                {
                    ["pps"] = Math.Round(vsPps),
                    ["gbps"] = Math.Round(Gbps(vsPps), 3),
                    ["lost"] = Math.Max(0, vsSent - vsPackets),
                    ["cpu"] = Math.Round((cpuAfter - cpuBefore).TotalSeconds / vsSeconds, 3),
                    ["alloc_bytes_per_packet"] = carried > 0 ? Math.Round((double)allocated / carried, 3) : null,
                },
                ["ratio"] = Math.Round(vsPps / directPps, 3),
            };
        }
        finally
        {
            File.Delete(config);
        }
    }

    private double Gbps(double pps) => pps * size * 8 / 1e9;

    private async Task<(long Received, long Sent, double Seconds)> Measure(LabTopology lab, string server, int duration, bool throughVs)
    {
        LabProcess counter = lab.Start(lab.Server, vs, ["udp-count", "--port", Port.ToString(CultureInfo.InvariantCulture), "--json"], cpu: throughVs ? 0 : 1);
        await counter.WaitForLineAsync("listening", TimeSpan.FromSeconds(20));
        LabProcess generator = lab.Start(lab.Edge, vs,
            ["udp-gen", "--to", $"{server}:{Port}", "--size", size.ToString(CultureInfo.InvariantCulture), "--seconds", duration.ToString(CultureInfo.InvariantCulture), "--json"],
            cpu: 0,
            nice: throughVs ? 19 : 0);
        await generator.WaitAsync(TimeSpan.FromSeconds(duration + 30));
        await Task.Delay(300); // the last datagrams still in flight
        await counter.StopAsync(TimeSpan.FromSeconds(5));
        JsonObject sent = ParseLast(generator);
        JsonObject received = ParseLast(counter);
        return (Value(received, "packets"), Value(sent, "sent"), sent["seconds"]!.GetValue<double>());
    }

    private string WriteConfig(LabTopology lab)
    {
        string path = Path.Combine(Path.GetTempPath(), $"vs-bench-{Environment.ProcessId}.json");
        var config = new JsonObject
        {
            ["VirtualStack"] = new JsonObject
            {
                ["Tun"] = new JsonObject { ["Name"] = "vsb0", ["Address"] = "10.200.0.1/24", ["Capture"] = new JsonArray("10.201.0.0/24") },
                ["Stacks"] = new JsonObject
                {
                    ["raw"] = new JsonObject { ["Plugin"] = "Raw" },
                    [stack] = new JsonObject { ["Plugin"] = char.ToUpperInvariant(stack[0]) + stack[1..] },
                },
                ["Rules"] = new JsonArray(new JsonObject
                {
                    ["Name"] = "bench",
                    ["Match"] = new JsonObject { ["Protocol"] = "udp", ["DestinationPort"] = Port },
                    ["Stacks"] = new JsonArray(stack),
                }),
                ["Default"] = "raw",
                ["Management"] = new JsonObject { ["Socket"] = SocketPath(lab) },
            },
        };
        File.WriteAllText(path, config.ToJsonString());
        return path;
    }

    private static string SocketPath(LabTopology lab) => $"/run/virtualstack/{lab.Edge}.sock";

    private static async Task<JsonObject> Status(string socket)
    {
        JsonObject answer = await ManagementClient.SendAsync(socket, new JsonObject { ["command"] = "status" }, TimeSpan.FromSeconds(10));
        return answer["result"]?.AsObject() ?? throw new InvalidOperationException($"status failed: {answer["error"]}");
    }

    private static long Value(JsonObject o, string key) => o[key]?.GetValue<long>() ?? 0;

    private static JsonObject ParseLast(LabProcess process) =>
        JsonNode.Parse(process.Output.LastOrDefault(l => l.StartsWith('{')) ?? throw new InvalidOperationException($"{process.Description} printed no result: {process.Errors}"))!.AsObject();
}
