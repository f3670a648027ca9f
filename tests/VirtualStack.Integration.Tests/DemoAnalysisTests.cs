using System.Globalization;
using System.Text.Json;
using VirtualStack.Host.Demo;
using VirtualStack.Host.Tools;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// The demo's measurements on their own: the switch analysis on a stream whose gap and losses are known, and the
/// paced generator with the counter's arrival log on loopback (no root needed).
/// </summary>
public sealed class DemoAnalysisTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const long Start = 1_700_000_000_000; // Unix ms, a multiple of 10: buckets line up with the sends

    [Fact]
    public void A_switch_that_loses_ten_packets_shows_its_gap_its_losses_and_an_empty_bucket()
    {
        // 1000 packets/s for 4 s, packet i sent at Start + i ms and arriving 1 ms later: the udp server gets the first
        // 2 s, the dccp server the rest; the switch at 2 s loses sequence numbers 2000-2009.
        var udp = new List<long>();
        var dccp = new List<long>();
        for (long seq = 0; seq < 4000; seq++)
        {
            if (seq is < 2000 or >= 2010)
            {
                (seq < 2000 ? udp : dccp).Add(seq);
            }
        }

        ServerArrivals Server(string name, List<long> seqs) => new(name, [.. seqs],
            [.. seqs.Select(s => (Start + s) * 1_000_000)], [.. seqs.Select(s => (Start + s + 1) * 1_000_000)]);
        var analysis = new SwitchAnalysis([Server("udp", udp), Server("dccp", dccp)], sent: 4000, size: 1500, periodSeconds: 2);
        SwitchMeasure[] measures = analysis.Measure([new SwitchEvent(Start + 2000, "udp", "dccp", Cached: false, DelayUs: 100)],
            new Dictionary<string, double> { ["dccp"] = 2.5, ["udp"] = 0.1 }, out SteadyMeasure steady);

        SwitchMeasure m = Assert.Single(measures);
        Assert.Equal(2.0, m.AtSeconds);
        Assert.Equal(11.0, m.GapMs); // seq 1999 arrived at 2000 ms, seq 2010 at 2011 ms
        Assert.Equal(11.0, m.SendGapMs); // the lost packets leave a hole in the send times that arrived, too
        Assert.Equal(1.0, m.MaxLatencyMs);
        Assert.Equal(10, m.Lost);
        Assert.Equal(0.1, m.MinBucketRatio); // the bucket from 2000 ms got only seq 1999 of the 10 a bucket gets
        Assert.Equal(2.5, m.FirstBuildMs);
        Assert.True(m.Complete);

        Assert.Equal(10, steady.MeanBucket);
        Assert.Equal(1.0, steady.MaxGapMs);
        Assert.Equal(0, steady.Lost);
        Assert.Equal(1.0, steady.MinBucketRatio);
        Assert.Equal(3990, analysis.Received);

        Throughput[] stacks = analysis.PerStack();
        Assert.Equal([("udp", 2000L), ("dccp", 1990L)], stacks.Select(s => (s.Stack, s.Received)));
        Assert.All(stacks, s => Assert.Equal(1000 * 1500 * 8 / 1e9, s.MeanGbps)); // 0.012 Gbit/s: 100 packets per 100 ms

        // A cached switch is never credited with a build; one in the last 500 ms is partial.
        SwitchMeasure[] later = analysis.Measure([new SwitchEvent(Start + 3800, "dccp", "udp", Cached: true, DelayUs: 10)],
            new Dictionary<string, double> { ["udp"] = 0.1 }, out _);
        Assert.Null(later[0].FirstBuildMs);
        Assert.False(later[0].Complete);
    }

    [Fact]
    public async Task The_paced_generator_keeps_its_rate_and_the_counter_logs_every_datagram()
    {
        int port = 39_000 + (Environment.ProcessId % 1000);
        string log = Path.Combine(Path.GetTempPath(), $"vs-arrivals-{Environment.ProcessId}-{Guid.NewGuid():N}.bin");
        await using var counter = NsProcess.Start(null, VsExecutable.Path,
            ["udp-count", "--port", $"{port}", "--bind", "127.0.0.1", "--arrivals", log, "--json"], Log, VsExecutable.Environment());
        try
        {
            await counter.WaitForLineAsync(l => l.StartsWith("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the counter");
            var gen = await Cmd.RunAsync(VsExecutable.Path, ["udp-gen", "--to", $"127.0.0.1:{port}", "--rate", "5000", "--seconds", "2", "--size", "200", "--json"],
                TimeSpan.FromSeconds(60), environment: VsExecutable.Environment());
            Assert.True(gen.Ok, gen.ToString());
            await Task.Delay(300);
            counter.Signal(15); // SIGTERM: the counter prints its summary and flushes the log
            Assert.Equal(0, await counter.WaitForExitAsync(TimeSpan.FromSeconds(10)));
            using JsonDocument sent = JsonDocument.Parse(gen.StdOut.Trim().Split('\n')[^1]);
            long count = sent.RootElement.GetProperty("sent").GetInt64();
            // On schedule: 10,000 in 2 s (a late generator catches up; it never sends ahead of the schedule).
            Assert.InRange(count, 9_000, 10_000 + 64);

            (long[] seq, long[] sentNs, long[] arrivedNs) = ArrivalLog.Read(log);
            using JsonDocument received = JsonDocument.Parse(counter.StdOut.Last(l => l.StartsWith('{')));
            Assert.Equal(received.RootElement.GetProperty("packets").GetInt64(), seq.Length);
            Assert.Equal(count, seq.Length); // loopback at 5000/s: nothing lost
            Assert.Equal(Enumerable.Range(0, seq.Length).Select(i => (long)i), seq.Order());
            for (int i = 0; i < seq.Length; i++)
            {
                Assert.True(arrivedNs[i] >= sentNs[i] - 1_000_000, $"datagram {seq[i]} arrived before it was sent");
            }

            // Paced, not bursty: within any 100 ms of send times, at most twice the 500 the rate allows.
            long[] byTenth = [.. sentNs.GroupBy(ns => ns / 100_000_000).Select(g => (long)g.Count())];
            Log(string.Create(CultureInfo.InvariantCulture, $"sent {count}; per 100 ms: {string.Join(' ', byTenth)}"));
            Assert.All(byTenth, n => Assert.InRange(n, 0, 1_000));
        }
        finally
        {
            File.Delete(log);
        }
    }
}
