using System.Globalization;
using System.Text.Json;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// The point of VirtualStack, measured: a live stream whose stack changes every 200 ms (TimedSwitch between two
/// cached stacks that reach two servers) loses nothing, duplicates nothing, keeps order on each stack, and every
/// switch is timed. Two udp stacks (NAT to two ports); and udp with dccp, whose far side is a vs dccp listen that
/// hands the datagrams to the second server (the issue's experiment), when the Dccp plugin provides its stack.
/// </summary>
public sealed class TimedSwitchTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const int Rate = 2000;
    private const int Seconds = 10;
    private const int DccpPort = 9300;

    [SkippableFact]
    public async Task A_ten_second_stream_switched_every_200_ms_arrives_exactly_once_in_order_per_stack()
    {
        await using var topology = await TopologyAsync();
        VsConfig config = SwitchStream.Config(SwitchStream.Rule(topology, "TimedSwitch", Period));
        await RunAsync(topology, config, "udpA", "udpB", "switch-timings.txt");
    }

    [SkippableFact]
    public async Task A_ten_second_stream_switched_every_200_ms_between_udp_and_dccp_arrives_exactly_once_in_order_per_stack()
    {
        await using var topology = await TopologyAsync();
        var plugins = await VsInstance.RunCommandAsync(null, "plugins", "--json", "--path", VsExecutable.PluginsDirectory);
        Skip.IfNot(plugins.Ok && plugins.StdOut.Contains("stack Dccp", StringComparison.Ordinal), "the Dccp plugin provides no Dccp stack in this build");

        await SwitchStream.StartDccpFarEndAsync(topology, DccpPort, Log);
        VsConfig config = SwitchStream.UdpDccpConfig(Rate * Seconds,
            SwitchStream.Rule(topology, "TimedSwitch", Period, "udp", "dccp", $"{topology.Main.ServerV4}:{DccpPort}"));
        await RunAsync(topology, config, "udp", "dccp", "switch-timings-dccp.txt");
    }

    private static Dictionary<string, string> Period => new() { ["Period"] = "00:00:00.2" };

    private async Task RunAsync(NetnsTopology topology, VsConfig config, string stackA, string stackB, string resultFile)
    {
        // The VNIC's queue holds the whole stream: what is measured is the switching, not how long a busy 2-core CI
        // machine can deschedule the daemon. With the default 1000, a stall of about a second while other test
        // processes run (seen with Static too: no switch involved) overflows it and the kernel drops at the VNIC
        // (DiagnoseAsync shows it as "TX dropped" on vs0).
        await using var vs = await VsInstance.StartAsync(topology, config, $"--Tun:TxQueueLength={Rate * Seconds}");
        await using var stream = SwitchStream.Open(topology);

        await stream.SendAsync(Rate * Seconds, Rate);
        await stream.SettleAsync(TimeSpan.FromSeconds(5));

        (char[] where, int changes) = stream.Route();
        int[] lost = [.. Enumerable.Range(0, stream.Sent).Where(i => where[i] == '-')];
        int[] twice = [.. Enumerable.Range(0, stream.Sent).Where(i => where[i] == '2')];
        Log($"sent {stream.Sent}; server A ({stackA}) {stream.AtA.Count}, server B ({stackB}) {stream.AtB.Count}; {changes} changes of stack along the sequence");
        Assert.True(stream.Corrupt == 0, $"{stream.Corrupt} datagrams arrived changed");
        Assert.True(lost.Length == 0, $"{lost.Length} datagrams lost\n{await stream.DiagnoseAsync(topology, vs)}\n{vs.Process.Output()}");
        Assert.True(twice.Length == 0, $"{twice.Length} datagrams arrived twice (first: {string.Join(',', twice.Take(10))})");
        Assert.Equal(stream.Sent, stream.AtA.Count + stream.AtB.Count);
        Assert.True(stream.AtA.SequenceEqual(stream.AtA.Order()), "server A got datagrams out of order");
        Assert.True(stream.AtB.SequenceEqual(stream.AtB.Order()), "server B got datagrams out of order");
        // 10 s in periods of 200 ms: about 50 switches; fewer when the sender is descheduled for a whole period on a busy machine.
        Assert.InRange(changes, 25, 55);

        using JsonDocument flows = await SwitchStream.JsonAsync(vs, "flows");
        JsonElement flow = flows.RootElement.EnumerateArray().Single(f => f.GetProperty("rule").GetString() == "stream");
        long switches = flow.GetProperty("switches").GetInt64();
        JsonElement delays = flow.GetProperty("switch_delay_us");
        // Every switch moved at least the packet that triggered it: the servers saw exactly as many changes.
        Assert.Equal(changes, switches);
        Assert.Equal(switches, delays.GetProperty("count").GetInt64());
        JsonElement[] recent = [.. flow.GetProperty("recent_switches").EnumerateArray()];
        Assert.All(recent, r => Assert.True(r.GetProperty("cached").GetBoolean(), "after the first round every switch is to a cached stack"));

        using JsonDocument stacks = await SwitchStream.JsonAsync(vs, "stacks");
        var report = new List<string> { $"{stackA}<->{stackB}: switches {switches}; per-flow switch delay us: {Triple(delays)}" };
        foreach (JsonElement stack in stacks.RootElement.EnumerateArray().Where(s => s.GetProperty("name").GetString() is { } n && (n == stackA || n == stackB)))
        {
            report.Add($"stack {stack.GetProperty("name").GetString()}: first builds ms {Triple(stack.GetProperty("build_ms"))}; " +
                $"switch-in delays us {Triple(stack.GetProperty("switch_delay_us"))}");
        }

        foreach (string line in report)
        {
            Log(line);
        }

        // The figures for the record (the issue asks for them): a file beside the test results.
        string results = Environment.GetEnvironmentVariable("VS_TEST_RESULTS") ?? Path.GetTempPath();
        Directory.CreateDirectory(results);
        await File.WriteAllLinesAsync(Path.Combine(results, resultFile), report);
        await vs.StopAsync();
    }

    private static string Triple(JsonElement s) => string.Create(CultureInfo.InvariantCulture,
        $"n={s.GetProperty("count").GetInt64()} min {s.GetProperty("min").GetDouble()} median {s.GetProperty("median").GetDouble()} max {s.GetProperty("max").GetDouble()}");
}
