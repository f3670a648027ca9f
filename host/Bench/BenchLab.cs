using System.Globalization;
using System.Text.Json.Nodes;
using VirtualStack.Host.Lab;

namespace VirtualStack.Host.Bench;

/// <summary>Which way the benchmark traffic goes.</summary>
internal enum BenchPath
{
    /// <summary>Kernel only: edge -> veth -> server, VS not involved (a marked socket bypasses a running VS).</summary>
    Direct,

    /// <summary>Edge -> VNIC -> VS -> stack -> veth -> server.</summary>
    ThroughVs,
}

/// <summary>
/// The shared machinery of the <c>vs bench</c> measurements: a private lab (design.md §6), VS daemons started in its
/// edge namespace, and generator/counter pairs placed as shared/perf places them. Kernel only: sender on CPU 0,
/// receiver on CPU 1. Through VS: VS on CPU 1, receiver on CPU 0 and the sender beside it at nice 19 (a sender
/// writing into a TUN never blocks, so at equal priority it would starve the receiver and measure itself).
/// </summary>
/// <remarks>
/// VS's socket mark is fixed here (<see cref="Mark"/>) and the kernel-only generator carries it, so the direct path
/// can be measured while VS runs, interleaved with the runs through VS, instead of only before it starts.
/// </remarks>
internal sealed class BenchLab : IDisposable
{
    /// <summary>SO_MARK of VS's own sockets in every benchmark configuration; marked traffic bypasses the VNIC.</summary>
    public const string Mark = "0x56530b01";

    private const string TunName = "vsb0";

    private readonly string _vs;
    private readonly Action<string> _log;
    private readonly List<string> _configs = [];

    private BenchLab(string vs, LabTopology lab, Action<string> log)
    {
        _vs = vs;
        Lab = lab;
        _log = log;
    }

    public LabTopology Lab { get; }

    /// <summary>The server's address on path 1.</summary>
    public static string Server => LabTopology.ServerAddress(1);

    public string SocketPath => $"/run/virtualstack/{Lab.Edge}.sock";

    public static BenchLab Create(string vs, string tag, Action<string> log) => new(vs, LabTopology.Create(tag, paths: 1, log), log);

    /// <summary>
    /// Starts <c>vs run</c> on CPU 1 with <paramref name="stacks"/>, <paramref name="rules"/> and optional
    /// <paramref name="flows"/> settings (the VNIC, capture, mark, default raw stack and socket are the bench's own).
    /// </summary>
    public async Task<BenchDaemon> StartVsAsync(JsonObject stacks, JsonArray rules, JsonObject? flows = null)
    {
        stacks["raw"] ??= new JsonObject { ["Plugin"] = "Raw" };
        var section = new JsonObject
        {
            ["Tun"] = new JsonObject
            {
                ["Name"] = TunName,
                ["Address"] = "10.200.0.1/24",
                ["Capture"] = new JsonArray("10.201.0.0/24"),
                ["Mark"] = Mark,
                ["Table"] = Mark,
            },
            ["Stacks"] = stacks,
            ["Rules"] = rules,
            ["Default"] = "raw",
            ["Management"] = new JsonObject { ["Socket"] = SocketPath },
        };
        if (flows is not null)
        {
            section["Flows"] = flows;
        }

        string config = Path.Combine(Path.GetTempPath(), $"vs-bench-{Environment.ProcessId}.json");
        _configs.Add(config);
        await File.WriteAllTextAsync(config, new JsonObject { ["VirtualStack"] = section }.ToJsonString());
        LabProcess process = Lab.Start(Lab.Edge, _vs, ["run", "--config", config], cpu: 1);
        await process.WaitForLineAsync("vs: ready", TimeSpan.FromSeconds(30));
        return new BenchDaemon(process, SocketPath);
    }

    /// <summary>
    /// Starts <c>udp-count</c> in the server namespace with <paramref name="counterArguments"/>, then <c>udp-gen</c>
    /// to <paramref name="port"/> with <paramref name="generatorArguments"/>, waits for the generator, lets the
    /// last datagrams arrive, stops the counter and returns both JSON summaries.
    /// </summary>
    public async Task<Traffic> RunAsync(BenchPath path, int port, IEnumerable<string> generatorArguments, IEnumerable<string> counterArguments, TimeSpan timeout)
    {
        bool throughVs = path == BenchPath.ThroughVs;
        string portText = port.ToString(CultureInfo.InvariantCulture);
        LabProcess counter = Lab.Start(Lab.Server, _vs, ["udp-count", "--port", portText, "--json", .. counterArguments], cpu: throughVs ? 0 : 1);
        try
        {
            await counter.WaitForLineAsync("listening", TimeSpan.FromSeconds(20));
            List<string> generator = ["udp-gen", "--to", $"{Server}:{portText}", "--json", .. generatorArguments];
            if (!throughVs)
            {
                generator.AddRange(["--mark", Mark]);
            }

            LabProcess sender = Lab.Start(Lab.Edge, _vs, generator, cpu: 0, nice: throughVs ? 19 : 0);
            int exit = await sender.WaitAsync(timeout);
            if (exit != 0)
            {
                throw new InvalidOperationException($"{sender.Description} exited with {exit}: {sender.Errors}");
            }

            await Task.Delay(300); // the last datagrams still in flight
            await counter.StopAsync(TimeSpan.FromSeconds(5));
            return new Traffic(ParseLast(sender), ParseLast(counter));
        }
        finally
        {
            counter.Dispose();
        }
    }

    public void Log(string line) => _log(line);

    public void Dispose()
    {
        Lab.Dispose();
        File.Delete(SocketPath); // a daemon that had to be killed could not remove it
        foreach (string config in _configs)
        {
            File.Delete(config);
        }
    }

    public static long Value(JsonObject o, string key) => o[key]?.GetValue<long>() ?? 0;

    /// <summary>The 1, 5 and 15 minute load averages: a shared machine's figures mean little without them.</summary>
    public static JsonArray LoadAverage()
    {
        try
        {
            string[] fields = File.ReadAllText("/proc/loadavg").Split(' ');
            return new JsonArray(
                double.Parse(fields[0], CultureInfo.InvariantCulture),
                double.Parse(fields[1], CultureInfo.InvariantCulture),
                double.Parse(fields[2], CultureInfo.InvariantCulture));
        }
        catch (IOException)
        {
            return [];
        }
    }

    private static JsonObject ParseLast(LabProcess process) =>
        JsonNode.Parse(process.Output.LastOrDefault(l => l.StartsWith('{')) ?? throw new InvalidOperationException($"{process.Description} printed no result: {process.Errors}"))!.AsObject();
}

/// <summary>What a generator sent and a counter received in one run.</summary>
internal sealed record Traffic(JsonObject Sent, JsonObject Received)
{
    public long SentPackets => BenchLab.Value(Sent, "sent");

    public long ReceivedPackets => BenchLab.Value(Received, "packets");

    public long Lost => Math.Max(0, SentPackets - ReceivedPackets);

    /// <summary>The generator's own run time.</summary>
    public double SendSeconds => Sent["seconds"]!.GetValue<double>();

    /// <summary>Seconds from the first to the last datagram at the server.</summary>
    public double ActiveSeconds => Received["active_s"]?.GetValue<double>() ?? 0;

    public JsonObject Latency => Received["latency"]!.AsObject();
}
