using System.Text.Json;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// The signals that take a path out besides its link state, each on a 2000/s stream spread 1:1 over two veth paths,
/// broken after 0.5 s and repaired after 1.5 s (4 s in all): the kernel refusing the path's sends (its route is deleted while
/// the link stays up, so the link monitor sees nothing), and silence (everything path b carries is dropped on the
/// way, so its sends succeed and no reply comes). The application sees no error and keeps hearing replies; only
/// what went on path b before VS noticed is lost; path b comes back once a probe is answered.
/// </summary>
public sealed class PathSignalTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const int Rate = 2000;
    private const int Count = 8000;
    private const int BreakAt = 1000;
    private const int RepairAt = 3000;

    /// <summary>
    /// <c>ip route del</c> of path b's only route: every datagram VS sends on it from then on is refused (ENETUNREACH)
    /// at the next sendmmsg, and the path is out at the next check (10 ms), long before PathDownAfter (300 ms) of
    /// silence would take it out. The loss window (first to last lost datagram) is the time from the first failed
    /// send to the path being out; it must stay under 100 ms (a third of PathDownAfter, so that silence cannot pass
    /// for the send signal) and the path must say why it went out.
    /// </summary>
    [SkippableFact]
    public async Task A_path_whose_route_vanishes_is_taken_out_at_its_first_failed_sends_and_back_when_the_route_returns()
    {
        await using var topology = await TopologyAsync(paths: 2);
        NetPath b = topology.Paths[1];
        string prefix = $"10.{200 + b.Index}.0.0/30";
        await using var vs = await StartAsync(topology);
        await using var stream = MultipathStream.Open(topology);
        double window = await RunAsync(vs, stream,
            () => topology.ExecAsync(topology.Edge, "ip", "route", "del", prefix, "dev", b.EdgeDevice),
            () => topology.ExecAsync(topology.Edge, "ip", "route", "add", prefix, "dev", b.EdgeDevice, "proto", "kernel", "scope", "link", "src", $"{b.EdgeV4}"));

        Assert.True(window <= 100, $"loss window {window:F1} ms: the failed sends did not take the path out");
        Assert.Contains(vs.Process.StdErr, l => l.Contains("path b taken out: sends fail", StringComparison.Ordinal));
        Assert.Contains(vs.Process.StdErr, l => l.Contains("datagrams refused by the kernel", StringComparison.Ordinal));
        await vs.StopAsync();
    }

    /// <summary>
    /// Everything arriving over path b at the server is dropped (nftables): VS's sends succeed and no reply comes while
    /// path a answers, so path b is out after PathDownAfter (300 ms): the loss window is that, and under 1 s.
    /// </summary>
    [SkippableFact]
    public async Task A_path_that_gets_no_answers_is_taken_out_after_PathDownAfter_and_back_when_answers_return()
    {
        Requires.Tools("nft");
        await using var topology = await TopologyAsync(paths: 2);
        string device = topology.Paths[1].ServerDevice;
        await using var vs = await StartAsync(topology);
        await using var stream = MultipathStream.Open(topology);
        double window = await RunAsync(vs, stream,
            () => topology.ExecAsync(topology.Server, "nft",
                $"add table inet vsblack; add chain inet vsblack in {{ type filter hook prerouting priority -300; }}; add rule inet vsblack in iifname {device} drop"),
            () => topology.ExecAsync(topology.Server, "nft", "delete table inet vsblack"));

        Assert.True(window <= 1000, $"loss window {window:F1} ms");
        Assert.True(window >= 250, $"loss window {window:F1} ms: shorter than PathDownAfter (300 ms), so something else took the path out");
        Assert.Contains(vs.Process.StdErr, l => l.Contains("path b taken out: no reply", StringComparison.Ordinal));
        await vs.StopAsync();
    }

    private static Task<VsInstance> StartAsync(NetnsTopology topology) =>
        VsInstance.StartAsync(topology, MultipathStream.Config(MultipathStream.PathsRule(topology, "WeightedRoundRobin")), $"--Tun:TxQueueLength={Rate * 4}");

    /// <summary>
    /// Runs the stream, breaks path b at datagram <see cref="BreakAt"/> and repairs it at <see cref="RepairAt"/>
    /// (the commands run beside the sender, never pausing it), checks what both tests require and returns the loss
    /// window (ms).
    /// </summary>
    private async Task<double> RunAsync(VsInstance vs, MultipathStream stream, Func<Task<CmdResult>> breakPath, Func<Task<CmdResult>> repairPath)
    {
        double brokeAt = 0;
        int repairedSeq = -1;
        Task<CmdResult>? broken = null, repaired = null;
        await stream.SendAsync(Count, Rate, i =>
        {
            if (i == BreakAt)
            {
                brokeAt = stream.NowMs;
                broken = breakPath();
            }
            else if (i == RepairAt)
            {
                repaired = repairPath();
            }
            else if (repaired is { IsCompleted: true } && repairedSeq < 0)
            {
                repairedSeq = i;
            }

            return Task.CompletedTask;
        });
        Assert.True((await broken!).Ok, broken.Result.ToString());
        Assert.True((await repaired!).Ok, repaired.Result.ToString());
        await stream.SettleAsync(TimeSpan.FromSeconds(3));

        int[] lost = stream.Lost();
        double window = stream.LossWindowMs(lost);
        JsonElement flow = await MultipathStream.FlowAsync(vs, "spread");
        JsonElement pathB = flow.GetProperty("paths").GetProperty("list")[1];
        int backFrom = (repairedSeq < 0 ? Count : repairedSeq) + Rate;
        int lateOnB = stream.AtB.Count(s => s > backFrom);
        int expectedOnB = Math.Max(0, Count - backFrom) / 2;
        Log($"path b broken at {brokeAt:F0} ms; lost {lost.Length} datagrams ({string.Join(',', lost.Take(10))}...) in a window of {window:F1} ms " +
            $"(first lost sent {(lost.Length > 0 ? stream.SentAt[lost[0]] - brokeAt : 0):F1} ms after the command started); " +
            $"path b after the repair carried {lateOnB} of {expectedOnB}; replies {stream.Replies}");
        Log(flow.ToString());
        Assert.Equal(0, stream.RepliesFromElsewhere);
        Assert.Equal(0, stream.Corrupt);
        Assert.NotEmpty(lost); // what path b carried before VS noticed: a test that loses nothing broke nothing
        Assert.All(lost, s => Assert.InRange(stream.SentAt[s], brokeAt - 50, brokeAt + 1000));
        Assert.True(stream.Replies >= stream.Sent - lost.Length - 50, $"only {stream.Replies} replies of {stream.Sent - lost.Length} datagrams delivered");
        Assert.Equal("up", pathB.GetProperty("state").GetString());
        Assert.Equal(1, pathB.GetProperty("downs").GetInt64());
        Assert.Equal(1, pathB.GetProperty("recoveries").GetInt64());
        Assert.True(repairedSeq >= 0 && repairedSeq < Count - (2 * Rate), $"the repair returned only at datagram {repairedSeq} of {Count}: too late to see path b back");
        Assert.True(lateOnB >= expectedOnB * 0.8, $"path b carried only {lateOnB} of the {expectedOnB} datagrams due on it from 1 s after the repair");
        Assert.Contains(vs.Process.StdErr, l => l.Contains("path b is back", StringComparison.Ordinal));
        return window;
    }
}
