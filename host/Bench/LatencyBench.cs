using System.Globalization;
using System.Text.Json.Nodes;

namespace VirtualStack.Host.Bench;

/// <summary>
/// <c>vs bench latency</c>: the one-way latency VS adds. A short saturation run through VS finds the maximum rate;
/// then at 10 %, 50 % and 90 % of it a paced generator runs on the kernel-only path and through VS in turn (same
/// rate, same source port, VS running throughout), and the counting server reports p50/p99/p99.9 of send-to-receive
/// time from the timestamp in each datagram (one machine, one clock), after a warm-up second.
/// </summary>
/// <remarks>
/// With <c>runs</c> &gt; 1 each rate is measured that many times, kernel only and through VS in alternation, and every
/// figure is the median over the runs: on a shared, loaded machine one run's tail says more about the neighbours
/// than about VS.
/// </remarks>
internal sealed class LatencyBench(string vs, int size, int seconds, string stack, int runs, Action<string> log)
{
    private const int Port = 9000;
    private const int SourcePort = 20000; // fixed: every run through VS is the same flow, set up once
    private const int WarmupSeconds = 1;
    private const int SaturationSeconds = 3;

    public static IReadOnlyList<double> Fractions { get; } = [0.1, 0.5, 0.9];

    public async Task<JsonObject> RunAsync()
    {
        using BenchLab bench = BenchLab.Create(vs, "vsl", log);
        JsonArray loadBefore = BenchLab.LoadAverage();
        BenchDaemon daemon = await bench.StartVsAsync(
            new JsonObject { [stack] = new JsonObject { ["Plugin"] = char.ToUpperInvariant(stack[0]) + stack[1..] } },
            [BenchRules.Udp("bench", Port, stack)]);

        log($"maximum rate: {size}-byte packets through VS ({stack}) at full speed for {SaturationSeconds} s (+{WarmupSeconds} s warm-up)");
        await Run(bench, BenchPath.ThroughVs, WarmupSeconds, rate: 0, warmupMs: 0);
        Traffic saturation = await Run(bench, BenchPath.ThroughVs, SaturationSeconds, rate: 0, warmupMs: 0);
        double maxPps = saturation.ReceivedPackets / saturation.SendSeconds;
        log(string.Create(CultureInfo.InvariantCulture, $"maximum rate {maxPps:F0} pps ({saturation.Lost} lost)"));
        if (maxPps < 10)
        {
            throw new InvalidOperationException($"nothing came through VS at full speed: {saturation.Received.ToJsonString()}");
        }

        var rates = new JsonArray();
        foreach (double fraction in Fractions)
        {
            long rate = Math.Max(1, (long)Math.Round(maxPps * fraction));
            log(string.Create(CultureInfo.InvariantCulture, $"{fraction:P0} of maximum: {rate} pps, kernel only then through VS, {seconds} s each (+{WarmupSeconds} s warm-up), {runs} run(s)"));
            var direct = new List<JsonObject>();
            var through = new List<JsonObject>();
            for (int run = 0; run < runs; run++)
            {
                direct.Add(Side(await Run(bench, BenchPath.Direct, WarmupSeconds + seconds, rate, WarmupSeconds * 1000)));
                through.Add(Side(await Run(bench, BenchPath.ThroughVs, WarmupSeconds + seconds, rate, WarmupSeconds * 1000)));
            }

            JsonObject d = Median(direct);
            JsonObject v = Median(through);
            rates.Add(new JsonObject
            {
                ["fraction"] = fraction,
                ["rate_pps"] = rate,
                ["direct"] = d,
                ["vs"] = v,
                ["added_us"] = new JsonObject
                {
                    ["p50"] = Added(d, v, "p50_us"),
                    ["p99"] = Added(d, v, "p99_us"),
                    ["p999"] = Added(d, v, "p999_us"),
                },
            });
        }

        await daemon.StopAsync();
        return new JsonObject
        {
            ["size"] = size,
            ["seconds"] = seconds,
            ["stack"] = stack,
            ["runs"] = runs,
            ["max_pps"] = Math.Round(maxPps),
            ["max_gbps"] = Math.Round(maxPps * size * 8 / 1e9, 3),
            ["rates"] = rates,
            ["load"] = new JsonObject { ["before"] = loadBefore, ["after"] = BenchLab.LoadAverage() },
        };
    }

    private Task<Traffic> Run(BenchLab bench, BenchPath path, int duration, long rate, int warmupMs)
    {
        List<string> generator =
        [
            "--size", size.ToString(CultureInfo.InvariantCulture),
            "--seconds", duration.ToString(CultureInfo.InvariantCulture),
            "--source-port", SourcePort.ToString(CultureInfo.InvariantCulture),
        ];
        if (rate > 0)
        {
            generator.AddRange(["--rate", rate.ToString(CultureInfo.InvariantCulture)]);
        }

        return bench.RunAsync(path, Port, generator, ["--warmup-ms", warmupMs.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(duration + 30));
    }

    private static JsonObject Side(Traffic traffic)
    {
        JsonObject latency = traffic.Latency;
        return new JsonObject
        {
            ["pps"] = Math.Round(traffic.SentPackets / traffic.SendSeconds),
            // Doubles throughout, so that Median reads every field alike.
            ["lost"] = (double)traffic.Lost,
            ["samples"] = (double)latency["samples"]!.GetValue<long>(),
            ["p50_us"] = latency["p50_us"]!.GetValue<double>(),
            ["p99_us"] = latency["p99_us"]!.GetValue<double>(),
            ["p999_us"] = latency["p999_us"]!.GetValue<double>(),
            ["max_us"] = latency["max_us"]!.GetValue<double>(),
        };
    }

    // Field by field median over the runs (the upper median for an even count).
    private static JsonObject Median(List<JsonObject> runs)
    {
        var median = new JsonObject();
        foreach (string key in runs[0].Select(p => p.Key).ToList())
        {
            double[] values = runs.Select(r => r[key]!.GetValue<double>()).Order().ToArray();
            median[key] = values[values.Length / 2];
        }

        return median;
    }

    private static double Added(JsonObject direct, JsonObject through, string key) =>
        Math.Round(through[key]!.GetValue<double>() - direct[key]!.GetValue<double>(), 3);
}
