using System.Text.Json;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// The local management interface as an operator uses it: vs switch (a flow, a rule), vs policy (run-time
/// replacement), every bad command refused with a clear answer and nothing changed, and another user refused by
/// the socket itself. The effect of each command is read where it matters: at the two servers.
/// </summary>
public sealed class ManagementCommandTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const int Phase = 200;
    private const int Rate = 1000;

    [SkippableFact]
    public async Task Switch_and_policy_commands_move_the_stream_and_bad_commands_change_nothing()
    {
        await using var topology = await TopologyAsync();
        await using var vs = await VsInstance.StartAsync(topology, SwitchStream.Config(SwitchStream.Rule(topology, "Static")));
        await using var stream = SwitchStream.Open(topology);

        await PhaseAsync(stream, expectA: Phase, expectB: 0);
        long id = await FlowIdAsync(vs);

        var moved = await VsAsync(vs, "switch", $"{id}", "udpB");
        Assert.True(moved.Ok, moved.ToString());
        Assert.Contains($"flow {id} ", moved.StdOut, StringComparison.Ordinal);
        Assert.Contains("forced onto udpB (was udpA)", moved.StdOut, StringComparison.Ordinal);
        await PhaseAsync(stream, expectA: Phase, expectB: Phase);

        string before = await StateAsync(vs);
        (string[] Args, int Exit, string Message)[] bad =
        [
            (["switch", "999", "udpA"], 1, "no flow 999"),
            (["switch", $"{id}", "udpC"], 1, "'udpC' is not a stack of rule stream (udpA, udpB)"),
            (["switch", "nosuchrule", "udpA"], 1, "no rule 'nosuchrule' (rules: stream)"),
            (["switch", $"{id}"], 2, "vs switch needs FLOW|RULE and STACK"),
            (["policy", "stream", "TimedSwitch", "Period=soon"], 1, "TimedSwitch: Period: 'soon' is not a positive time span"),
            (["policy", "stream", "TimedSwitch", "Perod=00:00:01"], 1, "Perod: unknown option"),
            (["policy", "stream", "Teleport"], 1, "no plugin in"),
            (["policy", "stream", "RuleBased", "When:0:Stack=udpB", "When:0:Uid=nosuchuser-here"], 1, "When:0:Uid: 'nosuchuser-here' is not a uid"),
            (["policy", "stream", "Static", "Stack"], 2, "'Stack' is not a option written KEY=VALUE"),
            (["measure", "udpA", "loss=2"], 1, "loss is a ratio from 0 to 1"),
        ];
        foreach (var (args, exit, message) in bad)
        {
            var r = await VsAsync(vs, args);
            Assert.True(r.ExitCode == exit, $"vs {string.Join(' ', args)}: expected exit {exit}: {r}");
            Assert.Contains(message, r.StdErr, StringComparison.Ordinal);
        }

        // Same policy, same override, same epoch of everything: nothing changed.
        Assert.Equal(before, await StateAsync(vs));
        await PhaseAsync(stream, expectA: Phase, expectB: 2 * Phase);

        var policy = await VsAsync(vs, "policy", "stream", "Static", "Stack=udpA");
        Assert.True(policy.Ok, policy.ToString());
        Assert.Contains("rule stream: policy Static Stack=udpA (was Static)", policy.StdOut, StringComparison.Ordinal);
        await PhaseAsync(stream, expectA: 2 * Phase, expectB: 2 * Phase);

        var rule = await VsAsync(vs, "switch", "stream", "udpB");
        Assert.True(rule.Ok, rule.ToString());
        Assert.Contains("rule stream: every flow (1 now) forced onto udpB", rule.StdOut, StringComparison.Ordinal);
        await PhaseAsync(stream, expectA: 2 * Phase, expectB: 3 * Phase);

        var status = await VsAsync(vs, "status");
        Assert.Matches(@"stream\s+udpA,udpB\s+Static\s+Stack=udpA\s+udpB\s+0", status.StdOut);
        Assert.Equal(0, stream.Corrupt);
        await vs.StopAsync();
    }

    [SkippableFact]
    public async Task Another_user_cannot_reach_the_socket_and_changes_nothing()
    {
        Requires.Tools("setpriv", "socat");
        await using var topology = await TopologyAsync();
        await using var vs = await VsInstance.StartAsync(topology, SwitchStream.Config(SwitchStream.Rule(topology, "Static")));
        await using var stream = SwitchStream.Open(topology);
        await PhaseAsync(stream, expectA: Phase, expectB: 0);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(vs.ManagementSocket));
        // Let others reach the socket file, so that only the socket's own mode (0600) stands in their way.
        string directory = Path.GetDirectoryName(vs.ManagementSocket)!;
        File.SetUnixFileMode(directory, File.GetUnixFileMode(directory) | UnixFileMode.OtherExecute | UnixFileMode.GroupExecute);
        string before = await StateAsync(vs);

        string[] nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];
        var asNobody = await Cmd.RunAsync("setpriv", [.. nobody, VsExecutable.PathForOtherUsers, "switch", "rule:stream", "udpB", "--socket", vs.ManagementSocket],
            TimeSpan.FromSeconds(60), environment: VsExecutable.Environment());
        Assert.True(asNobody.ExitCode == 1, $"vs switch as nobody: {asNobody}");
        Assert.Contains("Permission denied", asNobody.StdErr, StringComparison.Ordinal);
        Assert.Contains("owner-only", asNobody.StdErr, StringComparison.Ordinal);

        // A client that is not vs at all, speaking the protocol directly.
        var raw = await Cmd.RunAsync("setpriv", [.. nobody, "socat", "-", $"UNIX-CONNECT:{vs.ManagementSocket}"], TimeSpan.FromSeconds(30),
            stdin: "{\"command\":\"policy\",\"rule\":\"stream\",\"policy\":\"Static\",\"options\":{\"Stack\":\"udpB\"}}\n");
        Assert.False(raw.Ok, $"socat as nobody: {raw}");
        Assert.Contains("Permission denied", raw.StdErr, StringComparison.Ordinal);
        Assert.DoesNotContain("\"ok\"", raw.StdOut, StringComparison.Ordinal);

        Assert.Equal(before, await StateAsync(vs));
        await PhaseAsync(stream, expectA: 2 * Phase, expectB: 0);
        await vs.StopAsync();
    }

    private static Task<CmdResult> VsAsync(VsInstance vs, params string[] args) =>
        VsInstance.RunCommandAsync(null, [.. args, "--socket", vs.ManagementSocket]);

    private static async Task<long> FlowIdAsync(VsInstance vs)
    {
        using JsonDocument flows = await SwitchStream.JsonAsync(vs, "flows");
        return flows.RootElement.EnumerateArray().Single(f => f.GetProperty("rule").GetString() == "stream").GetProperty("id").GetInt64();
    }

    /// <summary>What a command could change, as text: the rules' policies, options and overrides, and each flow's override.</summary>
    private static async Task<string> StateAsync(VsInstance vs)
    {
        using JsonDocument status = await SwitchStream.JsonAsync(vs, "status");
        using JsonDocument flows = await SwitchStream.JsonAsync(vs, "flows");
        var rules = status.RootElement.GetProperty("rules").EnumerateArray()
            .Select(r => $"{r.GetProperty("name")} {r.GetProperty("policy")} {r.GetProperty("options")} forced={r.GetProperty("forced")} since={r.GetProperty("since")}");
        // vs flows lists the most recently used flow first: compare in id order, which a packet cannot change.
        var forced = flows.RootElement.EnumerateArray()
            .OrderBy(f => f.GetProperty("id").GetInt64())
            .Select(f => $"flow {f.GetProperty("id")} forced={f.GetProperty("forced")}");
        return string.Join('\n', rules.Concat(forced));
    }

    /// <summary>Sends one phase of the stream and checks where it all went (cumulative counts at A and B).</summary>
    private async Task PhaseAsync(SwitchStream stream, int expectA, int expectB)
    {
        await stream.SendAsync(Phase, Rate);
        await stream.SettleAsync(TimeSpan.FromSeconds(5));
        Log($"after {stream.Sent} datagrams: A {stream.AtA.Count}, B {stream.AtB.Count}");
        Assert.Equal((expectA, expectB), (stream.AtA.Count, stream.AtB.Count));
    }
}
