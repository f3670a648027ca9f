using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualStack.Host.Lab;
using VirtualStack.Host.Management;
using VirtualStack.Host.Setup;

namespace VirtualStack.Host.Demo;

/// <summary>
/// <c>vs demo</c> (and each run of <c>vs bench switch</c>): the paper's reference experiment on an embedded default. A
/// paced generator sends 1500-byte UDP packets (16-byte header with sequence number and send time, random bytes)
/// through the VNIC; VS carries the flow on a udp stack to a UDP server and, switching every period (TimedSwitch), on a
/// dccp stack to a DCCP far side (<c>vs dccp listen</c>) that hands each datagram to a second UDP server. Both servers
/// log every datagram's sequence number and arrival time; with VS's switch records they give each switch's gap and
/// losses exactly (<see cref="SwitchAnalysis"/>). Writes figure1.png, results.json and counts.csv.
/// </summary>
/// <remarks>
/// Placement as the benchmarks': VS alone on CPU 1; on CPU 0 the servers, the DCCP far side and the generator (paced;
/// unpaced at nice 19, as it never blocks on a TUN and would starve the servers beside it). The veth carries jumbo frames (MTU 9000):
/// a DCCP packet is its 1472-byte payload plus headers and options, more than a 1500-byte path takes, and the Dccp
/// stack refuses rather than fragments. The application's path (VNIC) keeps MTU 1500.
/// </remarks>
internal sealed class DemoRun(string vs, DemoOptions options, string outDirectory, Action<string> log, bool live = true)
{
    public const string FigureFile = "figure1.png";
    public const string CountsFile = "counts.csv";
    public const string ResultsFile = "results.json";

    private const int Port = 9000;
    private const int DccpPort = 9001;
    private const int DccpServerPort = 9002;
    private const int DirectPort = 9003;
    private const int PathMtu = 9000;
    private const string Rule = "telemetry";
    private const string WarmUpRule = "warm-up";
    private const int WarmUpPort = 9010;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static string Server => LabTopology.ServerAddress(1);

    // Paced, the generator takes only the time its packets need and sleeps between them: at equal priority it keeps its
    // schedule on a shared core. Unpaced it never blocks (a TUN takes all), so it runs at nice 19 beside the servers.
    private int Nice => options.RatePps > 0 ? 0 : 19;

    private string Arrivals(string name) => Path.Combine(outDirectory, $"arrivals-{name}.bin");

