using System.Net;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// What <c>vs run</c> makes it also takes away: after it stops, the edge namespace's devices, addresses, rules and
/// routes (all tables, v4 and v6) are exactly what they were before it started. Bad configuration touches nothing.
/// Two instances with different TUN names in one namespace do not disturb each other.
/// </summary>
public sealed class LifecycleTests(ITestOutputHelper output) : IntegrationTest(output)
{
    [SkippableTheory]
    [InlineData(LibC.SigTerm)]
    [InlineData(LibC.SigInt)]
    public async Task After_vs_stops_no_device_address_route_or_rule_it_made_remains(int signal)
    {
        Requires.Tools("socat", "ping");
        await using var topology = await TopologyAsync();
        var echo = await Apps.UdpEchoServerAsync(topology, topology.Main.ServerV4, 5000);
        var pristine = await topology.SnapshotAsync(topology.Edge);
        var config = new VsConfig();
        config.Rules.Add(VsRule.Udp("echo5000", 5000));
        await using var vs = await VsInstance.StartAsync(topology, config);

        var running = await topology.SnapshotAsync(topology.Edge);
        Assert.True(await LinkCounters.ExistsAsync(topology.Edge, "vs0"), $"no vs0 while vs runs.\n{running}");
        Assert.NotEqual(pristine, running);
        await UdpStackTests.AssertEchoThroughVsAsync(topology, vs, echo, new IPEndPoint(topology.Main.ServerV4, 5000), topology.Main.EdgeV4);
        Apps.AssertAllReplies(await Apps.PingAsync(topology, topology.Edge, topology.Main.ServerV4, 2), 2);

        await vs.StopAsync(signal);
        Assert.Equal(pristine, await topology.SnapshotAsync(topology.Edge));
        Assert.False(File.Exists(vs.ManagementSocket), $"the management socket {vs.ManagementSocket} was left behind");
    }

    [SkippableTheory]
    [InlineData("VirtualStack:Stacks:udp:Plugin=NoSuchPlugin", "Stacks:udp:Plugin")]
    [InlineData("VirtualStack:Tun:Mtu=not-a-number", "Mtu")]
    [InlineData("VirtualStack:Default=nowhere", "Default")]
    public async Task Bad_configuration_exits_2_naming_the_key_and_touches_nothing(string @override, string named)
    {
        await using var topology = await TopologyAsync();
        var pristine = await topology.SnapshotAsync(topology.Edge);
        var config = new VsConfig { ManagementSocket = Path.Combine(Path.GetTempPath(), $"vs-integ-{topology.Id}-bad.sock") };
        var file = Path.Combine(Path.GetTempPath(), $"vs-integ-{topology.Id}-bad.json");
        await File.WriteAllTextAsync(file, config.ToJson().ToJsonString());
        try
        {
            var r = await VsInstance.RunCommandAsync(topology.Edge, "run", "--config", file, $"--{@override}");
            Assert.True(r.ExitCode == 2, $"expected exit 2 for --{@override}: {r}");
            Assert.Contains(named, r.StdErr + r.StdOut, StringComparison.Ordinal);
            Assert.Equal(pristine, await topology.SnapshotAsync(topology.Edge));
            Assert.False(File.Exists(config.ManagementSocket));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [SkippableFact]
    public async Task Command_line_overrides_win_over_the_configuration_file()
    {
        await using var topology = await TopologyAsync();
        await using var vs = await VsInstance.StartAsync(topology, new VsConfig(), "--VirtualStack:Tun:Name=vsover0");

        Assert.True(await LinkCounters.ExistsAsync(topology.Edge, "vsover0"), vs.Process.Output());
        Assert.False(await LinkCounters.ExistsAsync(topology.Edge, "vs0"), "vs0 was made although the override renamed it");
        await vs.StopAsync();
    }

    [SkippableFact]
    public async Task Two_instances_with_different_tun_names_do_not_disturb_each_other()
    {
        Requires.Tools("socat", "ping");
        await using var topology = await TopologyAsync(paths: 2);
        var second = topology.Paths[1];
        await topology.AddServerRouteAsync("10.200.1.0/24", second);
        await topology.AddServerRouteAsync("fd00:200:1::/64", second);
        var echoA = await Apps.UdpEchoServerAsync(topology, topology.Main.ServerV4, 5000);
        var echoB = await Apps.UdpEchoServerAsync(topology, second.ServerV4, 5000);
        var pristine = await topology.SnapshotAsync(topology.Edge);

        var configA = new VsConfig();
        configA.Rules.Add(VsRule.Udp("echo5000", 5000));
        await using var a = await VsInstance.StartAsync(topology, configA);
        var onlyA = await topology.SnapshotAsync(topology.Edge);

        var configB = new VsConfig { TunName = "vs1", Address = "10.200.1.1/24", Address6 = "fd00:200:1::1/64" };
        configB.Capture.Clear();
        configB.Capture.AddRange([second.CaptureV4, second.CaptureV6]);
        configB.Rules.Add(VsRule.Udp("echo5000", 5000));
        await using var b = await VsInstance.StartAsync(topology, configB);

        var toA = new IPEndPoint(topology.Main.ServerV4, 5000);
        var toB = new IPEndPoint(second.ServerV4, 5000);
        await UdpStackTests.AssertEchoThroughVsAsync(topology, a, echoA, toA, topology.Main.EdgeV4, "to-a");
        await UdpStackTests.AssertEchoThroughVsAsync(topology, b, echoB, toB, second.EdgeV4, "to-b");
        Apps.AssertAllReplies(await Apps.PingAsync(topology, topology.Edge, topology.Main.ServerV4, 2), 2);
        Apps.AssertAllReplies(await Apps.PingAsync(topology, topology.Edge, second.ServerV4, 2), 2);

        // B goes; A keeps working and finds everything of its own where it was.
        await b.StopAsync();
        Assert.Equal(onlyA, await topology.SnapshotAsync(topology.Edge));
        await UdpStackTests.AssertEchoThroughVsAsync(topology, a, echoA, toA, topology.Main.EdgeV4, "a-again");

        await a.StopAsync();
        Assert.Equal(pristine, await topology.SnapshotAsync(topology.Edge));
    }
}
