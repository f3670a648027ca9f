using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using VirtualStack.Host.Demo;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// <c>vs demo</c> as a user runs it: a short run switching udp and dccp every second writes results.json (both stacks,
/// every switch with its gap and losses, the first DCCP build), figure1.png and counts.csv that agree with each other,
/// and leaves no namespace, device, socket or process behind, also when interrupted. Plus the figure on its own, with
/// the two servers and switch markers. No timing, throughput or loss target is asserted: that is for `vs bench
/// switch` (a loaded CI machine decides those, not the code).
/// </summary>
public sealed partial class DemoTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    [SkippableFact]
    public async Task A_short_demo_switches_udp_and_dccp_writes_consistent_results_figure_and_counts_and_leaves_nothing_behind()
    {
        Requires.Root();
        string outDir = Path.Combine(Path.GetTempPath(), $"vs-demo-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            // 4 s switching every second: the first switch builds the dccp stack, the next ones are to cached stacks.
            var run = await Cmd.RunAsync(VsExecutable.Path, ["demo", "--seconds", "4", "--period", "1", "--out", outDir], TimeSpan.FromSeconds(180), environment: VsExecutable.Environment());
            Log(run.StdOut);
            Log(run.StdErr);
            Assert.True(run.ExitCode == 0, run.ToString());
            await AssertNothingLeftAsync(run.StdErr + run.StdOut, outDir);

            using var results = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, "results.json")));
            JsonElement r = results.RootElement;
            Log(r.GetProperty("switches").ToString());
            Assert.Equal(4, r.GetProperty("seconds").GetInt32());
            Assert.Equal(1.0, r.GetProperty("period_s").GetDouble());
            Assert.Equal(1500, r.GetProperty("size").GetInt32());
            Assert.Equal(20_000, r.GetProperty("rate_pps").GetInt64());
            long sent = r.GetProperty("sent").GetInt64();
            long received = r.GetProperty("received").GetInt64();
            Assert.True(received > 0 && received <= sent, $"sent {sent}, received {received}");
            Assert.Equal(sent - received, r.GetProperty("lost").GetInt64());
            double mean = r.GetProperty("mean_gbps").GetDouble();
            Assert.True(mean > 0 && r.GetProperty("peak_gbps").GetDouble() >= mean, r.ToString());
            Assert.Equal(0, r.GetProperty("vs_exit").GetInt32());
            Assert.Equal("figure1.png", r.GetProperty("figure").GetString());
            Assert.Equal(10, r.GetProperty("bucket_ms").GetInt32());

            // Both stacks carried the flow to their own server, and what the servers got adds up to what arrived.
            JsonElement[] stacks = [.. r.GetProperty("stacks").EnumerateArray()];
            Assert.Equal(["udp", "dccp"], stacks.Select(s => s.GetProperty("stack").GetString()));
            Assert.All(stacks, s => Assert.True(s.GetProperty("received").GetInt64() > 0, $"{s}: its server got nothing"));
            Assert.Equal(received, stacks.Sum(s => s.GetProperty("received").GetInt64()));

            // Switches as VS recorded them, each measured at the servers; the first one to dccp built it.
            JsonElement[] switches = [.. r.GetProperty("switches").EnumerateArray()];
            Assert.NotEmpty(switches);
            Assert.True(switches.Length == r.GetProperty("switches_total").GetInt64(), r.GetProperty("switches").ToString());
            foreach (JsonElement s in switches)
            {
                Assert.Contains(s.GetProperty("from").GetString(), new[] { "udp", "dccp" });
                Assert.Contains(s.GetProperty("to").GetString(), new[] { "udp", "dccp" });
                Assert.NotEqual(s.GetProperty("from").GetString(), s.GetProperty("to").GetString());
                Assert.True(s.GetProperty("gap_ms").GetDouble() >= 0, s.ToString());
                Assert.True(s.GetProperty("lost").GetInt64() >= 0 && s.GetProperty("lost").GetInt64() <= sent - received, s.ToString());
                Assert.True(s.GetProperty("at_s").GetDouble() is > 0 and < 10, s.ToString());
                Assert.True(s.TryGetProperty("first_build_ms", out _), s.ToString());
                Assert.True(s.TryGetProperty("min_bucket_ratio", out _), s.ToString());
            }

            JsonElement first = switches[0];
            Assert.Equal(("udp", "dccp", false), (first.GetProperty("from").GetString(), first.GetProperty("to").GetString(), first.GetProperty("cached").GetBoolean()));
            double build = first.GetProperty("first_build_ms").GetDouble();
            Assert.True(build > 0, first.ToString());
            Assert.Equal(build, r.GetProperty("first_build_ms").GetDouble());
            Assert.All(switches.Skip(1), s => Assert.True(s.GetProperty("cached").GetBoolean() && s.GetProperty("first_build_ms").ValueKind == JsonValueKind.Null, s.ToString()));
            Assert.Equal(JsonValueKind.Object, r.GetProperty("targets").ValueKind);
            Assert.Equal(JsonValueKind.Object, r.GetProperty("steady").ValueKind);

            // counts.csv: one row per 10 ms from the first packet on, both servers, adding up to what arrived.
            string[] lines = (await File.ReadAllLinesAsync(Path.Combine(outDir, "counts.csv"))).Where(l => l.Length > 0).ToArray();
            Assert.Equal("time_ms,udp_packets,dccp_packets", lines[0]);
            long udp = 0;
            long dccp = 0;
            for (int i = 1; i < lines.Length; i++)
            {
                string[] cells = lines[i].Split(',');
                Assert.Equal((i - 1) * 10, long.Parse(cells[0], CultureInfo.InvariantCulture));
                udp += long.Parse(cells[1], CultureInfo.InvariantCulture);
                dccp += long.Parse(cells[2], CultureInfo.InvariantCulture);
            }

            Assert.Equal((stacks[0].GetProperty("received").GetInt64(), stacks[1].GetProperty("received").GetInt64()), (udp, dccp));
            Assert.InRange(lines.Length - 1, 200, 4 * 100 * 4); // a 4 s run is ~400 buckets; a loaded machine stretches it

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

    [SkippableFact]
    public async Task An_interrupted_demo_removes_everything_it_created()
    {
        Requires.Root();
        string outDir = Path.Combine(Path.GetTempPath(), $"vs-demo-int-{Environment.ProcessId}-{Guid.NewGuid():N}");
        using var demo = new Process { StartInfo = Cmd.StartInfo(VsExecutable.Path, ["demo", "--seconds", "60", "--out", outDir], false, VsExecutable.Environment()) };
        var output = new System.Text.StringBuilder();
        demo.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        demo.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        try
        {
            demo.Start();
            demo.BeginOutputReadLine();
            demo.BeginErrorReadLine();
            // Interrupt once the traffic runs (every process started, VS carrying): the most there is to clean up.
            var clock = Stopwatch.StartNew();
            while (!Text().Contains("vs demo: ", StringComparison.Ordinal) && clock.Elapsed < TimeSpan.FromSeconds(60) && !demo.HasExited)
            {
                await Task.Delay(100);
            }

            Assert.False(demo.HasExited, Text());
            Assert.Equal(0, LibC.kill(demo.Id, 2)); // SIGINT, as Ctrl-C
            Assert.True(demo.WaitForExit(30_000), $"vs demo did not end within 30 s of SIGINT: {Text()}");
            demo.WaitForExit();
            Log(Text());
            Assert.Equal(130, demo.ExitCode);
            await AssertNothingLeftAsync(Text(), outDir);
        }
        finally
        {
            if (!demo.HasExited)
            {
                demo.Kill(entireProcessTree: true);
            }

            if (Directory.Exists(outDir))
            {
                Directory.Delete(outDir, recursive: true);
            }
        }

        string Text()
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    /// <summary>
    /// The lab the demo announced is gone: both namespaces (and with them the TUN, veths and VS's rules and routes),
    /// the management socket, every process it started (each names the output folder: config or arrival log), and the
    /// arrival logs.
    /// </summary>
    private static async Task AssertNothingLeftAsync(string demoOutput, string outDir)
    {
        Match lab = LabLine().Match(demoOutput);
        Assert.True(lab.Success, $"the demo did not name its namespaces: {demoOutput}");
        string netns = (await Cmd.CheckedAsync("ip", "netns", "list")).StdOut;
        foreach (string ns in new[] { lab.Groups["edge"].Value, lab.Groups["server"].Value })
        {
            Assert.DoesNotContain(ns, netns, StringComparison.Ordinal);
            Assert.False(File.Exists($"/run/netns/{ns}"), $"/run/netns/{ns} left behind");
        }

        Assert.False(File.Exists($"/run/virtualstack/{lab.Groups["edge"].Value}.sock"), "the demo's management socket was left behind");
        Assert.False((await Cmd.RunAsync("ip", "link", "show", "vsd0")).Ok, "a vsd0 device exists outside the demo's namespace");
        string[] leftover = [.. Directory.GetDirectories("/proc").Select(d => (Dir: d, CmdLine: ReadCmdLine(d))).Where(p => p.CmdLine.Contains(outDir, StringComparison.Ordinal)).Select(p => $"{p.Dir}: {p.CmdLine}")];
        Assert.True(leftover.Length == 0, $"processes of the demo still run: {string.Join('\n', leftover)}");
        Assert.Empty(Directory.Exists(outDir) ? Directory.GetFiles(outDir, "arrivals-*") : []);
    }

    private static string ReadCmdLine(string procDir)
    {
        try
        {
            return File.ReadAllText(Path.Combine(procDir, "cmdline")).Replace('\0', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
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
