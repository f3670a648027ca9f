using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using VirtualStack.Host.Demo;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// <c>vs demo</c> as a user runs it: a short run writes results.json, figure1.png and counts.csv that agree with
/// each other, and leaves no namespace, device or socket behind. Plus the figure on its own, with the two servers
/// and switch markers the full experiment draws. No timing or throughput is asserted: that is for benchmarks.
/// </summary>
public sealed partial class DemoTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    [SkippableFact]
    public async Task A_short_demo_writes_consistent_results_figure_and_counts_and_leaves_nothing_behind()
    {
        Requires.Root();
        string outDir = Path.Combine(Path.GetTempPath(), $"vs-demo-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            var run = await Cmd.RunAsync(VsExecutable.Path, ["demo", "--seconds", "3", "--out", outDir], TimeSpan.FromSeconds(180), environment: VsExecutable.Environment());
            Log(run.StdOut);
            Log(run.StdErr);
            Assert.True(run.ExitCode == 0, run.ToString());

            // The lab it announced is gone: both namespaces (and with them the TUN, veths, rules), and the socket.
            Match lab = LabLine().Match(run.StdErr + run.StdOut);
            Assert.True(lab.Success, $"the demo did not name its namespaces: {run}");
            string netns = (await Cmd.CheckedAsync("ip", "netns", "list")).StdOut;
            foreach (string ns in new[] { lab.Groups["edge"].Value, lab.Groups["server"].Value })
            {
                Assert.DoesNotContain(ns, netns, StringComparison.Ordinal);
                Assert.False(File.Exists($"/run/netns/{ns}"), $"/run/netns/{ns} left behind");
            }

            Assert.False(File.Exists($"/run/virtualstack/{lab.Groups["edge"].Value}.sock"), "the demo's management socket was left behind");
            Assert.False((await Cmd.RunAsync("ip", "link", "show", "vsd0")).Ok, "a vsd0 device exists outside the demo's namespace");

            using var results = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, "results.json")));
            JsonElement r = results.RootElement;
            Assert.Equal(3, r.GetProperty("seconds").GetInt32());
            Assert.Equal(1500, r.GetProperty("size").GetInt32());
            long sent = r.GetProperty("sent").GetInt64();
            long received = r.GetProperty("received").GetInt64();
            Assert.True(received > 0 && received <= sent, $"sent {sent}, received {received}");
            Assert.Equal(sent - received, r.GetProperty("lost").GetInt64());
            double mean = r.GetProperty("mean_gbps").GetDouble();
            Assert.True(mean > 0 && r.GetProperty("peak_gbps").GetDouble() >= mean, r.ToString());
            Assert.Equal("udp", r.GetProperty("stacks")[0].GetProperty("stack").GetString());
            Assert.Equal(JsonValueKind.Array, r.GetProperty("switches").ValueKind);
            Assert.Equal(0, r.GetProperty("vs_exit").GetInt32());
            Assert.Equal("figure1.png", r.GetProperty("figure").GetString());
            int bucketMs = r.GetProperty("bucket_ms").GetInt32();
            Assert.Equal(10, bucketMs);

            // counts.csv: one row per 10 ms from the first packet on, the counts adding up to what the server received.
            string[] lines = (await File.ReadAllLinesAsync(Path.Combine(outDir, "counts.csv"))).Where(l => l.Length > 0).ToArray();
            Assert.Equal("time_ms,udp_packets", lines[0]);
            long total = 0;
            for (int i = 1; i < lines.Length; i++)
            {
                string[] cells = lines[i].Split(',');
                Assert.Equal((i - 1) * bucketMs, long.Parse(cells[0], CultureInfo.InvariantCulture));
                total += long.Parse(cells[1], CultureInfo.InvariantCulture);
            }

            Assert.Equal(received, total);
            Assert.InRange(lines.Length - 1, 50, 3 * 100 * 3); // a 3 s run is ~300 buckets; a loaded machine stretches it

            AssertPng(Path.Combine(outDir, "figure1.png"), Figure1.Width, Figure1.Height);
        }
        finally
        {
            if (Directory.Exists(outDir))
            {
                Directory.Delete(outDir, recursive: true);
            }
        }
    }

    [Fact]
    public void The_figure_draws_every_server_on_one_time_line_with_switch_markers()
    {
        // Two servers taking turns every second (the full experiment's shape), with a gap of 50 ms at each switch.
        var udp = new Dictionary<long, long>();
        var dccp = new Dictionary<long, long>();
        long start = 1_700_000_000_000;
        for (long ms = 0; ms < 4000; ms += 10)
        {
            bool onUdp = ms / 1000 % 2 == 0;
            if (ms % 1000 < 50 && ms >= 1000)
            {
                continue; // nobody counted anything: both lines must show a zero here
            }

            (onUdp ? udp : dccp)[start + ms] = 300 + (ms % 70);
        }

        FigureSeries[] series = [new FigureSeries("udp", udp), new FigureSeries("dccp", dccp)];
        long[] timeline = Figure1.Timeline(series, 10);
        Assert.Equal(400, timeline.Length);
        Assert.Equal(start, timeline[0]);

        string[] csv = Figure1.Csv(series, timeline).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("time_ms,udp_packets,dccp_packets", csv[0]);
        Assert.Equal("0,300,0", csv[1]);
        Assert.Equal("1000,0,0", csv[101]); // the gap at the first switch
        Assert.Equal("1050,0,300", csv[106]);

        string png = Path.Combine(Path.GetTempPath(), $"vs-figure-test-{Environment.ProcessId}-{Guid.NewGuid():N}.png");
        try
        {
            Figure1.Save(png, series, [new FigureMarker(1, "udp -> dccp"), new FigureMarker(2, "dccp -> udp"), new FigureMarker(3, "udp -> dccp")], 10, "test: two servers, three switches");
            AssertPng(png, Figure1.Width, Figure1.Height);
            if (Environment.GetEnvironmentVariable("VS_KEEP_FIGURE") is { Length: > 0 } keep)
            {
                File.Copy(png, keep, overwrite: true); // to look at it
            }
        }
        finally
        {
            File.Delete(png);
        }
    }

    private static void AssertPng(string path, int width, int height)
    {
        byte[] png = File.ReadAllBytes(path);
        // A drawn chart of this size compresses to tens of kilobytes; a blank canvas to a few hundred bytes.
        Assert.InRange(png.Length, 10_000, 5_000_000);
        Assert.Equal(PngSignature, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(width, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(height, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        Assert.Equal("IEND", System.Text.Encoding.ASCII.GetString(png, png.Length - 8, 4));
    }

    [GeneratedRegex(@"lab: namespaces (?<edge>\S+) and (?<server>\S+),")]
    private static partial Regex LabLine();
}