    public async Task<JsonObject> RunAsync(CancellationToken cancel)
    {
        Directory.CreateDirectory(outDirectory);
        using LabTopology lab = LabTopology.Create("vsd", paths: 1, log);
        using var stopLab = cancel.Register(lab.Dispose);
        string socket = $"/run/virtualstack/{lab.Edge}.sock";
        try
        {
            foreach (string ns in new[] { lab.Edge, lab.Server })
            {
                foreach (string device in Veths(ns))
                {
                    CommandRunner.Check("ip", "-n", ns, "link", "set", "dev", device, "mtu", $"{PathMtu}");
                }
            }

            JsonObject? direct = options.Direct ? await DirectAsync(lab, cancel) : null;
            string config = Path.Combine(outDirectory, "vs-config.json");
            await File.WriteAllTextAsync(config, Config(socket).ToJsonString(Indented), cancel);

            LabProcess udpServer = StartCounter(lab, Port, "udp");
            LabProcess farSide = lab.Start(lab.Server, vs,
                ["dccp", "listen", "--port", $"{DccpPort}", "--address", Server, "--deliver", $"127.0.0.1:{DccpServerPort}", "--mtu", $"{PathMtu}"], cpu: 0);
            foreach ((LabProcess p, string line) in new[] { (udpServer, "listening"), (farSide, "listening on DCCP") })
            {
                await p.WaitForLineAsync(line, TimeSpan.FromSeconds(30));
            }

            LabProcess daemon = lab.Start(lab.Edge, vs, ["run", "--config", config], cpu: 1);
            await daemon.WaitForLineAsync("vs: ready", TimeSpan.FromSeconds(30));
            if (options.WarmUp)
            {
                await WarmUpAsync(lab, socket);
            }

            // The DCCP server starts after the warm-up: the warm-up's datagrams (delivered by the far side) are not counted.
            LabProcess dccpServer = StartCounter(lab, DccpServerPort, "dccp");
            await dccpServer.WaitForLineAsync("listening", TimeSpan.FromSeconds(30));
            log(string.Create(CultureInfo.InvariantCulture,
                $"demo: {options.Size}-byte UDP at {Rate()} for {options.Seconds} s, stack udp <-> dccp every {options.PeriodSeconds} s"));
            // Every datagram carries its send time: what was sent before this (the warm-up's, which a loaded far side
            // may deliver after the dccp server started) is not the demo's and is not counted.
            long generatorStartUnixNs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
            LabProcess generator = lab.Start(lab.Edge, vs, Generator(Port, options.Seconds), cpu: 0, nice: Nice);

            await ShowProgressAsync(generator, socket, cancel);
            cancel.ThrowIfCancellationRequested();
            await generator.WaitAsync(TimeSpan.FromSeconds(30));
            await SettleAsync(cancel); // what is still queued (VNIC, DCCP send queue, far side) arrives
            JsonArray flows = (await ManagementClient.SendAsync(socket, new JsonObject { ["command"] = "flows" }, TimeSpan.FromSeconds(5)))["result"]?.AsArray() ?? [];
            int vsExit = await daemon.StopAsync(TimeSpan.FromSeconds(10));
            await farSide.StopAsync(TimeSpan.FromSeconds(5));
            await udpServer.StopAsync(TimeSpan.FromSeconds(5));
            await dccpServer.StopAsync(TimeSpan.FromSeconds(5));
            if (vsExit != 0)
            {
                log($"vs run exited with {vsExit}: {daemon.Errors}");
            }

            // The daemon's and the far side's logs beside the results: what happened, when (build, handshake, drops).
            await File.WriteAllLinesAsync(Path.Combine(outDirectory, "vs-run.log"), [.. daemon.Output, .. daemon.Errors.Split('\n')], CancellationToken.None);
            await File.WriteAllLinesAsync(Path.Combine(outDirectory, "dccp-listen.log"), [.. farSide.Output, .. farSide.Errors.Split('\n')], CancellationToken.None);
            JsonObject sent = LastJson(generator);
            var servers = new List<ServerArrivals> { Read("udp", generatorStartUnixNs), Read("dccp", generatorStartUnixNs) };
            JsonObject result = DemoResults.Build(options, sent["sent"]!.GetValue<long>(), servers, flows, Rule, vsExit, direct, outDirectory);
            JsonNode? warmFlow = flows.FirstOrDefault(f => f?["rule"]?.GetValue<string>() == WarmUpRule);
            result["warm_up"] = options.WarmUp;
            result["process_first_build_ms"] = options.WarmUp ? warmFlow?["stacks"]?[0]?["build_ms"]?.DeepClone() : result["first_build_ms"]?.DeepClone();
            result["far_side"] = farSide.Output.LastOrDefault(l => l.StartsWith("totals", StringComparison.Ordinal));
            await File.WriteAllTextAsync(Path.Combine(outDirectory, ResultsFile), result.ToJsonString(Indented) + "\n", CancellationToken.None);
            return result;
        }
        finally
        {
            lab.Dispose();
            foreach (string name in new[] { "udp", "dccp", "direct" })
            {
                File.Delete(Arrivals(name));
            }

            File.Delete(socket); // a daemon that had to be killed could not remove it
        }
    }

    /// <summary>The same paced stream on the kernel-only path (no VS yet), to a server of its own: the path's own noise.</summary>
    private async Task<JsonObject> DirectAsync(LabTopology lab, CancellationToken cancel)
    {
        LabProcess server = StartCounter(lab, DirectPort, "direct");
        await server.WaitForLineAsync("listening", TimeSpan.FromSeconds(30));
        log(string.Create(CultureInfo.InvariantCulture, $"kernel only: {options.Size}-byte UDP at {Rate()} for {options.Seconds} s"));
        LabProcess generator = lab.Start(lab.Edge, vs, Generator(DirectPort, options.Seconds), cpu: 0, nice: Nice);
        await generator.WaitAsync(TimeSpan.FromSeconds(options.Seconds + 30));
        cancel.ThrowIfCancellationRequested();
        await Task.Delay(300, CancellationToken.None);
        await server.StopAsync(TimeSpan.FromSeconds(5));
        long sent = LastJson(generator)["sent"]!.GetValue<long>();
        var analysis = new SwitchAnalysis([Read("direct")], sent, options.Size, options.PeriodSeconds);
        analysis.Measure([], new Dictionary<string, double>(), out SteadyMeasure steady);
        (double mean, double peak) = analysis.Overall();
        return new JsonObject
        {
            ["sent"] = sent,
            ["received"] = analysis.Received,
            ["lost"] = sent - analysis.Received,
            ["mean_gbps"] = mean,
            ["peak_gbps"] = peak,
            ["max_gap_ms"] = steady.MaxGapMs,
            ["max_send_gap_ms"] = steady.MaxSendGapMs,
            ["max_latency_ms"] = steady.MaxLatencyMs,
            ["min_bucket_ratio"] = steady.MinBucketRatio,
        };
    }

