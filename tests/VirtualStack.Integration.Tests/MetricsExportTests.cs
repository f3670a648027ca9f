using System.Globalization;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// The "VirtualStack" meter as an outside tool sees it: dotnet-counters, a separate process attached to a running
/// <c>vs run</c> through the .NET diagnostics socket (as the README shows), collects the per-flow, per-stack, switch
/// and DCCP instruments while a stream switches between udp and dccp every 200 ms. dotnet-counters comes from NuGet:
/// found on PATH, in ~/.dotnet/tools or $DOTNET_COUNTERS, else installed into the artifacts folder; skipped when
/// none can be had.
/// </summary>
public sealed class MetricsExportTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const int DccpPort = 9310;
    private const int Rate = 1000;

    [SkippableFact]
    public async Task Dotnet_counters_sees_flow_stack_switch_and_dccp_instruments_of_a_running_vs()
    {
        await using var topology = await TopologyAsync();
        string counters = await FindOrInstallAsync();
        await SwitchStream.StartDccpFarEndAsync(topology, DccpPort, Log);
        VsConfig config = SwitchStream.UdpDccpConfig(8192, SwitchStream.Rule(topology, "TimedSwitch",
            new Dictionary<string, string> { ["Period"] = "00:00:00.2" }, "udp", "dccp", $"{topology.Main.ServerV4}:{DccpPort}"));
        await using var vs = await VsInstance.StartAsync(topology, config);
        await using var stream = SwitchStream.Open(topology);

        string csv = Path.Combine(Path.GetTempPath(), $"vs-counters-{topology.Id}.csv");
        try
        {
            Task<CmdResult> collect = Cmd.RunAsync(counters,
                ["collect", "-p", vs.Process.Pid.ToString(CultureInfo.InvariantCulture), "--counters", "VirtualStack", "--format", "csv", "-o", csv,
                    "--refresh-interval", "1", "--duration", "00:00:00:06"],
                TimeSpan.FromSeconds(60));
            await stream.SendAsync(6 * Rate, Rate);
            CmdResult result = await collect;
            Assert.True(result.Ok, result.ToString());
            string[] lines = File.Exists(csv) ? File.ReadAllLines(csv) : [];
            Log($"{lines.Length} lines from dotnet-counters, e.g.\n{string.Join('\n', lines.Take(5))}");

            bool Seen(string instrument, params string[] tags) =>
                lines.Any(l => l.Contains(instrument, StringComparison.Ordinal) && tags.All(t => l.Contains(t, StringComparison.Ordinal)));

            Assert.True(Seen("virtualstack.flow.packets", "rule=stream", "flow.id="), "per-flow packets");
            Assert.True(Seen("virtualstack.flow.switches", "rule=stream"), "per-flow switches");
            Assert.True(Seen("virtualstack.flow.stack", "rule=stream", "stack=dccp"), "the flow's current stack");
            Assert.True(Seen("virtualstack.stack.packets", "stack=udp", "direction=sent"), "per-stack packets (udp)");
            Assert.True(Seen("virtualstack.stack.packets", "stack=dccp", "direction=sent"), "per-stack packets (dccp)");
            Assert.True(Seen("virtualstack.drops", "reason="), "drops by reason");
            Assert.True(Seen("virtualstack.switch.delay", "cached=true"), "switch delays");
            Assert.True(Seen("virtualstack.flow.rtt", "stack=dccp"), "the DCCP connection's RTT");
            Assert.True(Seen("virtualstack.flow.cwnd", "stack=dccp"), "the DCCP connection's window");
            await vs.StopAsync();
        }
        finally
        {
            File.Delete(csv);
        }
    }

    /// <summary>dotnet-counters from PATH, ~/.dotnet/tools or $DOTNET_COUNTERS, else from NuGet into the artifacts folder.</summary>
    private async Task<string> FindOrInstallAsync()
    {
        string home = Environment.GetEnvironmentVariable("HOME") ?? "/root";
        string artifacts = Environment.GetEnvironmentVariable("ArtifactsPath") ?? Path.Combine(Path.GetTempPath(), "vs-tools");
        string toolPath = Path.Combine(artifacts, "tools");
        string?[] candidates =
        [
            Environment.GetEnvironmentVariable("DOTNET_COUNTERS"),
            Path.Combine(home, ".dotnet", "tools", "dotnet-counters"),
            Path.Combine(toolPath, "dotnet-counters"),
        ];
        foreach (string? candidate in candidates)
        {
            if (candidate is not null && File.Exists(candidate))
            {
                return candidate;
            }
        }

        if (Cmd.Exists("dotnet-counters"))
        {
            return "dotnet-counters";
        }

        CmdResult install = await Cmd.RunAsync("dotnet", ["tool", "install", "--tool-path", toolPath, "dotnet-counters"], TimeSpan.FromMinutes(3));
        Log($"installing dotnet-counters: {install}");
        Skip.IfNot(install.Ok && File.Exists(Path.Combine(toolPath, "dotnet-counters")), $"dotnet-counters is not installed and could not be installed from NuGet: {install.StdErr}");
        return Path.Combine(toolPath, "dotnet-counters");
    }
}
