using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualStack.Host.Bench;

namespace VirtualStack.Host.Cli;

/// <summary><c>vs bench throughput</c> (switch, latency and flows come with later work).</summary>
internal static class BenchCommand
{
    public const string Help = """
        Usage: vs bench throughput [--size 1500|64|BYTES] [--seconds S] [--stack udp|raw] [--json FILE]

        Measures UDP through VirtualStack side by side with the kernel-only path, in one run, on a private
        topology in network namespaces (built and removed by the benchmark). Needs root.
          --size     IP packet size in bytes (default 1500)
          --seconds  length of each measurement (default 5)
          --stack    the stack that carries the flow (default udp)
          --json     also write the result as JSON (format in the README)
        Reports packets/s, Gbit/s at the IP level, loss, VS CPU (cores), managed bytes allocated per packet,
        and the ratio VS / kernel.
        """;

    public static async Task<int> RunAsync(ParsedArguments args)
    {
        string kind = args.Positional.Count > 0 ? args.Positional[0] : throw new UsageException("name a benchmark: vs bench throughput");
        if (kind != "throughput")
        {
            throw new UsageException($"unknown benchmark '{kind}' (available: throughput)");
        }

        int size = args.Int("size", 1500, 64, 9000);
        int seconds = args.Int("seconds", 5, 1, 3600);
        string stack = (args.Option("stack") ?? "udp").ToLowerInvariant();
        if (stack is not ("udp" or "raw"))
        {
            throw new UsageException($"--stack: '{stack}' is not available (udp, raw)");
        }

        string? jsonFile = args.Option("json");
        args.RejectUnknown(maxPositional: 1);
        if (Tmds.Linux.LibC.geteuid() != 0)
        {
            ConsoleLog.Write("vs bench needs root (it builds network namespaces and runs vs run)");
            return 1;
        }

        string vs = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the vs executable");
        JsonObject result = await new ThroughputBench(vs, size, seconds, stack, ConsoleLog.Write).RunAsync();

        var table = new TableWriter("PATH", "PACKETS/S", "GBIT/S", "LOST", "CPU", "ALLOC B/PKT");
        JsonObject direct = result["direct"]!.AsObject();
        JsonObject through = result["vs"]!.AsObject();
        table.Add("kernel only", direct["pps"], direct["gbps"], direct["lost"], "-", "-");
        table.Add($"VirtualStack ({stack})", through["pps"], through["gbps"], through["lost"], through["cpu"], through["alloc_bytes_per_packet"]);
        table.WriteTo(Console.Out);
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ratio VS / kernel: {result["ratio"]}  ({size}-byte packets, {seconds} s each)"));
        if (jsonFile is not null)
        {
            await File.WriteAllTextAsync(jsonFile, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }

        return 0;
    }
}
