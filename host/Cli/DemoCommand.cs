using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using VirtualStack.Host.Demo;

namespace VirtualStack.Host.Cli;

/// <summary><c>vs demo</c>: the main job, on an embedded default.</summary>
internal static class DemoCommand
{
    public const string Help = """
        Usage: vs demo [--seconds S] [--period P] [--rate PPS|Ngbit] [--size BYTES] [--warm-up yes|no] [--out DIR]

        The paper's reference experiment on an embedded default: builds a private topology in network namespaces,
        starts VS, a paced UDP generator (1500-byte packets), a UDP server, and a DCCP far side (vs dccp listen)
        handing its datagrams to a second UDP server; the flow's stack alternates udp and dccp every period
        (TimedSwitch). Shows a live progress line, prints mean and peak Gbit/s per stack, every switch with its gap
        and losses, the first DCCP build time, and writes figure1.png (packets per 10 ms at each server over time,
        switches marked, like the paper's Figure 1), results.json, counts.csv and the configuration used into --out
        (default results/<timestamp>/). Removes everything it created, also when interrupted. Needs root.
          --seconds  length of the run (default 20)
          --period   seconds on each stack before the next switch (default 5; decimals allowed)
          --rate     offered load: packets per second, or Gbit/s at the IP level with a "gbit" suffix (default
                     20000, 0.24 Gbit/s at 1500 bytes: what this 2-core machine carries without loss on both
                     stacks; 0 sends unpaced, as fast as the generator can, and then losses are the generator
                     outrunning the VNIC, not switches)
          --size     IP packet size (default 1500)
          --warm-up  yes (default): a short flow on a dccp-only rule opens VS's first DCCP connection before the
                     measured flow starts, so that its first DCCP build is what a running VS pays for a new flow
                     (the handshake); the process's cold first build is reported beside it. no: the measured
                     flow's DCCP build is the process's first
        """;

