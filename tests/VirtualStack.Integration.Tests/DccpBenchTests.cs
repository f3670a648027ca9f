using System.Text.Json.Nodes;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// <c>vs bench throughput --stack dccp</c> end to end (its own lab, removed afterwards): one short run on the
/// loss-free veth and one with 1 % loss, side by side (each bench builds its own namespaces, so they may overlap;
/// together they stay well under 20 s). Rates are not judged here (a shared 2-core machine makes them noise); the
/// JSON's shape, its ratios being what its own figures give, and CCID 2's behaviour under loss are.
/// </summary>
public sealed class DccpBenchTests(ITestOutputHelper output) : IntegrationTest(output)
{
    [SkippableFact]
    public async Task Loss_free_and_lossy_runs_report_both_stacks_and_the_congestion_window_over_time()
    {
        Requires.Root();
        Requires.Tools("nft", "tc");
        string directory = Path.Combine(Path.GetTempPath(), $"vs-dccpbench-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(directory, "clean"));
        Directory.CreateDirectory(Path.Combine(directory, "loss"));
        try
        {
            string cleanJson = Path.Combine(directory, "clean", "throughput.json");
            string lossJson = Path.Combine(directory, "loss", "throughput.json");
            Task<CmdResult> clean = Bench(["--json", cleanJson]);
            Task<CmdResult> lossy = Bench(["--loss", "1", "--json", lossJson]);
            CmdResult[] results = await Task.WhenAll(clean, lossy);
            foreach (CmdResult r in results)
            {
                Log(r.ToString());
                Assert.True(r.Ok, r.ToString());
                Assert.Contains("ratio dccp / udp stack:", r.StdOut, StringComparison.Ordinal);
            }

            JsonObject c = Read(cleanJson);
            CheckCommonFields(c);
            Assert.Null(c["loss"]);
            Assert.True(c["cwnd"]!["data_lost"] is not null, "loss-free run: no loss count");
            Assert.True(File.Exists(Path.Combine(directory, "clean", c["cwnd"]!["csv"]!.GetValue<string>())), "loss-free run wrote no cwnd CSV");

            JsonObject l = Read(lossJson);
            CheckCommonFields(l);
            Assert.Equal(1.0, l["loss"]!["percent"]!.GetValue<double>());
            Assert.Contains(l["loss"]!["method"]!.GetValue<string>(), new[] { "netem", "nftables" });
            JsonNode cwnd = l["cwnd"]!;
            // 1 % of thousands of datagrams is lost: CCID 2 must have seen losses and cut its window, more than once.
            Assert.True(cwnd["data_lost"]!.GetValue<long>() > 0, cwnd.ToJsonString());
            Assert.True(cwnd["congestion_events"]!.GetValue<long>() > 0, cwnd.ToJsonString());
            Assert.True(cwnd["backoffs"]!.GetValue<int>() > 0, cwnd.ToJsonString());
            Assert.True(cwnd["recovered"]!.GetValue<int>() > 0, $"cwnd never grew after a back-off: {cwnd.ToJsonString()}");
            JsonArray series = cwnd["series"]!.AsArray();
            long previous = -1;
            int withThreshold = 0;
            foreach (JsonNode? s in series)
            {
                long t = s!["t_ms"]!.GetValue<long>();
                Assert.True(t > previous, "series not in time order");
                previous = t;
                Assert.InRange(s["cwnd"]!.GetValue<int>(), 1, 1_000_000);
                withThreshold += s["ssthresh"] is null ? 0 : 1;
            }

            Assert.True(withThreshold > 0, "no sample shows a slow-start threshold (set at the first loss)");
            string csv = Path.Combine(directory, "loss", cwnd["csv"]!.GetValue<string>());
            string[] lines = File.ReadAllLines(csv);
            Assert.StartsWith("t_ms,cwnd,ssthresh,pipe,rtt_ms", lines[0], StringComparison.Ordinal);
            Assert.Equal(series.Count + 1, lines.Length);
            byte[] png = File.ReadAllBytes(Path.Combine(directory, "loss", cwnd["plot"]!.GetValue<string>()));
            Assert.True(png.Length > 1000 && png[1] == (byte)'P' && png[2] == (byte)'N' && png[3] == (byte)'G', "not a PNG");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private Task<CmdResult> Bench(string[] extra) =>
        Cmd.RunAsync(VsExecutable.Path, ["bench", "throughput", "--stack", "dccp", "--seconds", "1", "--size", "1300", .. extra],
            TimeSpan.FromSeconds(90), environment: VsExecutable.Environment());

    private static JsonObject Read(string file) => JsonNode.Parse(File.ReadAllText(file))!.AsObject();

    private static void CheckCommonFields(JsonObject r)
    {
        Assert.Equal("dccp", r["stack"]!.GetValue<string>());
        Assert.Equal(1300, r["size"]!.GetValue<int>());
        Assert.Equal(1, r["seconds"]!.GetValue<int>());
        double direct = r["direct"]!["pps"]!.GetValue<double>();
        double dccp = r["vs"]!["pps"]!.GetValue<double>();
        double udp = r["udp_stack"]!["pps"]!.GetValue<double>();
        double unjoined = r["udp_stack_unjoined"]!["pps"]!.GetValue<double>();
        Assert.True(direct > 0 && dccp > 0 && udp > 0 && unjoined > 0, r.ToJsonString());
        foreach (string path in new[] { "vs", "udp_stack", "udp_stack_unjoined" })
        {
            JsonNode block = r[path]!;
            foreach (string field in new[] { "gbps", "lost", "cpu", "alloc_bytes_per_packet", "cpu_us_per_packet", "ratio", "threads" })
            {
                Assert.True(block[field] is not null, $"{path}.{field} missing: {r.ToJsonString()}");
            }
        }

        Assert.True(r["vs"]!["listener"]!["cpu_us_per_packet"] is not null, "far end CPU per packet missing");
        Assert.Equal(Math.Round(dccp / udp, 3), r["ratio_dccp_udp"]!.GetValue<double>(), 2);
        Assert.Equal(Math.Round(dccp / unjoined, 3), r["ratio_dccp_udp_unjoined"]!.GetValue<double>(), 2);
        Assert.Equal(Math.Round(dccp / direct, 3), r["ratio"]!.GetValue<double>(), 2);
        Assert.True(r["cwnd"]!["samples"]!.GetValue<int>() > 0, "no cwnd sample from the Dccp stack's StatsLogMs");
        Assert.Equal(2, r["load"]!.AsObject().Count);
    }
}
