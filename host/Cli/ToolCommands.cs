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
        Usage: vs udp-gen --to HOST:PORT [--size BYTES] [--seconds S] [--count N] [--rate PPS] [--json]

        Sends UDP datagrams from an ordinary socket, 64 per sendmmsg: IP packets of --size bytes (default 1500),
        each payload a 16-byte header (sequence number, send time) and random bytes; for --seconds (default 5) or
        --count datagrams, as fast as possible or at --rate packets per second. Prints what it sent.
        """;

    public const string CountHelp = """
        Usage: vs udp-count --port P [--bind ADDRESS] [--seconds S] [--bucket-ms MS] [--echo] [--json]

        Receives UDP datagrams and counts packets, bytes, loss and reordering (from udp-gen sequence numbers) and
        packets per --bucket-ms (default 10) on the wall clock, until --seconds pass (default: until SIGINT/SIGTERM).
        --echo sends every datagram back. Prints "listening" once bound, the summary at the end.
        """;

    public static int Generate(ParsedArguments args)
    {
        string to = args.Option("to") ?? throw new UsageException("--to HOST:PORT is required");
        if (!NetEndpoint.TryParse(to, out NetEndpoint target))
        {
            throw new UsageException($"--to: '{to}' is not HOST:PORT (an IP address and a port)");
        }

        var generator = new UdpGenerator
        {
            Target = target,
            PacketSize = args.Int("size", 1500, 64, 65535),
            Duration = TimeSpan.FromSeconds(args.Int("seconds", 5, 1, 86400)),
            Count = args.Option("count") is null ? long.MaxValue : args.Int("count", 0, 1, int.MaxValue),
            Rate = args.Int("rate", 0, 0, int.MaxValue),
        };
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
        var counter = new UdpCounter
        {
            Bind = new NetEndpoint(address, (ushort)port),
            BucketMs = args.Int("bucket-ms", 10, 1, 60_000),
            Echo = args.Flag("echo"),
        };
        bool json = args.Flag("json");
        args.RejectUnknown();

        using var stop = seconds > 0 ? new CancellationTokenSource(TimeSpan.FromSeconds(seconds)) : new CancellationTokenSource();
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        CounterResult result = counter.Run(stop.Token, () =>
        {
            Console.Out.WriteLine($"listening on {counter.Bind}");
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
                ["bucket_ms"] = result.BucketMs,
                ["buckets"] = buckets,
            }.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
        }
        else
        {
            Console.Out.WriteLine(
                $"received {result.Packets} datagrams, {result.Bytes} bytes; lost {Math.Max(0, result.MaxSequence - result.Packets)}, reordered {result.Reordered}");
        }

        return 0;
    }
}