    public static async Task<int> RunAsync(ParsedArguments args)
    {
        DemoOptions options = Options(args, defaultSeconds: 20);
        string output = args.Option("out") ?? Path.Combine("results", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        args.RejectUnknown();
        if (Tmds.Linux.LibC.geteuid() != 0)
        {
            ConsoleLog.Write("vs demo needs root (it builds network namespaces and runs vs run)");
            return 1;
        }

        string vs = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the vs executable");
        using var cancel = new CancellationTokenSource();
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cancel.Cancel(); });
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });
        JsonObject result;
        try
        {
            result = await new DemoRun(vs, options, Path.GetFullPath(output), ConsoleLog.Write).RunAsync(cancel.Token);
        }
        catch (Exception e) when (cancel.IsCancellationRequested)
        {
            ConsoleLog.Write($"vs demo: interrupted; removed its namespaces, devices and processes ({e.GetType().Name})");
            return 130;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException)
        {
            ConsoleLog.Write($"vs demo failed: {e.Message}");
            return 1;
        }

        Print(result, Console.Out);
        Console.Out.WriteLine($"results: {Path.GetFullPath(output)} (figure1.png, results.json, counts.csv)");
        return result["vs_exit"]!.GetValue<int>() == 0 ? 0 : 1;
    }

    /// <summary>--seconds, --period, --rate and --size, shared with <c>vs bench switch</c>.</summary>
    public static DemoOptions Options(ParsedArguments args, int defaultSeconds)
    {
        int seconds = args.Int("seconds", defaultSeconds, 1, 3600);
        int size = args.Int("size", 1500, 64, 9000);
        string periodText = args.Option("period") ?? "5";
        if (!double.TryParse(periodText, NumberStyles.Float, CultureInfo.InvariantCulture, out double period) || period < 0.05 || period > 3600)
        {
            throw new UsageException($"--period: '{periodText}' is not a number of seconds from 0.05 to 3600");
        }

        string rateText = args.Option("rate") ?? DemoOptions.DefaultRatePps.ToString(CultureInfo.InvariantCulture);
        long rate;
        if (rateText.EndsWith("gbit", StringComparison.OrdinalIgnoreCase)
            && double.TryParse(rateText[..^4], NumberStyles.Float, CultureInfo.InvariantCulture, out double gbps) && gbps > 0 && gbps <= 100)
        {
            rate = (long)Math.Round(gbps * 1e9 / (size * 8.0));
        }
        else if (!long.TryParse(rateText, NumberStyles.None, CultureInfo.InvariantCulture, out rate) || rate > 10_000_000)
        {
            throw new UsageException($"--rate: '{rateText}' is not packets per second (0 to 10000000) or Gbit/s like 0.5gbit");
        }

        string warm = args.Option("warm-up") ?? "yes";
        if (warm is not ("yes" or "no"))
        {
            throw new UsageException($"--warm-up: '{warm}' is not yes or no");
        }

        return new DemoOptions(seconds, period, size, rate, WarmUp: warm == "yes");
    }

    /// <summary>The summary table of one run: per stack, per switch, and how the targets came out.</summary>
    public static void Print(JsonObject result, TextWriter to)
    {
        string offered = result["rate_pps"]!.GetValue<long>() > 0
            ? $"{result["rate_pps"]} packets/s offered ({result["offered_gbps"]} Gbit/s)"
            : "unpaced (as fast as the generator can)";
        to.WriteLine($"{result["size"]}-byte packets, {offered}, {result["seconds"]} s, switching every {result["period_s"]} s");
        var stacks = new TableWriter("STACK", "RECEIVED", "MEAN GBIT/S", "PEAK GBIT/S", "BUILD MS");
        foreach (JsonNode? s in result["stacks"]!.AsArray())
        {
            stacks.Add(s!["stack"], s["received"], s["mean_gbps"] ?? "-", s["peak_gbps"] ?? "-", s["build_ms"] ?? "-");
        }

        stacks.Add("both", result["received"], result["mean_gbps"], result["peak_gbps"], "-");
        stacks.WriteTo(to);
        to.WriteLine($"sent {result["sent"]}, received {result["received"]}, lost {result["lost"]} ({result["lost_outside"]} of them in the first or last 500 ms)");
        to.WriteLine();
        var switches = new TableWriter("AT S", "FROM", "TO", "CACHED", "COMPLETE", "GAP MS", "SEND GAP MS", "MAX DELAY MS", "LOST", "MIN BUCKET", "SWITCH US", "FIRST BUILD MS");
        foreach (JsonNode? s in result["switches"]!.AsArray())
        {
            switches.Add(s!["at_s"], s["from"], s["to"], s["cached"], s["complete"], s["gap_ms"], s["send_gap_ms"], s["max_latency_ms"], s["lost"], s["min_bucket_ratio"], s["delay_us"], s["first_build_ms"] ?? "-");
        }

        switches.WriteTo(to);
        JsonNode steady = result["steady"]!;
        to.WriteLine($"steady (more than {result["window_ms"]} ms from a switch): longest gap {steady["max_gap_ms"]} ms (sender's own {steady["max_send_gap_ms"]} ms), max one-way delay {steady["max_latency_ms"]} ms, lost {steady["lost"]}, emptiest 10 ms bucket {steady["min_bucket_ratio"]} of the mean ({steady["bucket_mean"]} packets)");
        if (result["direct"] is JsonObject direct)
        {
            to.WriteLine($"kernel only, same stream: lost {direct["lost"]}, longest gap {direct["max_gap_ms"]} ms (sender's own {direct["max_send_gap_ms"]} ms), max one-way delay {direct["max_latency_ms"]} ms, emptiest bucket {direct["min_bucket_ratio"]} of the mean, {direct["mean_gbps"]} Gbit/s mean");
        }

        JsonNode targets = result["targets"]!;
        to.WriteLine($"first DCCP build: {result["first_build_ms"] ?? "-"} ms (target < {DemoResults.BuildTargetMs} ms: {Met(targets["first_build_under_5_ms"])}; " +
            $"{(result["warm_up"]?.GetValue<bool>() == true ? $"after the warm-up flow, whose build, the process's first, took {result["process_first_build_ms"] ?? "-"} ms" : "the process's first, no warm-up")}); " +
            $"cached switches lossless: {Met(targets["cached_switches_lossless"])}; every 10 ms bucket >= 80 % of the mean at cached switches: {Met(targets["cached_buckets_above_80_percent"])} (lowest {targets["cached_min_bucket_ratio"] ?? "-"})");
    }

    private static string Met(JsonNode? value) => value?.GetValue<bool>() == true ? "met" : "NOT met";
}
