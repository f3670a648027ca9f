using System.Text.Json;
using VirtualStack.Integration.Tests.Infrastructure;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// A <see cref="MultipathStream"/> of <see cref="Count"/> datagrams at <see cref="Rate"/>/s spread 1:1 over paths a and
/// b, with path b broken at datagram <see cref="BreakAt"/> and repaired at a given datagram: the commands run beside
/// the sender, never pausing it. Checks what every such test requires (the application sees no error and no stranger,
/// only what went on path b right after the break is lost, path b is up again at the end, came back as often as it
/// went out and carries its half from 1 s after the repair) and returns what the test judges on its own.
/// </summary>
internal static class PathDisruption
{
    public const int Rate = 2000;
    public const int Count = 8000;
    public const int BreakAt = 1000;

    /// <summary>The vs arguments these streams need (a TUN queue for the bursts).</summary>
    public static string TxQueue => $"--Tun:TxQueueLength={Rate * 4}";

    public static async Task<Disruption> RunAsync(VsInstance vs, MultipathStream stream, int repairAt,
        Func<Task<CmdResult>> breakPath, Func<Task<CmdResult>> repairPath, Action<string> log)
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
            else if (i == repairAt)
            {
                repaired = repairPath();
            }
            else if (repaired is { IsCompleted: true } && repairedSeq < 0)
            {
                repairedSeq = i; // on a busy machine `ip link set up` itself can take a second
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

        // Half of what is sent from 1 s after the repair returned (then the path is back: link monitor or sends, and a
        // probe answered) belongs on path b.
        int backFrom = (repairedSeq < 0 ? Count : repairedSeq) + Rate;
        int lateOnB = stream.AtB.Count(s => s > backFrom);
        int expectedOnB = Math.Max(0, Count - backFrom) / 2;
        log($"path b broken at {brokeAt:F0} ms, repaired from datagram {repairAt}; lost {lost.Length} datagrams ({string.Join(',', lost.Take(10))}...) " +
            $"in a window of {window:F1} ms (first lost sent {(lost.Length > 0 ? stream.SentAt[lost[0]] - brokeAt : 0):F1} ms after the command started); " +
            $"path b after the repair carried {lateOnB} of {expectedOnB}; replies {stream.Replies}");
        log(flow.ToString());
        Assert.Equal(0, stream.RepliesFromElsewhere);
        Assert.Equal(0, stream.Corrupt);
        Assert.True(lost.Length <= Rate / 2, $"{lost.Length} lost: more than a second of path b's half");
        Assert.All(lost, s => Assert.InRange(stream.SentAt[s], brokeAt - 50, brokeAt + 1000));
        Assert.Equal("up", pathB.GetProperty("state").GetString());
        long downs = pathB.GetProperty("downs").GetInt64();
        Assert.True(downs >= 1, "path b was never taken out");
        Assert.Equal(downs, pathB.GetProperty("recoveries").GetInt64());
        Assert.True(repairedSeq >= 0 && repairedSeq < Count - (2 * Rate), $"the repair returned only at datagram {repairedSeq} of {Count}: too late to see path b back");
        Assert.True(lateOnB >= expectedOnB * 0.8, $"path b carried only {lateOnB} of the {expectedOnB} datagrams due on it from 1 s after the repair");
        Assert.Contains(vs.Process.StdErr, l => l.Contains("path b is back", StringComparison.Ordinal));
        return new Disruption(lost, window, downs, brokeAt);
    }
}

/// <summary>
/// What <see cref="PathDisruption.RunAsync"/> measured: the datagrams lost, their window (ms), path b's downs, when the
/// break started (ms on the stream's clock).
/// </summary>
internal sealed record Disruption(int[] Lost, double WindowMs, long Downs, double BrokeAt);
