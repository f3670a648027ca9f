using System.Text.Json;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// MeasurementDriven acting on what a stack itself reports, with no controller and no vs measure: the Dccp stack
/// reports each connection's congestion window (and RTT, loss) once a second; a threshold the real window cannot
/// reach makes the policy move the flow from dccp (preferred, first in the rule) to udp, losing nothing on the way.
/// </summary>
public sealed class StackMeasurementTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const int DccpPort = 9320;
    private const int Rate = 1000;

    [SkippableFact]
    public async Task A_stacks_own_measurement_crossing_a_threshold_moves_the_flow_without_loss()
    {
        await using var topology = await TopologyAsync();
        await SwitchStream.StartDccpFarEndAsync(topology, DccpPort, Log);

        // dccp first (preferred while healthy) to the listener in front of server B; udp to server A.
        var rule = new VsRule("stream", "udp", SwitchStream.AppPort, ["dccp", "udp"],
            new Dictionary<string, string> { ["dccp"] = $"{topology.Main.ServerV4}:{DccpPort}", ["udp"] = $"{topology.Main.ServerV4}:{SwitchStream.PortA}" },
            "MeasurementDriven", new Dictionary<string, string> { ["MinCwnd"] = "1000000" });
        VsConfig config = SwitchStream.UdpDccpConfig(8192, rule);
        await using var vs = await VsInstance.StartAsync(topology, config);
        await using var stream = SwitchStream.Open(topology);

        // The flow's first datagram starts the DCCP handshake; a new flow has no stack to stay on meanwhile, so VS
        // holds it and sends it once the connection is up. Then 4 s of stream: the window is sampled once a second
        // and can never reach the threshold.
        await stream.SendAsync(1, Rate);
        await Task.Delay(500);
        await stream.SendAsync(4 * Rate, Rate);
        await stream.SettleAsync(TimeSpan.FromSeconds(5));
        (char[] where, int changes) = stream.Route();
        string route = new(where);
        Log($"sent {stream.Sent}: udp (A) {stream.AtA.Count}, dccp (B) {stream.AtB.Count}, changes {changes}");

        using JsonDocument flows = await SwitchStream.JsonAsync(vs, "flows");
        JsonElement flow = flows.RootElement.EnumerateArray().Single(f => f.GetProperty("rule").GetString() == "stream");
        using JsonDocument status = await SwitchStream.JsonAsync(vs, "status");
        string state = status.RootElement.GetProperty("rules")[0].GetProperty("state").GetString()!;
        Log($"state: {state}; flow on {flow.GetProperty("stack")}");

        Assert.Equal("udp", flow.GetProperty("stack").GetString());
        // The first datagram, held while the flow's first stack was built, was not dropped.
        Assert.False(flow.TryGetProperty("drops", out JsonElement drops) && drops.ValueKind == JsonValueKind.Object
            && drops.TryGetProperty("stack_not_ready", out JsonElement notReady) && notReady.GetInt64() > 0, $"drops: {flow}");
        Assert.True(status.RootElement.GetProperty("held").GetInt64() >= 1, "the first datagram was not held");
        Assert.Contains("1 flow(s) with their own choice", state, StringComparison.Ordinal);
        // Everything arrived exactly once, first on dccp (B), then on udp (A), in order.
        string counted = route;
        Assert.DoesNotContain('-', counted);
        Assert.DoesNotContain('2', counted);
        Assert.Matches("^B+A+$", counted);
        Assert.True(changes == 1, $"one move, got {changes}: {route}");
        Assert.Equal(stream.AtA.Order(), stream.AtA);
        Assert.Equal(stream.AtB.Order(), stream.AtB);
        await vs.StopAsync();
    }
}
