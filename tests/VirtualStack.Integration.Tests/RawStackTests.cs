using System.Net;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// Traffic no rule claims goes to the Default stack, raw: the application's packets leave unchanged (source = the
/// TUN address), and the replies come straight back to it because the server routes the VNIC prefix to the edge.
/// </summary>
public sealed class RawStackTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const int Pings = 5;

    [SkippableFact]
    public async Task Ping_gets_every_reply_over_the_raw_stack()
    {
        Requires.Tools("ping");
        await using var topology = await TopologyAsync();
        await using var vs = await VsInstance.StartAsync(topology, new VsConfig());

        var before = await LinkCounters.ReadAsync(topology.Edge, "vs0");
        var ping = await Apps.PingAsync(topology, topology.Edge, topology.Main.ServerV4, Pings);
        var after = await LinkCounters.ReadAsync(topology.Edge, "vs0");

        Assert.True(ping.Ok && ping.StdOut.Contains($"{Pings} packets transmitted, {Pings} received", StringComparison.Ordinal),
            $"{ping}\n{vs.Process.Output()}");
        Assert.Contains("from 10.201.0.2", ping.StdOut, StringComparison.Ordinal);
        Assert.True(after.TxPackets - before.TxPackets >= Pings, $"the echo requests did not go into vs0: {before} -> {after}");
        await vs.StopAsync();
    }

    [SkippableFact]
    public async Task Ping_over_ipv6_gets_every_reply_over_the_raw_stack()
    {
        Requires.Tools("ping");
        await using var topology = await TopologyAsync();
        await using var vs = await VsInstance.StartAsync(topology, new VsConfig());

        var before = await LinkCounters.ReadAsync(topology.Edge, "vs0");
        var ping = await Apps.PingAsync(topology, topology.Edge, topology.Main.ServerV6, Pings);
        var after = await LinkCounters.ReadAsync(topology.Edge, "vs0");

        Assert.True(ping.Ok && ping.StdOut.Contains($"{Pings} packets transmitted, {Pings} received", StringComparison.Ordinal),
            $"{ping}\n{vs.Process.Output()}");
        Assert.True(after.TxPackets - before.TxPackets >= Pings, $"the echo requests did not go into vs0: {before} -> {after}");
        await vs.StopAsync();
    }

    [SkippableFact]
    public async Task Tcp_exchange_of_an_unchanged_program_works_over_the_raw_stack()
    {
        Requires.Tools("socat");
        await using var topology = await TopologyAsync();
        var server = await Apps.TcpEchoServerAsync(topology, topology.Main.ServerV4, 6000);
        await using var vs = await VsInstance.StartAsync(topology, new VsConfig());

        var data = TopologyTests.TcpPayload(64 * 1024);
        var before = await LinkCounters.ReadAsync(topology.Edge, "vs0");
        var tcp = await Apps.TcpExchangeAsync(topology, new IPEndPoint(topology.Main.ServerV4, 6000), data);
        var after = await LinkCounters.ReadAsync(topology.Edge, "vs0");

        Assert.True(tcp.Ok, $"{tcp}\n{vs.Process.Output()}\n{server.Output()}");
        Assert.True(data == tcp.StdOut, $"the echo differs: sent {data.Length} chars, got {tcp.StdOut.Length}.\n{vs.Process.Output()}");
        // Raw means unchanged: the server saw the application's own address, the TUN's.
        var accepted = server.StdErr.Where(l => l.Contains("accepting connection from", StringComparison.Ordinal)).ToList();
        Assert.True(accepted.Count == 1 && UdpStackTests.Mentions(accepted[0], IPAddress.Parse("10.200.0.1")),
            $"expected one connection from 10.200.0.1, saw: {string.Join(" | ", accepted)}");
        // 64 KiB in 1500-byte segments: dozens of packets went into VS.
        Assert.True(after.TxPackets - before.TxPackets >= 40, $"the segments did not go into vs0: {before} -> {after}");
        await vs.StopAsync();
    }
}
