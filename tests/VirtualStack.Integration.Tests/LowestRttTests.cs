using System.Net;
using System.Text.Json;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// LowestRtt on two veth paths that differ in delay. This kernel has no sch_netem, so the delay is a
/// <c>vs udp-delay</c> relay in the server namespace in front of each server: path a's far end is a relay adding
/// 1 ms each way before server A, path b's one adding 10 ms each way before server B.
/// </summary>
public sealed class LowestRttTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const int Rate = 1000;
    private const int Phase = 2500;

    /// <summary>
    /// A 1000/s stream in three phases of 2.5 s. Phase 1: path a's round trip is about 2 ms, path b's about 20 ms: all
    /// but the packets that measure path b go on path a. Phase 2: path a's relay goes to 50 ms each way (a round trip
    /// of 100 ms): a's round-trip average (7/8 old, 1/8 new sample, one sample per round trip) passes b's within a few
    /// samples, and the traffic moves to path b. Phase 3: path b's link goes down: path a, the only path left, carries
    /// everything. The time each move took is measured (to the first of 50 datagrams in a row on the new path): under
    /// 1.5 s for the delay, under 1 s for the link. The shares (all but the 1 % of re-measurements on the right path)
    /// fail for any spreading that is not by round trip (WeightedRoundRobin puts 50 % on each) and for a scheduler
    /// that swings back and forth.
    /// </summary>
    [SkippableFact]
    public async Task LowestRtt_sends_on_the_faster_path_and_moves_when_its_delay_grows_or_the_other_goes_down()
    {
        await using var topology = await TopologyAsync(paths: 2);
        await using var stream = MultipathStream.Open(topology);
        var relayA = await DelayRelay.StartAsync(topology, topology.Server, new IPEndPoint(topology.Paths[0].ServerV4, MultipathStream.RelayPortA), stream.FarA, 1);
        var relayB = await DelayRelay.StartAsync(topology, topology.Server, new IPEndPoint(topology.Paths[1].ServerV4, MultipathStream.RelayPortB), stream.FarB, 10);
        await MultipathStream.WarmUpAsync(topology, relayA.Listen);
        await MultipathStream.WarmUpAsync(topology, relayB.Listen);
        var rule = MultipathStream.PathsRule(topology, "LowestRtt");
        rule["Paths"]![0]!["To"] = $"{relayA.Listen}";
        rule["Paths"]![1]!["To"] = $"{relayB.Listen}";
        await using var vs = await VsInstance.StartAsync(topology, MultipathStream.Config(rule), $"--Tun:TxQueueLength={Rate * 4}");

        Task? slowed = null;
        Task<CmdResult>? down = null;
        Task<JsonElement>? phase1 = null;

        // The commands run beside the sender, never pausing it.
        await stream.SendAsync(3 * Phase, Rate, i =>
        {
            if (i == Phase)
            {
                phase1 = MultipathStream.FlowAsync(vs, "spread");
                slowed = relayA.SetAsync("delay 50");
            }
            else if (i == 2 * Phase)
            {
                down = topology.ExecAsync(topology.Edge, "ip", "link", "set", topology.Paths[1].EdgeDevice, "down");
            }

            return Task.CompletedTask;
        });
        await slowed!;
        JsonElement afterPhase1 = await phase1!;
        Assert.True((await down!).Ok, down.Result.ToString());
        await stream.SettleAsync(TimeSpan.FromSeconds(3));

        JsonElement flow = await MultipathStream.FlowAsync(vs, "spread");
        int[] lost = stream.Lost();

        // When the traffic moved: the first of 50 datagrams in a row on the path it moved to (1 datagram per ms).
        int movedToB = MovedAfter(stream.AtB, Phase, 2 * Phase);
        int movedToA = MovedAfter(stream.AtA, 2 * Phase, 3 * Phase);
        double[] onA = [ShareOnA(stream, Rate / 5, Phase), ShareOnA(stream, Phase + (Rate * 3 / 2), 2 * Phase), ShareOnA(stream, 2 * Phase + Rate / 2, 3 * Phase)];
        Log($"path a's share: phase 1 from 200 ms {onA[0]:P2}, phase 2 from 1.5 s {onA[1]:P2}, phase 3 from 500 ms {onA[2]:P2}; at the start path b carried " +
            $"{stream.AtB.Count(s => s < Phase)} of phase 1; moved to b {movedToB} ms after a's delay grew, to a {movedToA} ms after b's link command started; lost {lost.Length} ({string.Join(',', lost.Take(10))}); replies {stream.Replies}");
        Log($"after phase 1: {afterPhase1}");
        Log($"at the end: {flow}");
        Assert.Equal(0, stream.RepliesFromElsewhere);
        Assert.Equal(0, stream.Corrupt);

        // Phase 1: path b carries only what measures it: at the start (a path not measured yet is tried first, until
        // its first reply) and once a second (a round trip older than 1 s is measured again: the packets of one 10 ms
        // check, 1 % at this rate).
        Assert.True(onA[0] >= 0.97, $"phase 1: path a (2 ms) carried only {onA[0]:P2}");

        // Phase 2: the move takes a few of a's new 100 ms samples (the average keeps 7/8 of the old value) until a's
        // average passes b's, which b measured once, at the start (no packet goes on b after that, so its value is
        // whatever that one sample was: 20 ms on a quiet machine, 57 ms seen on a loaded one). Once made, the move
        // holds: from 1.5 s after the change on, path a carries only its re-measurements (1 %).
        Assert.InRange(movedToB, 1, 1500);
        Assert.True(onA[1] <= 0.03, $"phase 2: path a (100 ms) still carried {onA[1]:P2} from 1.5 s after its delay grew");
        Assert.True(onA[2] >= 0.99, $"phase 3: path a (the only one up) carried only {onA[2]:P2}");
        Assert.InRange(movedToA, 0, 1000);

        // What VS measured follows the relays: never less than their delays (2 and 20 ms round trips), and a below b.
        JsonElement[] measured = [.. afterPhase1.GetProperty("paths").GetProperty("list").EnumerateArray()];
        double rttA = measured[0].GetProperty("rtt_ms").GetDouble(), rttB = measured[1].GetProperty("rtt_ms").GetDouble();
        Assert.True(rttA >= 2 && rttB >= 20 && rttA < rttB, $"measured round trips: a {rttA} ms, b {rttB} ms");

        // Only what path b carried when its link went down may be lost.
        Assert.All(lost, s => Assert.InRange(s, 2 * Phase, 2 * Phase + Rate));
        Assert.True(lost.Length <= Rate / 2, $"{lost.Length} lost");
        await vs.StopAsync();
    }

    /// <summary>Milliseconds (datagrams) from <paramref name="from"/> to the first of 50 in a row in <paramref name="at"/>.</summary>
    private static int MovedAfter(List<int> at, int from, int end)
    {
        HashSet<int> arrived;
        lock (at)
        {
            arrived = [.. at];
        }

        int run = 0;
        for (int s = from; s < end; s++)
        {
            run = arrived.Contains(s) ? run + 1 : 0;
            if (run == 50)
            {
                return s - 49 - from;
            }
        }

        return end - from;
    }

    /// <summary>The share of sequence numbers in [from, to) that arrived at server A (of those that arrived anywhere).</summary>
    private static double ShareOnA(MultipathStream stream, int from, int to)
    {
        int atA, atB;
        lock (stream.AtA)
        {
            atA = stream.AtA.Distinct().Count(s => s >= from && s < to);
        }

        lock (stream.AtB)
        {
            atB = stream.AtB.Distinct().Count(s => s >= from && s < to);
        }

        return atA / (double)Math.Max(1, atA + atB);
    }
}
