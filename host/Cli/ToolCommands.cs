using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualStack.Contracts.Net;
using VirtualStack.Host.Tools;

namespace VirtualStack.Host.Cli;

/// <summary>
/// <c>vs udp-gen</c> and <c>vs udp-count</c>: the traffic generator and counting server that the benchmarks and the
/// demo run as separate processes (in their own namespaces), usable on their own too.
/// </summary>
internal static class ToolCommands
{
    public const string GenHelp = """
        Usage: vs udp-gen --to HOST:PORT [--size BYTES] [--seconds S] [--count N] [--rate PPS [--catch-up-ms MS]] [--source-port P]
                          [--flows N [--ports K]] [--mark M] [--json]

        Sends UDP datagrams from an ordinary socket, 64 per sendmmsg: IP packets of --size bytes (default 1500),
        each payload a 16-byte header (sequence number, send time in Unix ns) and random bytes; for --seconds
        (default 5) or --count datagrams, as fast as possible or at --rate packets per second.
          --catch-up-ms  with --rate: a generator descheduled for longer than MS skips what it missed beyond MS
                         instead of sending it at full speed (default: it catches up all the way)
          --source-port  bind the (first) socket to this port instead of one the kernel picks
          --mark M       SO_MARK of the sockets (decimal or 0x hex; root): VS's own mark takes the kernel-only path
                         around a running VS, as the benchmarks do
          --flows N      play N flows instead of one, one datagram each in turn: flow i goes from socket i / K
                         (source port P + i / K with --source-port) to port PORT + i % K, K = --ports (default 1);
                         without --count, one round (N datagrams); at most 16384 sockets
        Prints what it sent.
        """;

    public const string CountHelp = """
        Usage: vs udp-count --port P [--ports K] [--bind ADDRESS] [--seconds S] [--bucket-ms MS] [--warmup-ms MS]
                            [--echo] [--arrivals FILE] [--json]

        Receives UDP datagrams and counts packets, bytes, loss and reordering (from udp-gen sequence numbers) and
        packets per --bucket-ms (default 10) on the wall clock, until --seconds pass (default: until SIGINT/SIGTERM).
        Records each datagram's one-way latency from the send time udp-gen wrote into it (same machine, same
        clock; p50/p99/p99.9 within 0.8 %), leaving out the first --warmup-ms (default 0) after the first datagram.
        --ports K listens on K consecutive ports from P (one socket each). --echo sends every datagram back.
        --arrivals FILE writes every datagram's sequence number and arrival time (Unix ns) to FILE, as pairs of
        little-endian 64-bit integers (the demo measures a switch's gap and losses from them).
        Prints "listening" once bound, the summary at the end.
        """;

