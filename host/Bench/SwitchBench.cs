using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualStack.Host.Cli;
using VirtualStack.Host.Demo;

namespace VirtualStack.Host.Bench;

/// <summary>
/// <c>vs bench switch</c>: the demo's measurements (<see cref="DemoRun"/>) repeated <c>--runs</c> times, each run in a
/// fresh lab and a fresh VS (so every run has its own first DCCP build), and in each run the same paced stream first
/// on the kernel-only path: its longest gap, delay and emptiest bucket are the machine's own noise, the yardstick
/// for what a switch adds. Prints one table of every switch and writes the JSON in the README.
/// </summary>
internal static class SwitchBench
{
    public static async Task<int> RunAsync(ParsedArguments args)
    {
        int runs = args.Int("runs", 3, 1, 100);
        DemoOptions options = DemoCommand.Options(args, defaultSeconds: 20) with { Direct = true };
        string? jsonFile = args.Option("json");
        string? keep = args.Option("out");
        args.RejectUnknown(maxPositional: 1);
        if (Tmds.Linux.LibC.geteuid() != 0)
        {
            ConsoleLog.Write("vs bench needs root (it builds network namespaces and runs vs run)");
            return 1;
        }

        string vs = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the vs executable");
        JsonArray loadBefore = BenchLab.LoadAverage();
        var results = new List<JsonObject>();
        for (int run = 1; run <= runs; run++)
        {
            string outDirectory = keep is not null
                ? Path.GetFullPath(Path.Combine(keep, $"run-{run}"))
                : Path.Combine(Path.GetTempPath(), $"vs-bench-switch-{Environment.ProcessId}-{run}");
            try
            {
                ConsoleLog.Write($"run {run} of {runs}");
                results.Add(await new DemoRun(vs, options, outDirectory, ConsoleLog.Write, live: false).RunAsync(CancellationToken.None));
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException)
            {
                ConsoleLog.Write($"bench switch failed in run {run}: {e.Message}");
                return 1;
            }
            finally
            {
                if (keep is null && Directory.Exists(outDirectory))
                {
                    Directory.Delete(outDirectory, recursive: true);
                }
            }
        }

        JsonObject result = Summarize(options, results);
        result["load"] = new JsonObject { ["before"] = loadBefore, ["after"] = BenchLab.LoadAverage() };
        Print(result, Console.Out);
        if (jsonFile is not null)
        {
            await File.WriteAllTextAsync(jsonFile, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }

        return results.All(r => r["vs_exit"]!.GetValue<int>() == 0) ? 0 : 1;
    }

    private static JsonObject Summarize(DemoOptions options, List<JsonObject> results)
    {
        var switches = new JsonArray();
        var perRun = new JsonArray();
        for (int i = 0; i < results.Count; i++)
        {
            JsonObject r = results[i];
            foreach (JsonNode? s in r["switches"]!.AsArray())
            {
                JsonObject row = s!.DeepClone().AsObject();
                row.Insert(0, "run", i + 1);
                switches.Add(row);
            }

            perRun.Add(new JsonObject
            {
                ["run"] = i + 1,
                ["sent"] = r["sent"]!.DeepClone(),
                ["received"] = r["received"]!.DeepClone(),
                ["lost"] = r["lost"]!.DeepClone(),
                ["lost_outside"] = r["lost_outside"]!.DeepClone(),
                ["process_first_build_ms"] = r["process_first_build_ms"]?.DeepClone(),
                ["mean_gbps"] = r["mean_gbps"]!.DeepClone(),
                ["peak_gbps"] = r["peak_gbps"]!.DeepClone(),
                ["first_build_ms"] = r["first_build_ms"]?.DeepClone(),
                ["stacks"] = r["stacks"]!.DeepClone(),
                ["steady"] = r["steady"]!.DeepClone(),
                ["direct"] = r["direct"]?.DeepClone(),
                ["targets"] = r["targets"]!.DeepClone(),
            });
        }

        JsonNode?[] cached = [.. switches.Where(s => s!["cached"]!.GetValue<bool>() && s["complete"]!.GetValue<bool>())];
        double[] builds = Sorted(results, "first_build_ms");
        double[] processBuilds = Sorted(results, "process_first_build_ms");
        JsonNode?[] directs = [.. results.Select(r => r["direct"]).Where(d => d is not null)];
        return new JsonObject
        {
            ["runs"] = results.Count,
            ["seconds"] = options.Seconds,
            ["period_s"] = options.PeriodSeconds,
            ["size"] = options.Size,
            ["rate_pps"] = options.RatePps,
            ["offered_gbps"] = options.RatePps > 0 ? Math.Round(options.OfferedGbps, 3) : null,
            ["switches"] = switches,
            ["mean_gbps"] = Math.Round(results.Average(r => r["mean_gbps"]!.GetValue<double>()), 3),
            ["peak_gbps"] = results.Max(r => r["peak_gbps"]!.GetValue<double>()),
            ["warm_up"] = options.WarmUp,
            ["first_build_ms"] = Spread(builds),
            ["process_first_build_ms"] = Spread(processBuilds),
            ["cached"] = new JsonObject
            {
                ["count"] = cached.Length,
                ["lost"] = cached.Sum(s => s!["lost"]!.GetValue<long>()),
                ["max_gap_ms"] = cached.Length > 0 ? cached.Max(s => s!["gap_ms"]!.GetValue<double>()) : null,
                ["median_gap_ms"] = cached.Length > 0 ? cached.Select(s => s!["gap_ms"]!.GetValue<double>()).Order().ElementAt(cached.Length / 2) : null,
                ["max_latency_ms"] = cached.Length > 0 ? cached.Max(s => s!["max_latency_ms"]!.GetValue<double>()) : null,
                ["min_bucket_ratio"] = cached.Length > 0 ? cached.Min(s => s!["min_bucket_ratio"]!.GetValue<double>()) : null,
            },
            ["steady"] = new JsonObject
            {
                ["lost"] = results.Sum(r => r["steady"]!["lost"]!.GetValue<long>()),
                ["max_gap_ms"] = results.Max(r => r["steady"]!["max_gap_ms"]!.GetValue<double>()),
                ["max_send_gap_ms"] = results.Max(r => r["steady"]!["max_send_gap_ms"]!.GetValue<double>()),
                ["max_latency_ms"] = results.Max(r => r["steady"]!["max_latency_ms"]!.GetValue<double>()),
                ["min_bucket_ratio"] = results.Min(r => r["steady"]!["min_bucket_ratio"]!.GetValue<double>()),
            },
            ["direct"] = directs.Length == 0 ? null : new JsonObject
            {
                ["lost"] = directs.Sum(d => d!["lost"]!.GetValue<long>()),
                ["max_gap_ms"] = directs.Max(d => d!["max_gap_ms"]!.GetValue<double>()),
                ["max_send_gap_ms"] = directs.Max(d => d!["max_send_gap_ms"]!.GetValue<double>()),
                ["max_latency_ms"] = directs.Max(d => d!["max_latency_ms"]!.GetValue<double>()),
                ["min_bucket_ratio"] = directs.Min(d => d!["min_bucket_ratio"]!.GetValue<double>()),
                ["mean_gbps"] = Math.Round(directs.Average(d => d!["mean_gbps"]!.GetValue<double>()), 3),
            },
            ["per_run"] = perRun,
        };
    }

    private static double[] Sorted(List<JsonObject> results, string key) =>
        [.. results.Select(r => r[key]).Where(b => b is not null).Select(b => b!.GetValue<double>()).Order()];

    private static JsonObject? Spread(double[] sorted) => sorted.Length == 0 ? null : new JsonObject
    {
        ["min"] = sorted[0],
        ["median"] = sorted[sorted.Length / 2],
        ["max"] = sorted[^1],
    };

    private static void Print(JsonObject result, TextWriter to)
    {
        string offered = result["rate_pps"]!.GetValue<long>() > 0 ? $"{result["rate_pps"]} packets/s offered ({result["offered_gbps"]} Gbit/s)" : "unpaced";
        to.WriteLine($"{result["runs"]} run(s) of {result["seconds"]} s, {result["size"]}-byte packets, {offered}, udp <-> dccp every {result["period_s"]} s");
        var table = new TableWriter("RUN", "AT S", "FROM", "TO", "CACHED", "COMPLETE", "GAP MS", "SEND GAP MS", "MAX DELAY MS", "LOST", "MIN BUCKET", "FIRST BUILD MS");
        foreach (JsonNode? s in result["switches"]!.AsArray())
        {
            table.Add(s!["run"], s["at_s"], s["from"], s["to"], s["cached"], s["complete"], s["gap_ms"], s["send_gap_ms"], s["max_latency_ms"], s["lost"], s["min_bucket_ratio"], s["first_build_ms"] ?? "-");
        }

        table.WriteTo(to);
        var paths = new TableWriter("", "LOST", "LONGEST GAP MS", "SENDER'S GAP MS", "MAX DELAY MS", "MIN BUCKET", "MEAN GBIT/S");
        JsonNode cached = result["cached"]!;
        JsonNode steady = result["steady"]!;
        if (result["direct"] is JsonObject direct)
        {
            paths.Add("kernel only", direct["lost"], direct["max_gap_ms"], direct["max_send_gap_ms"], direct["max_latency_ms"], direct["min_bucket_ratio"], direct["mean_gbps"]);
        }

        paths.Add("VS, away from switches", steady["lost"], steady["max_gap_ms"], steady["max_send_gap_ms"], steady["max_latency_ms"], steady["min_bucket_ratio"], result["mean_gbps"]);
        paths.Add($"VS, {cached["count"]} cached switches", cached["lost"], cached["max_gap_ms"], "-", cached["max_latency_ms"], cached["min_bucket_ratio"], "-");
        paths.WriteTo(to);
        JsonNode? builds = result["first_build_ms"];
        JsonNode? cold = result["process_first_build_ms"];
        to.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"first DCCP build of the flow, ms: min {builds?["min"]} median {builds?["median"]} max {builds?["max"]} (target < {DemoResults.BuildTargetMs}; warm-up {(result["warm_up"]!.GetValue<bool>() ? "yes" : "no")}); the process's first: min {cold?["min"]} median {cold?["median"]} max {cold?["max"]}; peak {result["peak_gbps"]} Gbit/s"));
        to.WriteLine($"load average (1, 5, 15 min): before {string.Join(' ', result["load"]!["before"]!.AsArray())}, after {string.Join(' ', result["load"]!["after"]!.AsArray())}");
    }
}
