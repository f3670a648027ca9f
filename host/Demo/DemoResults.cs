using System.Globalization;
using System.Text.Json.Nodes;

namespace VirtualStack.Host.Demo;

/// <summary>
/// Turns one demo run's raw material (both servers' arrivals, VS's flow record) into results.json (format in the
/// README, "The demo"), counts.csv and figure1.png.
/// </summary>
internal static class DemoResults
{
    /// <summary>A bucket below this fraction of the steady mean counts as a dent (issue 5 §4's target).</summary>
    public const double BucketTarget = 0.8;

    /// <summary>The first DCCP build's target on the veth, in ms (issue 5 §4).</summary>
    public const double BuildTargetMs = 5;

    public static JsonObject Build(DemoOptions options, long sent, IReadOnlyList<ServerArrivals> servers, JsonArray flows, string rule,
        int vsExit, JsonObject? direct, string outDirectory)
    {
        JsonObject? flow = flows.FirstOrDefault(f => f?["rule"]?.GetValue<string>() == rule)?.AsObject();
        var events = new List<SwitchEvent>();
        foreach (JsonNode? r in flow?["recent_switches"]?.AsArray() ?? [])
        {
            events.Add(new SwitchEvent(
                DateTimeOffset.Parse(r!["at"]!.GetValue<string>(), CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(),
                r["from"]!.GetValue<string>(), r["to"]!.GetValue<string>(), r["cached"]!.GetValue<bool>(), r["delay_us"]!.GetValue<double>()));
        }

        var buildMs = new Dictionary<string, double>();
        foreach (JsonNode? s in flow?["stacks"]?.AsArray() ?? [])
        {
            if (s!["builds"]!.GetValue<long>() > 0)
            {
                buildMs[s["name"]!.GetValue<string>()] = s["build_ms"]!.GetValue<double>();
            }
        }

        var analysis = new SwitchAnalysis(servers, sent, options.Size, options.PeriodSeconds);
        SwitchMeasure[] measures = analysis.Measure(events, buildMs, out SteadyMeasure steady);
        Throughput[] perStack = analysis.PerStack();
        (double mean, double peak) = analysis.Overall();

        FigureSeries[] series = [.. servers.Select(s => new FigureSeries(s.Stack, analysis.Buckets[s.Stack]))];
        long[] timeline = Figure1.Timeline(series, SwitchAnalysis.BucketMs);
        File.WriteAllText(Path.Combine(outDirectory, DemoRun.CountsFile), Figure1.Csv(series, timeline));
        FigureMarker[] markers = [.. measures.Select(m => new FigureMarker(m.AtSeconds, $"{m.Event.From} -> {m.Event.To}"))];
        string rate = options.RatePps > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{options.RatePps} packets/s offered ({options.OfferedGbps:F2} Gbit/s)")
            : "unpaced";
        Figure1.Save(Path.Combine(outDirectory, DemoRun.FigureFile), series, markers, SwitchAnalysis.BucketMs,
            string.Create(CultureInfo.InvariantCulture, $"VirtualStack demo: {options.Size}-byte UDP, {rate}, udp <-> dccp every {options.PeriodSeconds} s"));

        var switches = new JsonArray();
        foreach (SwitchMeasure m in measures)
        {
            switches.Add(new JsonObject
            {
                ["at_s"] = m.AtSeconds,
                ["from"] = m.Event.From,
                ["to"] = m.Event.To,
                ["cached"] = m.Event.Cached,
                ["complete"] = m.Complete,
                ["gap_ms"] = m.GapMs,
                ["send_gap_ms"] = m.SendGapMs,
                ["max_latency_ms"] = m.MaxLatencyMs,
                ["lost"] = m.Lost,
                ["min_bucket_ratio"] = m.MinBucketRatio,
                ["delay_us"] = m.Event.DelayUs,
                ["first_build_ms"] = m.FirstBuildMs,
            });
        }

        long received = analysis.Received;
        SwitchMeasure[] cached = [.. measures.Where(m => m.Event.Cached && m.Complete)];
        double? firstDccp = buildMs.TryGetValue("dccp", out double b) ? b : null;
        var stacks = new JsonArray();
        foreach (Throughput t in perStack)
        {
            stacks.Add(new JsonObject
            {
                ["stack"] = t.Stack,
                ["received"] = t.Received,
                ["mean_gbps"] = t.MeanGbps,
                ["peak_gbps"] = t.PeakGbps,
                ["build_ms"] = buildMs.TryGetValue(t.Stack, out double ms) ? ms : null,
            });
        }

        return new JsonObject
        {
            ["experiment"] = "paper Figure 1: one UDP flow through VirtualStack, TimedSwitch between a udp and a dccp stack",
            ["seconds"] = options.Seconds,
            ["period_s"] = options.PeriodSeconds,
            ["size"] = options.Size,
            ["rate_pps"] = options.RatePps,
            ["offered_gbps"] = options.RatePps > 0 ? Math.Round(options.OfferedGbps, 3) : null,
            ["sent"] = sent,
            ["received"] = received,
            ["lost"] = sent - received,
            ["mean_gbps"] = mean,
            ["peak_gbps"] = peak,
            ["stacks"] = stacks,
            ["switches"] = switches,
            ["switches_total"] = flow?["switches"]?.GetValue<long>() ?? 0,
            // Lost neither in the steady part nor near a switch: in the first or last 500 ms (start-up; the end, e.g. a
            // DCCP send queue a starved far side had not drained when the run stopped).
            ["lost_outside"] = Math.Max(0, sent - received - steady.Lost - measures.Sum(m => m.Lost)),
            ["first_build_ms"] = firstDccp,
            ["steady"] = new JsonObject
            {
                ["bucket_mean"] = steady.MeanBucket,
                ["max_gap_ms"] = steady.MaxGapMs,
                ["max_send_gap_ms"] = steady.MaxSendGapMs,
                ["max_latency_ms"] = steady.MaxLatencyMs,
                ["lost"] = steady.Lost,
                ["min_bucket_ratio"] = steady.MinBucketRatio,
            },
            ["targets"] = new JsonObject
            {
                ["cached_switches_lossless"] = cached.Length > 0 && cached.All(m => m.Lost == 0),
                ["cached_min_bucket_ratio"] = cached.Length > 0 ? cached.Min(m => m.MinBucketRatio) : null,
                ["cached_buckets_above_80_percent"] = cached.Length > 0 && cached.All(m => m.MinBucketRatio >= BucketTarget),
                ["first_build_under_5_ms"] = firstDccp is { } f && f < BuildTargetMs,
            },
            ["window_ms"] = analysis.WindowMs,
            ["direct"] = direct,
            ["vs_exit"] = vsExit,
            ["bucket_ms"] = SwitchAnalysis.BucketMs,
            ["figure"] = DemoRun.FigureFile,
            ["counts"] = DemoRun.CountsFile,
            ["flows"] = flows.DeepClone(),
        };
    }
}
