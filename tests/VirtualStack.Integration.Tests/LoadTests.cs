using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// 10,000 datagrams at a moderate rate through the udp stack, every one echoed: none may be lost, duplicated or
/// changed on the way in or on the way back. Sender and server are ordinary sockets of the test process, made
/// inside the edge and the server namespace (see <see cref="Netns"/>), so the count is exact.
/// </summary>
public sealed class LoadTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const int Count = 10_000;
    private const int Size = 512;
    private const int PacketsPerSecond = 5_000;
    private const int Burst = 50;
    private const int Port = 9100;

    [SkippableFact]
    public async Task Ten_thousand_datagrams_at_moderate_rate_arrive_and_return_without_loss()
    {
        await using var topology = await TopologyAsync();
        var config = new VsConfig();
        config.Rules.Add(VsRule.Udp("load", Port));
        await using var vs = await VsInstance.StartAsync(topology, config);

        var serverEndpoint = new IPEndPoint(topology.Main.ServerV4, Port);
        using var server = Netns.UdpSocket(topology.Server, serverEndpoint);
        using var app = Netns.UdpSocket(topology.Edge, new IPEndPoint(IPAddress.Any, 0));
        await using var tally = new EchoTally(server, app, serverEndpoint, Size, Count);

        var tunBefore = await LinkCounters.ReadAsync(topology.Edge, "vs0");
        var clock = Stopwatch.StartNew();
        var datagram = new byte[Size];
        for (var seq = 0; seq < Count; seq++)
        {
            NumberedDatagram.Fill(datagram, seq);
            await app.SendToAsync(datagram, serverEndpoint);
            if ((seq + 1) % Burst == 0)
            {
                // Pace to the target rate: bursts of 50 every 10 ms, far below what the path can carry.
                var due = TimeSpan.FromSeconds((seq + 1) / (double)PacketsPerSecond);
                if (due > clock.Elapsed)
                {
                    await Task.Delay(due - clock.Elapsed);
                }
            }
        }

        var sendTime = clock.Elapsed;
        await tally.FinishAsync(TimeSpan.FromSeconds(10));

        var tunAfter = await LinkCounters.ReadAsync(topology.Edge, "vs0");
        var lostOut = tally.Missing();
        var lostBack = tally.Missing(back: true);
        Log($"sent {Count} x {Size} B in {sendTime.TotalSeconds:0.00} s; server got {Count - lostOut.Count}, app got {Count - lostBack.Count}");
        Assert.True(tally.Corrupt == 0, $"{tally.Corrupt} datagrams arrived changed");
        Assert.True(tally.WrongSource == 0, $"{tally.WrongSource} echoes came from somewhere else than {serverEndpoint}");
        var where = lostOut.Count + lostBack.Count > 0 ? await LossReport.DescribeAsync(topology, vs) : "";
        Assert.True(lostOut.Count == 0, $"{lostOut.Count} datagrams never reached the server (first: {string.Join(',', lostOut.Take(10))}).\n{vs.Process.Output()}\n{where}");
        Assert.True(lostBack.Count == 0, $"{lostBack.Count} echoes never reached the app (first: {string.Join(',', lostBack.Take(10))}).\n{vs.Process.Output()}\n{where}");
        Assert.True(tally.Duplicates == 0, $"{tally.Duplicates} datagrams or echoes arrived twice");
        Assert.True(tunAfter.TxPackets - tunBefore.TxPackets >= Count && tunAfter.RxPackets - tunBefore.RxPackets >= Count,
            $"the datagrams did not all pass through vs0: {tunBefore} -> {tunAfter}");
        await vs.StopAsync();
    }
}