    public static int Generate(ParsedArguments args)
    {
        string to = args.Option("to") ?? throw new UsageException("--to HOST:PORT is required");
        if (!NetEndpoint.TryParse(to, out NetEndpoint target))
        {
            throw new UsageException($"--to: '{to}' is not HOST:PORT (an IP address and a port)");
        }

        int flows = args.Int("flows", 0, 1, int.MaxValue);
        int ports = args.Int("ports", 1, 1, 65535);
        int sourcePort = args.Int("source-port", 0, 1, 65535);
        if (flows == 0 && args.Option("ports") is not null)
        {
            throw new UsageException("--ports: spreads --flows over ports, give --flows too");
        }

        if (target.Port + ports - 1 > 65535)
        {
            throw new UsageException($"--ports: {ports} ports from {target.Port} go past 65535");
        }

        var generator = new UdpGenerator
        {
            Target = target,
            PacketSize = args.Int("size", 1500, 64, 65535),
            // With --flows and no --seconds, the count ends the run (one round by default).
            Duration = TimeSpan.FromSeconds(args.Int("seconds", flows > 0 ? 86400 : 5, 1, 86400)),
            Count = args.Option("count") is not null ? args.Int("count", 0, 1, int.MaxValue) : flows > 0 ? flows : long.MaxValue,
            Rate = args.Int("rate", 0, 0, int.MaxValue),
            CatchUpMs = args.Int("catch-up-ms", 0, 0, 3_600_000),
            Flows = flows,
            Ports = ports,
            SourcePort = sourcePort,
            SocketMark = Mark(args.Option("mark")),
        };
        if (generator.SocketCount > UdpGenerator.MaxSockets)
        {
            throw new UsageException($"--flows: {flows} flows over {ports} port(s) need {generator.SocketCount} sockets, more than {UdpGenerator.MaxSockets}: raise --ports");
        }

        if (sourcePort != 0 && sourcePort + generator.SocketCount - 1 > 65535)
        {
            throw new UsageException($"--source-port: {generator.SocketCount} sockets from port {sourcePort} go past 65535");
        }
        bool json = args.Flag("json");
        args.RejectUnknown();

        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        GeneratorResult result = generator.Run(stop.Token);
        if (json)
        {
            Console.Out.WriteLine(new JsonObject
            {
                ["sent"] = result.Sent,
                ["errors"] = result.Errors,
                ["seconds"] = Math.Round(result.Elapsed.TotalSeconds, 3),
                ["size"] = result.PacketSize,
                ["pps"] = Math.Round(result.PacketsPerSecond),
                ["gbps"] = Math.Round(result.Gbps, 3),
            }.ToJsonString());
        }
        else
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"sent {result.Sent} datagrams of {result.PacketSize} bytes in {result.Elapsed.TotalSeconds:F2} s: {result.PacketsPerSecond:F0} pps, {result.Gbps:F3} Gbit/s ({result.Errors} send errors)"));
        }

        return 0;
    }

    public static int Count(ParsedArguments args)
    {
        int port = args.Int("port", 0, 1, 65535);
        if (port == 0)
        {
            throw new UsageException("--port is required");
        }

        string bind = args.Option("bind") ?? "0.0.0.0";
        if (!NetAddress.TryParse(bind, out NetAddress address))
        {
            throw new UsageException($"--bind: '{bind}' is not an IP address");
        }

        int seconds = args.Int("seconds", 0, 0, 86400);
        int ports = args.Int("ports", 1, 1, UdpGenerator.MaxSockets);
        if (port + ports - 1 > 65535)
        {
            throw new UsageException($"--ports: {ports} ports from {port} go past 65535");
        }

        var counter = new UdpCounter
        {
            Bind = new NetEndpoint(address, (ushort)port),
            Ports = ports,
            BucketMs = args.Int("bucket-ms", 10, 1, 60_000),
            WarmupMs = args.Int("warmup-ms", 0, 0, 3_600_000),
            Echo = args.Flag("echo"),
            ArrivalsPath = args.Option("arrivals"),
        };
        bool json = args.Flag("json");
        args.RejectUnknown();

        using var stop = seconds > 0 ? new CancellationTokenSource(TimeSpan.FromSeconds(seconds)) : new CancellationTokenSource();
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        CounterResult result = counter.Run(stop.Token, () =>
        {
            Console.Out.WriteLine(ports == 1 ? $"listening on {counter.Bind}" : $"listening on {counter.Bind} and the next {ports - 1} ports");
            Console.Out.Flush();
        });

        if (json)
        {
            var buckets = new JsonArray();
            foreach (KeyValuePair<long, long> bucket in result.Buckets.OrderBy(b => b.Key))
            {
                buckets.Add(new JsonArray(bucket.Key, bucket.Value));
            }

            Console.Out.WriteLine(new JsonObject
            {
                ["packets"] = result.Packets,
                ["bytes"] = result.Bytes,
                ["max_sequence"] = result.MaxSequence,
                ["lost"] = Math.Max(0, result.MaxSequence - result.Packets),
                ["reordered"] = result.Reordered,
                ["first_ms"] = result.FirstMs,
                ["last_ms"] = result.LastMs,
                ["active_s"] = Math.Round(result.ActiveSeconds, 6),
                ["latency"] = LatencyJson(result.Latency),
                ["bucket_ms"] = result.BucketMs,
                ["buckets"] = buckets,
            }.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
        }
        else
        {
            Console.Out.WriteLine(
                $"received {result.Packets} datagrams, {result.Bytes} bytes; lost {Math.Max(0, result.MaxSequence - result.Packets)}, reordered {result.Reordered}");
            LatencyHistogram latency = result.Latency;
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"one-way latency (us, {latency.Count} samples): p50 {latency.Percentile(0.5) / 1e3:F1}  p99 {latency.Percentile(0.99) / 1e3:F1}  p99.9 {latency.Percentile(0.999) / 1e3:F1}  max {latency.Max / 1e3:F1}"));
        }

        return 0;
    }

    private static int Mark(string? text)
    {
        if (text is null)
        {
            return 0;
        }

        bool hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        return uint.TryParse(hex ? text[2..] : text, hex ? NumberStyles.HexNumber : NumberStyles.None, CultureInfo.InvariantCulture, out uint mark)
            ? unchecked((int)mark)
            : throw new UsageException($"--mark: '{text}' is not a 32-bit number (decimal or 0x hex)");
    }

    /// <summary>The latency object of <c>udp-count --json</c> (microseconds; README "Benchmark JSON").</summary>
    public static JsonObject LatencyJson(LatencyHistogram latency) => new()
    {
        ["samples"] = latency.Count,
        ["negative"] = latency.Negative,
        ["min_us"] = Us(latency.Count > 0 ? latency.Min : 0),
        ["mean_us"] = Math.Round(latency.Mean / 1e3, 3),
        ["p50_us"] = Us(latency.Percentile(0.50)),
        ["p90_us"] = Us(latency.Percentile(0.90)),
        ["p99_us"] = Us(latency.Percentile(0.99)),
        ["p999_us"] = Us(latency.Percentile(0.999)),
        ["max_us"] = Us(latency.Max),
    };

    private static double Us(long nanoseconds) => Math.Round(nanoseconds / 1e3, 3);
}