    /// <summary>
    /// <see cref="DemoOptions.WarmUp"/>: a few datagrams on the warm-up rule (dccp only) start its DCCP connection; once
    /// it is open (at most 10 s: a far side that never answers leaves the measured flow cold, which the results show),
    /// 50 more on the same flow run the data path (send, acknowledgements) too. The warm-up flow's datagrams before
    /// the connection is open are dropped: a single-stack rule has nothing to carry them meanwhile.
    /// </summary>
    private async Task WarmUpAsync(LabTopology lab, string socket)
    {
        await SendWarmUpAsync(lab, 5);
        var limit = Stopwatch.StartNew();
        while (limit.Elapsed < TimeSpan.FromSeconds(10))
        {
            JsonArray flows = (await ManagementClient.SendAsync(socket, new JsonObject { ["command"] = "flows" }, TimeSpan.FromSeconds(5)))["result"]?.AsArray() ?? [];
            // The slot is ready once the handshake completed; the flow takes it with its next datagram.
            if (flows.Any(f => f?["rule"]?.GetValue<string>() == WarmUpRule && f["stacks"]?[0]?["state"]?.GetValue<string>() == "ready"))
            {
                await SendWarmUpAsync(lab, 50);
                return;
            }

            await Task.Delay(20);
        }

        log("warm-up: the warm-up flow's DCCP connection did not open within 10 s");
    }

