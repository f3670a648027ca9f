using System.Net;
using System.Net.Sockets;
using System.Text;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// NAT re-targeting: the application sends to 10.201.0.2:7, the rule's Nat sends the udp stack to the real server
/// at 10.201.0.2:7007, and the application sees its replies come from 10.201.0.2:7. Nothing listens on port 7, so a
/// reply at all proves the re-targeting, and its source proves the reverse mapping.
/// </summary>
public sealed class NatTests(ITestOutputHelper output) : IntegrationTest(output)
{
    [SkippableFact]
    public async Task Application_sends_to_x_server_is_at_y_application_sees_x()
    {
        Requires.Tools("socat");
        await using var topology = await TopologyAsync();
        var server = await Apps.UdpEchoServerAsync(topology, topology.Main.ServerV4, 7007);
        var config = new VsConfig();
        config.Rules.Add(VsRule.Udp("echo", 7, natTo: "10.201.0.2:7007"));
        await using var vs = await VsInstance.StartAsync(topology, config);
        var addressed = new IPEndPoint(topology.Main.ServerV4, 7);

        // An unchanged program: socat, unconnected, logs where each reply came from.
        var reply = await Apps.UdpRequestAsync(topology, addressed, "nat-hello");
        var context = $"{reply}\n{vs.Process.Output()}\n{server.Output()}";
        Assert.True("nat-hello" == reply.StdOut.Trim(), $"no echo through NAT.\n{context}");
        Assert.Equal([addressed], Apps.SocatPeers(reply.StdErr));
        Assert.Contains(server.StdErr, l => l.Contains("receiving packet from", StringComparison.Ordinal));

        // An ordinary socket of our own, unconnected, so the kernel filters nothing: the reply's source is what
        // the application addressed, not the real server.
        using var app = Netns.UdpSocket(topology.Edge, new IPEndPoint(IPAddress.Any, 0));
        await app.SendToAsync(Encoding.ASCII.GetBytes("nat-socket"), addressed);
        var buffer = new byte[64];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        SocketReceiveFromResult got;
        try
        {
            got = await app.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no reply to the socket within 10 s.\n{vs.Process.Output()}\n{server.Output()}");
        }

        Assert.Equal("nat-socket", Encoding.ASCII.GetString(buffer, 0, got.ReceivedBytes));
        Assert.Equal(addressed, (IPEndPoint)got.RemoteEndPoint);
        await vs.StopAsync();
    }
}
