using System.Text.RegularExpressions;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>vs top against a live daemon: frames with the busy flow and its rate; q quits at once.</summary>
public sealed partial class TopTests(ITestOutputHelper output) : IntegrationTest(output)
{
    [SkippableFact]
    public async Task Top_shows_the_live_flow_with_its_rate_and_quits_on_q()
    {
        await using var topology = await TopologyAsync();
        VsConfig config = SwitchStream.Config(SwitchStream.Rule(topology, "TimedSwitch", new Dictionary<string, string> { ["Period"] = "00:00:00.5" }));
        await using var vs = await VsInstance.StartAsync(topology, config);
        await using var stream = SwitchStream.Open(topology);

        Task sending = stream.SendAsync(4000, 1000);
        await Task.Delay(500);
        var top = await VsInstance.RunCommandAsync(null, "top", "--count", "3", "--interval", "0.5", "--socket", vs.ManagementSocket);
        await sending;
        Log(top.StdOut);

        Assert.True(top.Ok, top.ToString());
        Assert.Equal(3, Regex.Matches(top.StdOut, "^vs top  tun vs0  pid ", RegexOptions.Multiline).Count);
        Assert.Contains("TimedSwitch", top.StdOut, StringComparison.Ordinal);
        // A later frame has a rate for the stream's flow: roughly 1000 packets per second.
        Match row = FlowRow().Matches(top.StdOut).Last();
        Assert.InRange(int.Parse(row.Groups["pps"].Value, System.Globalization.CultureInfo.InvariantCulture), 300, 3000);

        var interactive = NsProcess.Start(null, VsExecutable.Path, ["top", "--socket", vs.ManagementSocket], Log, VsExecutable.Environment(), stdin: true);
        await using (interactive)
        {
            await interactive.WaitForLineAsync(l => l.StartsWith("vs top", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "a frame");
            await interactive.WriteStdinAsync("q");
            Assert.Equal(0, await interactive.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        }

        await vs.StopAsync();
    }

    [GeneratedRegex(@"^\d+\s+udp \S+->10\.201\.0\.2:9200\s+stream\s+udp[AB]\s+(?<pps>\d+)\s", RegexOptions.Multiline)]
    private static partial Regex FlowRow();
}
