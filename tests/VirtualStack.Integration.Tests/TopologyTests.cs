using System.Net;
using System.Net.Sockets;
using System.Text;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// The fixture proves itself without VS: if these fail, nothing else in this assembly means anything.
/// </summary>
public sealed class TopologyTests(ITestOutputHelper output) : IntegrationTest(output)
{
    [SkippableFact]
    public async Task Ping_crosses_the_veth_both_ways_without_vs()
    {
        Requires.Tools("ping");
        await using var topology = await TopologyAsync();

        Apps.AssertAllReplies(await Apps.PingAsync(topology, topology.Edge, topology.Main.ServerV4, 3), 3);
        Apps.AssertAllReplies(await Apps.PingAsync(topology, topology.Edge, topology.Main.ServerV6, 3), 3);
        Apps.AssertAllReplies(await Apps.PingAsync(topology, topology.Server, topology.Main.EdgeV4, 3), 3);

        // The server routes the VNIC prefixes back to the edge over path 1 (raw-stack replies depend on it).
        var v4 = await topology.ExecAsync(topology.Server, "ip", "route", "get", "10.200.0.7");
        Assert.Contains("via 10.201.0.1 dev to-edge1", v4.StdOut, StringComparison.Ordinal);
        var v6 = await topology.ExecAsync(topology.Server, "ip", "-6", "route", "get", "fd00:200::7");
        Assert.Contains("via fd00:201::1 dev to-edge1", v6.StdOut, StringComparison.Ordinal);

        foreach (var ns in new[] { topology.Edge, topology.Server })
        {
            var rp = await topology.ExecAsync(ns, "sysctl", "-n", "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter");
            Assert.Equal("0\n0\n", rp.StdOut);
            var lo = await topology.ExecAsync(ns, "ip", "-br", "link", "show", "lo");
            Assert.Contains("UNKNOWN", lo.StdOut, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public async Task Extra_paths_get_their_own_prefixes_and_names_are_unique()
    {
        Requires.Tools("ping");
        await using var first = await TopologyAsync(paths: 2);
        await using var second = await TopologyAsync();

        Assert.NotEqual(first.Edge, second.Edge);
        Assert.NotEqual(first.Server, second.Server);
        Assert.Equal(IPAddress.Parse("10.202.0.2"), first.Paths[1].ServerV4);
        Assert.True(first.Paths[1].EdgeDevice.Length <= 15 && first.Paths[1].ServerDevice.Length <= 15);
        Apps.AssertAllReplies(await Apps.PingAsync(first, first.Edge, first.Paths[1].ServerV4, 2), 2);
        Apps.AssertAllReplies(await Apps.PingAsync(first, first.Edge, first.Paths[1].ServerV6, 2), 2);

        // Two topologies with the same addresses side by side: each namespace pair is its own world.
        Apps.AssertAllReplies(await Apps.PingAsync(second, second.Edge, second.Main.ServerV4, 2), 2);
    }

    [SkippableFact]
    public async Task Socat_udp_and_tcp_echo_work_over_the_veth_without_vs()
    {
        Requires.Tools("socat");
        await using var topology = await TopologyAsync();
        await Apps.UdpEchoServerAsync(topology, topology.Main.ServerV4, 5000);
        await Apps.UdpEchoServerAsync(topology, topology.Main.ServerV6, 5006);
        await Apps.TcpEchoServerAsync(topology, topology.Main.ServerV4, 6000);

        var udp = await Apps.UdpRequestAsync(topology, new IPEndPoint(topology.Main.ServerV4, 5000), "hello-veth", linger: 1);
        Assert.True(udp.Ok, udp.ToString());
        Assert.Equal("hello-veth", udp.StdOut.Trim());
        Assert.Equal([new IPEndPoint(topology.Main.ServerV4, 5000)], Apps.SocatPeers(udp.StdErr));

        var udp6 = await Apps.UdpRequestAsync(topology, new IPEndPoint(topology.Main.ServerV6, 5006), "hello-veth6", linger: 1);
        Assert.Equal("hello-veth6", udp6.StdOut.Trim());
        Assert.Equal([new IPEndPoint(topology.Main.ServerV6, 5006)], Apps.SocatPeers(udp6.StdErr));

        var data = TcpPayload(64 * 1024);
        var tcp = await Apps.TcpExchangeAsync(topology, new IPEndPoint(topology.Main.ServerV4, 6000), data);
        Assert.True(tcp.Ok, tcp.ToString());
        Assert.Equal(data, tcp.StdOut);
    }

    [SkippableFact]
    public async Task Sockets_made_on_a_namespace_thread_live_in_that_namespace()
    {
        await using var topology = await TopologyAsync();
        var serverEndpoint = new IPEndPoint(topology.Main.ServerV4, 9100);
        using var server = Netns.UdpSocket(topology.Server, serverEndpoint);
        using var client = Netns.UdpSocket(topology.Edge, new IPEndPoint(IPAddress.Any, 0));

        // Used from thread-pool threads afterwards: the namespace belongs to the socket, not the thread.
        await client.SendToAsync(Encoding.ASCII.GetBytes("ns"), serverEndpoint);
        var buffer = new byte[16];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var got = await server.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        Assert.Equal("ns", Encoding.ASCII.GetString(buffer, 0, got.ReceivedBytes));
        Assert.Equal(topology.Main.EdgeV4, ((IPEndPoint)got.RemoteEndPoint).Address);

        // The test's own threads never moved: 10.201.0.2 does not exist in the test's namespace.
        using var outside = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        Assert.Throws<SocketException>(() => outside.Bind(new IPEndPoint(topology.Main.ServerV4, 9101)));
    }

    [SkippableFact]
    public async Task Teardown_kills_started_processes_and_deletes_the_namespaces_even_when_the_test_fails()
    {
        NetnsTopology? seen = null;
        NsProcess? sleeper = null;
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await using var topology = await TopologyAsync();
            seen = topology;
            sleeper = topology.Start(topology.Edge, "sleep", "300");
            topology.Start(topology.Server, "sleep", "300");
            Assert.True(File.Exists($"/run/netns/{topology.Edge}"));
            throw new InvalidOperationException("the test body fails");
        });

        Assert.Equal("the test body fails", failure.Message);
        Assert.NotNull(seen);
        Assert.True(sleeper!.HasExited, "the process started in the namespace was not killed");
        Assert.Equal(128 + LibC.SigKill, sleeper.ExitCode);
        Assert.False(File.Exists($"/run/netns/{seen!.Edge}"), $"{seen.Edge} still exists");
        Assert.False(File.Exists($"/run/netns/{seen.Server}"), $"{seen.Server} still exists");
    }

    [SkippableFact]
    public async Task NsProcess_waits_for_lines_and_reports_an_early_exit_with_its_output()
    {
        await using var topology = await TopologyAsync();
        await using var echo = topology.Start(topology.Edge, "sh", "-c", "echo first; echo oops >&2; sleep 0.2; echo second; exit 3");
        Assert.Equal("second", await echo.WaitForLineAsync(l => l == "second", TimeSpan.FromSeconds(10), "'second'"));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => echo.WaitForLineAsync(l => l == "never", TimeSpan.FromSeconds(10), "'never'"));
        Assert.Contains("exited with 3", error.Message, StringComparison.Ordinal);
        Assert.Contains("err| oops", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, await echo.WaitForExitAsync(TimeSpan.FromSeconds(5)));

        await using var silent = topology.Start(topology.Edge, "sleep", "30");
        await Assert.ThrowsAsync<TimeoutException>(
            () => silent.WaitForLineAsync(_ => true, TimeSpan.FromMilliseconds(300), "anything"));
    }

    internal static string TcpPayload(int size)
    {
        var sb = new StringBuilder(size + 64);
        for (var line = 0; sb.Length < size; line++)
        {
            sb.Append("line ").Append(line).Append(' ').Append('x', line % 60).Append('\n');
        }

        return sb.ToString();
    }
}