    private async Task SendWarmUpAsync(LabTopology lab, int count)
    {
        LabProcess warm = lab.Start(lab.Edge, vs,
            ["udp-gen", "--to", $"{Server}:{WarmUpPort}", "--source-port", $"{WarmUpPort}", "--size", "1500", "--count", $"{count}", "--rate", "1000", "--json"], cpu: 0);
        await warm.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// Waits until the servers have received nothing for 500 ms (their arrival logs stop growing; a counter writes its
    /// log out after 100 ms without datagrams), at most 10 s: a loaded machine can hold the last packets in the DCCP
    /// send queue or the far side for a while, and they are late, not lost.
    /// </summary>
    private async Task SettleAsync(CancellationToken cancel)
    {
        long last = -1;
        var quiet = Stopwatch.StartNew();
        var limit = Stopwatch.StartNew();
        while (quiet.ElapsedMilliseconds < 500 && limit.Elapsed < TimeSpan.FromSeconds(10) && !cancel.IsCancellationRequested)
        {
            await Task.Delay(100, CancellationToken.None);
            long size = new[] { "udp", "dccp" }.Sum(n => new FileInfo(Arrivals(n)) is { Exists: true } f ? f.Length : 0);
            if (size != last)
            {
                last = size;
                quiet.Restart();
            }
        }
    }

    private async Task ShowProgressAsync(LabProcess generator, string socket, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        long lastPackets = 0;
        while (!generator.HasExited && !cancel.IsCancellationRequested)
        {
            await Task.Delay(1000, CancellationToken.None);
            if (!live)
            {
                continue;
            }

            try
            {
                JsonObject? status = (await ManagementClient.SendAsync(socket, new JsonObject { ["command"] = "status" }, TimeSpan.FromSeconds(5)))["result"]?.AsObject();
                JsonArray? flows = (await ManagementClient.SendAsync(socket, new JsonObject { ["command"] = "flows" }, TimeSpan.FromSeconds(5)))["result"]?.AsArray();
                JsonNode? flow = flows?.FirstOrDefault(f => f?["rule"]?.GetValue<string>() == Rule);
                long packets = status?["packets_sent"]?.GetValue<long>() ?? 0;
                double gbps = (packets - lastPackets) * options.Size * 8 / 1e9;
                lastPackets = packets;
                Console.Error.Write(string.Create(CultureInfo.InvariantCulture,
                    $"\rvs demo: {clock.Elapsed.TotalSeconds,5:F1} s / {options.Seconds} s  stack {flow?["stack"] ?? "-",-5} {gbps,6:F3} Gbit/s  carried {packets,9}  switches {flow?["switches"] ?? 0}  drops {status?["drops_total"]}   "));
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
            {
                // The progress line is best effort; the measurement does not depend on it.
            }
        }

        if (live)
        {
            Console.Error.WriteLine();
        }
    }

    private LabProcess StartCounter(LabTopology lab, int port, string name) =>
        lab.Start(lab.Server, vs, ["udp-count", "--port", $"{port}", "--json", "--bucket-ms", $"{SwitchAnalysis.BucketMs}", "--arrivals", Arrivals(name)], cpu: 0);

    private string[] Generator(int port, int seconds)
    {
        List<string> args = ["udp-gen", "--to", $"{Server}:{port}", "--size", $"{options.Size}", "--seconds", $"{seconds}", "--json"];
        if (options.RatePps > 0)
        {
            // A generator descheduled on the shared core catches up at most 20 ms: after a long stall it does not burst
            // the whole backlog at full speed (which would measure the VNIC's queue, not switching).
            args.AddRange(["--rate", options.RatePps.ToString(CultureInfo.InvariantCulture), "--catch-up-ms", "20"]);
        }

        return [.. args];
    }

    private string Rate() => options.RatePps > 0
        ? string.Create(CultureInfo.InvariantCulture, $"{options.RatePps} packets/s ({options.OfferedGbps:F3} Gbit/s offered)")
        : "full speed (unpaced)";

    private ServerArrivals Read(string name, long sentFromUnixNs = long.MinValue)
    {
        (long[] sequence, long[] sentNs, long[] unixNs) = Tools.ArrivalLog.Read(Arrivals(name));
        int earlier = 0;
        foreach (long sent in sentNs)
        {
            earlier += sent < sentFromUnixNs ? 1 : 0;
        }

        if (earlier == 0)
        {
            return new ServerArrivals(name, sequence, sentNs, unixNs);
        }

        log(string.Create(CultureInfo.InvariantCulture, $"demo: {earlier} datagrams at the {name} server were sent before the demo's generator started (the warm-up's): not counted"));
        int[] kept = [.. Enumerable.Range(0, sentNs.Length).Where(i => sentNs[i] >= sentFromUnixNs)];
        return new ServerArrivals(name, [.. kept.Select(i => sequence[i])], [.. kept.Select(i => sentNs[i])], [.. kept.Select(i => unixNs[i])]);
    }

    private static JsonObject LastJson(LabProcess process) =>
        JsonNode.Parse(process.Output.LastOrDefault(l => l.StartsWith('{')) ?? throw new InvalidOperationException($"{process.Description} printed no result: {process.Errors}"))!.AsObject();

    private static IEnumerable<string> Veths(string ns) =>
        CommandRunner.Run("ip", "-n", ns, "-o", "link", "show", "type", "veth").Output
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(':')[1].Trim().Split('@')[0]);

    private JsonObject Config(string socket) => new()
    {
        ["VirtualStack"] = new JsonObject
        {
            // The VNIC's queue absorbs VS being descheduled on this shared 2-core machine (0.8 s at 20,000/s): a stall
            // then shows as a gap and a delay in the results, not as loss.
            ["Tun"] = new JsonObject { ["Name"] = "vsd0", ["Address"] = "10.200.0.1/24", ["Capture"] = new JsonArray("10.201.0.0/24"), ["TxQueueLength"] = 16384 },
            ["Stacks"] = new JsonObject
            {
                ["udp"] = new JsonObject { ["Plugin"] = "Udp" },
                // SendQueue: what CCID 2's window holds back (slow start, a stalled far side) waits rather than drops (0.8 s).
                ["dccp"] = new JsonObject { ["Plugin"] = "Dccp", ["Ccid"] = 2, ["Mtu"] = PathMtu, ["SendQueue"] = 16384 },
                ["raw"] = new JsonObject { ["Plugin"] = "Raw" },
            },
            ["Rules"] = new JsonArray(
            new JsonObject
            {
                // The warm-up flow (DemoOptions.WarmUp): dccp only, to the same far side.
                ["Name"] = WarmUpRule,
                ["Match"] = new JsonObject { ["Protocol"] = "udp", ["DestinationPort"] = WarmUpPort },
                ["Stacks"] = new JsonArray("dccp"),
                ["Nat"] = new JsonObject { ["dccp"] = $"{Server}:{DccpPort}" },
            },
            new JsonObject
            {
                ["Name"] = Rule,
                ["Match"] = new JsonObject { ["Protocol"] = "udp", ["DestinationPort"] = Port },
                ["Stacks"] = new JsonArray("udp", "dccp"),
                ["Policy"] = "TimedSwitch",
                ["PolicyOptions"] = new JsonObject { ["Period"] = TimeSpan.FromSeconds(options.PeriodSeconds).ToString("c", CultureInfo.InvariantCulture) },
                ["Nat"] = new JsonObject { ["udp"] = $"{Server}:{Port}", ["dccp"] = $"{Server}:{DccpPort}" },
            }),
            ["Default"] = "raw",
            ["Management"] = new JsonObject { ["Socket"] = socket },
        },
    };
}
