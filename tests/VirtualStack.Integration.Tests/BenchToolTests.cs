using System.Text.Json;
using VirtualStack.Host.Tools;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// The benchmark tools on their own: the latency histogram against exact percentiles, and <c>udp-gen --flows</c>
/// into <c>udp-count --ports</c> over loopback (no root needed): every flow's datagram arrives on its own port
/// and carries a send time the counter turns into a latency sample.
/// </summary>
public sealed class BenchToolTests(ITestOutputHelper output) : IntegrationTest(output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Histogram_percentiles_are_within_one_percent_of_the_exact_ones(int seed)
    {
        var random = new Random(seed);
        var histogram = new LatencyHistogram();
        long[] values = new long[50_000];
        for (int i = 0; i < values.Length; i++)
        {
            // Log-uniform from 10 ns to 100 ms, plus a few exact small values: the shapes latencies take.
            values[i] = i % 100 == 0 ? random.Next(0, 64) : (long)Math.Exp(random.NextDouble() * Math.Log(1e7)) * 10;
            histogram.Record(values[i]);
        }

        histogram.Record(-5); // a clock step: counted apart, not recorded
        Array.Sort(values);
        Assert.Equal(values.Length, histogram.Count);
        Assert.Equal(1, histogram.Negative);
        Assert.Equal(values[0], histogram.Min);
        Assert.Equal(values[^1], histogram.Max);
        foreach (double q in new[] { 0.0001, 0.01, 0.5, 0.9, 0.99, 0.999, 1.0 })
        {
            long exact = values[(int)Math.Ceiling(q * values.Length) - 1];
            long reported = histogram.Percentile(q);
            Assert.True(Math.Abs(reported - exact) <= Math.Max(1, exact / 100.0), $"q={q}: exact {exact}, reported {reported}");
        }
    }

    [Fact]
    public void Every_value_falls_in_the_bucket_whose_bounds_hold_it()
    {
        foreach (long value in new long[] { 0, 1, 63, 64, 65, 127, 128, 129, 1000, 123_456_789, long.MaxValue / 3, long.MaxValue })
        {
            (long low, long width) = LatencyHistogram.Bounds(LatencyHistogram.Index(value));
            Assert.InRange(value, low, low + (width - 1));
            Assert.True(width == 1 || width * 64 <= low, $"{value}: bucket [{low}, +{width}) is wider than 1/64 of its start");
        }
    }

    [Fact]
    public async Task Generator_flows_reach_a_counter_on_many_ports_with_latency_samples()
    {
        const int Flows = 600;
        const int Ports = 40;
        // Loopback only; ports below the kernel's ephemeral range (32768+), from the process id so that parallel
        // runs on one machine rarely meet.
        int port = 20_000 + (Environment.ProcessId % 250 * Ports);
        int sourcePort = 10_000 + (Environment.ProcessId % 250 * Ports);
        await using var counter = NsProcess.Start(null, VsExecutable.Path,
            ["udp-count", "--bind", "127.0.0.1", "--port", $"{port}", "--ports", $"{Ports}", "--json"], Log, VsExecutable.Environment());
        await counter.WaitForLineAsync(l => l.StartsWith("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "listening");

        var sent = await Cmd.RunAsync(VsExecutable.Path,
            ["udp-gen", "--to", $"127.0.0.1:{port}", "--flows", $"{Flows}", "--ports", $"{Ports}", "--source-port", $"{sourcePort}", "--size", "100", "--rate", "20000", "--json"],
            TimeSpan.FromSeconds(60), environment: VsExecutable.Environment());
        Assert.True(sent.Ok, sent.ToString());
        using (var generator = JsonDocument.Parse(sent.StdOut))
        {
            Assert.Equal(Flows, generator.RootElement.GetProperty("sent").GetInt64());
        }

        await Task.Delay(500);
        counter.Signal(LibC.SigTerm);
        Assert.Equal(0, await counter.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        using var result = JsonDocument.Parse(counter.StdOut.Last(l => l.StartsWith('{')));
        JsonElement r = result.RootElement;
        Assert.Equal(Flows, r.GetProperty("packets").GetInt64());
        Assert.Equal(Flows * 72, r.GetProperty("bytes").GetInt64()); // 100-byte IP packets carry 72 bytes of payload
        JsonElement latency = r.GetProperty("latency");
        Assert.Equal(Flows, latency.GetProperty("samples").GetInt64());
        double p50 = latency.GetProperty("p50_us").GetDouble();
        Assert.True(p50 > 0 && p50 <= latency.GetProperty("p99_us").GetDouble() && latency.GetProperty("p99_us").GetDouble() <= latency.GetProperty("max_us").GetDouble(), latency.ToString());
    }

    [Fact]
    public async Task Flows_that_need_more_sockets_than_a_process_may_hold_are_refused_with_exit_2()
    {
        var r = await Cmd.RunAsync(VsExecutable.Path, ["udp-gen", "--to", "127.0.0.1:9", "--flows", "100000"], TimeSpan.FromSeconds(30), environment: VsExecutable.Environment());
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--ports", r.StdErr, StringComparison.Ordinal);
    }
}
