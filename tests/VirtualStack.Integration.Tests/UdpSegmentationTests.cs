using System.Net;
using System.Net.Sockets;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// The Udp stack joins runs of a flow's datagrams into UDP GSO sends. An unchanged server must see exactly what the
/// application sent, datagram for datagram, in order, whether the path takes the joined sends (fewer packets cross
/// the veth) or refuses them (segments larger than the path's MTU: the stack then sends the datagrams alone and the
/// kernel fragments them as it would for the application).
/// </summary>
public sealed class UdpSegmentationTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const int Port = 9300;

    [SkippableFact]
    public async Task Bursts_reach_the_server_as_the_same_datagrams_in_fewer_packets_on_the_path()
    {
        await using var topology = await TopologyAsync();
        var config = new VsConfig();
        config.Rules.Add(VsRule.Udp("gso", Port));
        await using var vs = await VsInstance.StartAsync(topology, config);

        var before = await LinkCounters.ReadAsync(topology.Server, topology.Main.ServerDevice);
        int datagrams = await SendBurstsAndCheckAsync(topology, vs, size: 1000, bursts: 40, burst: 50);
        var after = await LinkCounters.ReadAsync(topology.Server, topology.Main.ServerDevice);

        // A veth counts a joined send once: fewer packets than datagrams crossed it.
        long packets = after.RxPackets - before.RxPackets;
        Log($"{datagrams} datagrams crossed the path as {packets} packets");
        Assert.True(packets < datagrams, $"{datagrams} datagrams crossed the path as {packets} packets: VS joined no run into one UDP GSO send");
        await vs.StopAsync();
    }

    [SkippableFact]
    public async Task Datagrams_larger_than_the_path_mtu_still_arrive_whole()
    {
        await using var topology = await TopologyAsync();
        // The path's MTU below the datagrams' size (the TUN keeps 1500): the kernel refuses joined sends of 1400-byte
        // segments (it never fragments a segment) and must fragment each datagram instead.
        await topology.ExecAsync(topology.Edge, "ip", "link", "set", "dev", topology.Main.EdgeDevice, "mtu", "1280");
        await topology.ExecAsync(topology.Server, "ip", "link", "set", "dev", topology.Main.ServerDevice, "mtu", "1280");
        var config = new VsConfig();
        config.Rules.Add(VsRule.Udp("gso-mtu", Port));
        await using var vs = await VsInstance.StartAsync(topology, config);

        int datagrams = await SendBurstsAndCheckAsync(topology, vs, size: 1400, bursts: 10, burst: 30);

        Log($"{datagrams} datagrams of 1400 bytes arrived over a 1280-byte MTU path");
        await vs.StopAsync();
    }

    // Sends bursts of numbered datagrams from an ordinary socket in the edge namespace, paced between bursts so that
    // nothing needs to be lost, and checks that the server got each one once, whole and in order.
    private async Task<int> SendBurstsAndCheckAsync(NetnsTopology topology, VsInstance vs, int size, int bursts, int burst)
    {
        int count = bursts * burst;
        var serverEndpoint = new IPEndPoint(topology.Main.ServerV4, Port);
        using var server = Netns.UdpSocket(topology.Server, serverEndpoint);
        using var app = Netns.UdpSocket(topology.Edge, new IPEndPoint(IPAddress.Any, 0));
        var problems = new List<string>();
        int next = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var receiving = Task.Run(async () =>
        {
            var buffer = new byte[65_536];
            while (next < count && !cts.IsCancellationRequested)
            {
                var r = await server.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), cts.Token);
                int seq = NumberedDatagram.Read(buffer.AsSpan(0, r.ReceivedBytes), size, count);
                if (seq != next)
                {
                    problems.Add($"datagram {next} due, got {r.ReceivedBytes} bytes read as number {seq}");
                    if (seq < next)
                    {
                        continue;
                    }
                }

                next = seq + 1;
            }
        });

        var datagram = new byte[size];
        for (int seq = 0; seq < count; seq++)
        {
            NumberedDatagram.Fill(datagram, seq);
            app.SendTo(datagram, SocketFlags.None, serverEndpoint);
            if ((seq + 1) % burst == 0)
            {
                // Room for VS and the server between bursts: the test is about what arrives, not how fast.
                await Task.Delay(5);
            }
        }

        await Task.WhenAny(receiving, Task.Delay(TimeSpan.FromSeconds(10)));
        await cts.CancelAsync();
        await receiving.ContinueWith(_ => { }, TaskScheduler.Default);
        var where = next < count || problems.Count > 0 ? await LossReport.DescribeAsync(topology, vs) : "";
        Assert.True(problems.Count == 0, $"{problems.Count} datagrams arrived wrong, e.g. {string.Join("; ", problems.Take(5))}\n{vs.Process.Output()}\n{where}");
        Assert.True(next == count, $"the server got datagrams up to {next} of {count}\n{vs.Process.Output()}\n{where}");
        return count;
    }
}
