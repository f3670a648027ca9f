using System.Net;
using System.Text.RegularExpressions;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>An unchanged UDP client (socat) talks to an unchanged UDP server through VS's udp stack.</summary>
public sealed partial class UdpStackTests(ITestOutputHelper output) : IntegrationTest(output)
{
    [SkippableFact]
    public async Task Udp_request_gets_its_response_through_the_udp_stack()
    {
        Requires.Tools("socat");
        await using var topology = await TopologyAsync();
        var server = await Apps.UdpEchoServerAsync(topology, topology.Main.ServerV4, 5000);
        var config = new VsConfig();
        config.Rules.Add(VsRule.Udp("echo5000", 5000));
        await using var vs = await VsInstance.StartAsync(topology, config);

        await AssertEchoThroughVsAsync(topology, vs, server, new IPEndPoint(topology.Main.ServerV4, 5000), topology.Main.EdgeV4);
        await vs.StopAsync();
    }

    [SkippableFact]
    public async Task Udp_over_ipv6_gets_its_response_through_the_udp_stack()
    {
        Requires.Tools("socat");
        await using var topology = await TopologyAsync();
        var server = await Apps.UdpEchoServerAsync(topology, topology.Main.ServerV6, 5006);
        var config = new VsConfig();
        config.Rules.Add(VsRule.Udp("echo5006", 5006));
        await using var vs = await VsInstance.StartAsync(topology, config);

        await AssertEchoThroughVsAsync(topology, vs, server, new IPEndPoint(topology.Main.ServerV6, 5006), topology.Main.EdgeV6);
        await vs.StopAsync();
    }

    /// <summary>
    /// One request/response that must have gone through VS: the app sees the reply from the address it sent to,
    /// the server saw it come from VS's own socket on the veth (the udp stack, not the app's packet forwarded
    /// raw from the TUN address), and the TUN counters show the request going into VS and the reply coming out.
    /// </summary>
    internal static async Task AssertEchoThroughVsAsync(
        NetnsTopology topology, VsInstance vs, NsProcess server, IPEndPoint to, IPAddress vsSocketAddress, string message = "hello-through-vs")
    {
        var before = await LinkCounters.ReadAsync(topology.Edge, vs.Config.TunName);
        var reply = await Apps.UdpRequestAsync(topology, to, message);
        var after = await LinkCounters.ReadAsync(topology.Edge, vs.Config.TunName);
        var context = $"{reply}\n{vs.Process.Output()}\n{server.Output()}";

        Assert.True(reply.Ok, context);
        Assert.True(message == reply.StdOut.Trim(), $"expected the echo '{message}', got '{reply.StdOut.Trim()}'.\n{context}");
        Assert.Equal([to], Apps.SocatPeers(reply.StdErr));
        Assert.True(after.TxPackets - before.TxPackets >= 1, $"the request never entered {vs.Config.TunName}: {before} -> {after}\n{context}");
        Assert.True(after.RxPackets - before.RxPackets >= 1, $"VS wrote no reply into {vs.Config.TunName}: {before} -> {after}\n{context}");
        var seenFrom = server.StdErr.Where(l => l.Contains("receiving packet from", StringComparison.Ordinal)).ToList();
        Assert.True(seenFrom.Count > 0 && seenFrom.All(l => Mentions(l, vsSocketAddress)),
            $"the server should see VS's socket at {vsSocketAddress}, saw: {string.Join(" | ", seenFrom)}");
    }

    /// <summary>Whether socat's log line names <paramref name="address"/> as the peer ("... from AF=2 A:P ...";
    /// it prints IPv6 in full, bracketed).</summary>
    internal static bool Mentions(string socatLine, IPAddress address)
    {
        var match = PeerInLog().Match(socatLine);
        return match.Success && IPEndPoint.TryParse(match.Groups[1].Value, out var endpoint) && endpoint.Address.Equals(address);
    }

    [GeneratedRegex(@"from AF=\d+ (\S+)")]
    private static partial Regex PeerInLog();
}
