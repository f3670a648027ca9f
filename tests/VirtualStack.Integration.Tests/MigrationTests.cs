using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// Flow migration with NAT: the application sends to 10.201.0.2:9400 (nothing listens there); the rule's NAT sends
/// the flow to server A (10.201.0.2:9401, path 1); mid-stream the far end moves to server B (10.202.0.2:9402, path
/// 2), told by the management interface (vs migrate) or found unreachable by VS (the rule's Fallback). The
/// application keeps hearing every reply from the address it sent to; the loss window is measured.
/// </summary>
public sealed class MigrationTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const int Rate = 2000;

    private static JsonObject Rule(NetnsTopology topology, string? fallback = null)
    {
        var rule = new JsonObject
        {
            ["Name"] = "moving",
            ["Match"] = new JsonObject { ["Protocol"] = "udp", ["DestinationPort"] = MultipathStream.AppPort },
            ["Stacks"] = new JsonArray("udpA"),
            ["Nat"] = new JsonObject { ["udpA"] = $"{topology.Paths[0].ServerV4}:{MultipathStream.PortA}" },
        };
        if (fallback is not null)
        {
            rule["Fallback"] = fallback;
            rule["FallbackAfter"] = "00:00:00.3";
        }

        return rule;
    }

    /// <summary>
    /// <c>vs migrate FLOW 10.202.0.2:9402</c> after 1 s of a 3 s stream: a new UDP binding to server B is built at
    /// once (make before break), so nothing may be lost; the order of arrival says where the cut was: every datagram
    /// before it at A, every one after it at B.
    /// </summary>
    [SkippableFact]
    public async Task A_flow_migrated_by_command_keeps_the_applications_view_and_loses_nothing()
    {
        await using var topology = await TopologyAsync(paths: 2);
        await using var vs = await VsInstance.StartAsync(topology, MultipathStream.Config(Rule(topology)), $"--Tun:TxQueueLength={Rate * 3}");
        await using var stream = MultipathStream.Open(topology);
        Task<CmdResult>? migrate = null;
        double migrateAt = 0;

        await stream.SendAsync(Rate * 3, Rate, async i =>
        {
            if (i == Rate)
            {
                JsonElement flow = await MultipathStream.FlowAsync(vs, "moving");
                migrateAt = stream.NowMs;
                migrate = VsInstance.RunCommandAsync(null, "migrate", flow.GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture),
                    $"{stream.FarB}", "--socket", vs.ManagementSocket);
            }
        });
        CmdResult answer = await migrate!;
        Assert.True(answer.Ok, answer.ToString());
        await stream.SettleAsync(TimeSpan.FromSeconds(3));

        int[] lost = stream.Lost();
        int lastA = stream.AtA.Count == 0 ? -1 : stream.AtA.Max();
        int firstB = stream.AtB.Count == 0 ? -1 : stream.AtB.Min();
        JsonElement after = await MultipathStream.FlowAsync(vs, "moving");
        Log($"migrate asked at {migrateAt:F0} ms: {answer.StdOut.Trim()}; A got {stream.AtA.Count} (last {lastA}), B got {stream.AtB.Count} (first {firstB}); " +
            $"lost {lost.Length} in a window of {stream.LossWindowMs(lost):F1} ms; replies {stream.Replies}, from elsewhere {stream.RepliesFromElsewhere}");
        Log(after.ToString());
        Assert.Equal(0, stream.RepliesFromElsewhere);
        Assert.Equal(0, stream.Corrupt);
        Assert.Empty(lost);
        Assert.True(stream.AtA.Count > Rate / 2 && stream.AtB.Count > Rate, $"A {stream.AtA.Count}, B {stream.AtB.Count}");
        Assert.Equal(firstB, lastA + 1);
        Assert.Equal($"{stream.FarB}", after.GetProperty("stacks")[0].GetProperty("remote").GetString());
        Assert.Equal(1, after.GetProperty("migrations").GetInt64());
        Assert.True(stream.Replies > Rate * 3 * 0.98, $"only {stream.Replies} replies reached the application");
        await vs.StopAsync();
    }

    /// <summary>
    /// The rule names a Fallback (server B) used after 300 ms without replies. Server A goes away after 1 s: the
    /// flow moves to B by itself. What was sent to A between its end and the move is the loss window: it must be at
    /// most FallbackAfter plus the detection granularity (well under 1 s).
    /// </summary>
    [SkippableFact]
    public async Task A_flow_whose_far_end_stops_answering_moves_to_the_rules_fallback()
    {
        await using var topology = await TopologyAsync(paths: 2);
        await using var stream = MultipathStream.Open(topology);
        await using var vs = await VsInstance.StartAsync(topology, MultipathStream.Config(Rule(topology, $"{stream.FarB}")), $"--Tun:TxQueueLength={Rate * 3}");
        double goneAt = 0;

        await stream.SendAsync(Rate * 3, Rate, i =>
        {
            if (i == Rate)
            {
                goneAt = stream.NowMs;
                stream.CloseA();
            }

            return Task.CompletedTask;
        });
        await stream.SettleAsync(TimeSpan.FromSeconds(3));

        int[] lost = stream.Lost();
        double window = stream.LossWindowMs(lost);
        Log($"server A gone at {goneAt:F0} ms; lost {lost.Length} in a window of {window:F1} ms; A {stream.AtA.Count}, B {stream.AtB.Count}; replies {stream.Replies}");
        Assert.Equal(0, stream.RepliesFromElsewhere);
        Assert.True(stream.AtB.Count > Rate, $"B got only {stream.AtB.Count}: the flow did not move");
        Assert.True(window is > 0 and <= 1000, $"loss window {window:F1} ms");
        Assert.All(lost, s => Assert.InRange(stream.SentAt[s], goneAt - 50, goneAt + 1000));
        Assert.Contains(vs.Process.StdErr, l => l.Contains("moving to the rule's Fallback", StringComparison.Ordinal));
        await vs.StopAsync();
    }

    /// <summary>
    /// One path of a multipath flow moves: <c>vs migrate spread 10.201.0.2:9401 --path b</c> sends path b to server A
    /// too. After the cut every datagram reaches server A, nothing is lost, the application's view is kept.
    /// </summary>
    [SkippableFact]
    public async Task One_path_of_a_multipath_flow_moves_by_command()
    {
        await using var topology = await TopologyAsync(paths: 2);
        await using var stream = MultipathStream.Open(topology);
        await using var vs = await VsInstance.StartAsync(topology, MultipathStream.Config(MultipathStream.PathsRule(topology, "WeightedRoundRobin")),
            $"--Tun:TxQueueLength={Rate * 2}");
        Task<CmdResult>? migrate = null;

        await stream.SendAsync(Rate * 2, Rate, i =>
        {
            if (i == Rate / 2)
            {
                migrate = VsInstance.RunCommandAsync(null, "migrate", "spread", $"{stream.FarA}", "--path", "b", "--socket", vs.ManagementSocket);
            }

            return Task.CompletedTask;
        });
        CmdResult answer = await migrate!;
        Assert.True(answer.Ok, answer.ToString());
        await stream.SettleAsync(TimeSpan.FromSeconds(3));

        int lastB = stream.AtB.Max();
        JsonElement flow = await MultipathStream.FlowAsync(vs, "spread");
        JsonElement b = flow.GetProperty("paths").GetProperty("list")[1];
        Log($"{answer.StdOut.Trim()}; B got {stream.AtB.Count} (last {lastB}), A {stream.AtA.Count}; lost {stream.Lost().Length}; replies {stream.Replies}");
        Assert.Empty(stream.Lost());
        Assert.Equal(0, stream.RepliesFromElsewhere);
        Assert.Equal($"{stream.FarA}", b.GetProperty("remote").GetString());
        Assert.Equal(1, b.GetProperty("migrations").GetInt64());
        Assert.True(stream.AtA.Count(s => s > lastB) >= Rate * 2 - lastB - 2, "after the cut not everything reached server A");
        Assert.True(stream.Replies >= Rate * 2 * 0.98, $"only {stream.Replies} replies");
        await vs.StopAsync();
    }

    /// <summary>
    /// The controller moves every flow of the rule through the remote management interface (signed, from the server
    /// namespace, with <c>vs migrate RULE ADDRESS --remote HOST:PORT --key-file FILE</c>): same effect as locally.
    /// </summary>
    [SkippableFact]
    public async Task A_rule_migrated_by_the_remote_controller_moves_its_flows()
    {
        const int port = 7701;
        await using var topology = await TopologyAsync(paths: 2);
        byte[] key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        string keyFile = Path.Combine(Path.GetTempPath(), $"vs-mp-key-{topology.Id}");
        await File.WriteAllTextAsync(keyFile, Convert.ToHexStringLower(key));
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try
        {
            VsConfig config = MultipathStream.Config(Rule(topology));
            config.RemoteManagement = new JsonObject
            {
                ["Listen"] = $"{topology.Main.EdgeV4}:{port}",
                ["Key"] = Convert.ToHexStringLower(key),
            };
            await using var stream = MultipathStream.Open(topology);
            await using var vs = await VsInstance.StartAsync(topology, config, $"--Tun:TxQueueLength={Rate * 2}");
            Task<CmdResult>? migrate = null;

            await stream.SendAsync(Rate * 2, Rate, i =>
            {
                if (i == Rate / 2)
                {
                    migrate = VsInstance.RunCommandAsync(topology.Server, "migrate", "moving", $"{stream.FarB}",
                        "--remote", $"{topology.Main.EdgeV4}:{port}", "--key-file", keyFile);
                }

                return Task.CompletedTask;
            });
            CmdResult answer = await migrate!;
            Assert.True(answer.Ok, answer.ToString());
            await stream.SettleAsync(TimeSpan.FromSeconds(3));

            Log($"{answer.StdOut.Trim()}; A {stream.AtA.Count}, B {stream.AtB.Count}; lost {stream.Lost().Length}; replies {stream.Replies}");
            Assert.Contains("moving to", answer.StdOut, StringComparison.Ordinal);
            Assert.Empty(stream.Lost());
            Assert.Equal(0, stream.RepliesFromElsewhere);
            Assert.True(stream.AtB.Count > Rate / 2, $"B got only {stream.AtB.Count}");
            Assert.Equal(stream.AtB.Min(), stream.AtA.Max() + 1);
            await vs.StopAsync();
        }
        finally
        {
            File.Delete(keyFile);
        }
    }

    /// <summary>
    /// Migration on a Dccp stack: the flow's DCCP connection goes to a vs dccp listen in front of server A; vs migrate
    /// moves it to another listener in front of server B. The new DCCP connection (its handshake) is built while the
    /// old one carries the flow, then the old one is closed. Measured: what is lost at the cut (datagrams still
    /// queued on the old connection when it closes); bounded to well under 1 s of traffic.
    /// </summary>
    [SkippableFact]
    public async Task A_dccp_flow_migrated_by_command_gets_a_new_dccp_connection_to_the_new_far_end()
    {
        const int dccpPort = 9300;
        await using var topology = await TopologyAsync(paths: 2);
        var plugins = await VsInstance.RunCommandAsync(null, "plugins", "--json", "--path", VsExecutable.PluginsDirectory);
        Skip.IfNot(plugins.Ok && plugins.StdOut.Contains("stack Dccp", StringComparison.Ordinal), "the Dccp plugin provides no Dccp stack in this build");
        await using var stream = MultipathStream.Open(topology);
        foreach ((NetPath path, System.Net.IPEndPoint server) in new[] { (topology.Paths[0], stream.FarA), (topology.Paths[1], stream.FarB) })
        {
            var listener = topology.Track(NsProcess.Start(topology.Server, VsExecutable.Path,
                ["dccp", "listen", "--port", $"{dccpPort}", "--address", $"{path.ServerV4}", "--deliver", $"{server}"], Log, VsExecutable.Environment()));
            await listener.WaitForLineAsync(l => l.Contains("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "a DCCP listener's readiness");
        }

        var rule = Rule(topology);
        rule["Stacks"] = new JsonArray("dccp");
        rule["Nat"] = new JsonObject { ["dccp"] = $"{topology.Paths[0].ServerV4}:{dccpPort}" };
        VsConfig config = MultipathStream.Config(rule);
        config.Stacks["dccp"] = new() { ["Plugin"] = "Dccp", ["SendQueue"] = "4000" };
        await using var vs = await VsInstance.StartAsync(topology, config, $"--Tun:TxQueueLength={Rate * 2}");
        Task<CmdResult>? migrate = null;

        await stream.SendAsync(Rate * 2, Rate, i =>
        {
            if (i == Rate / 2)
            {
                migrate = VsInstance.RunCommandAsync(null, "migrate", "moving", $"{topology.Paths[1].ServerV4}:{dccpPort}", "--socket", vs.ManagementSocket);
            }

            return Task.CompletedTask;
        });
        CmdResult answer = await migrate!;
        Assert.True(answer.Ok, answer.ToString());
        await stream.SettleAsync(TimeSpan.FromSeconds(3));

        int[] lost = stream.Lost();
        double window = stream.LossWindowMs(lost);
        // The first datagrams wait for the first handshake (make before break has nothing to fall back on then).
        int[] lostAfterStart = [.. lost.Where(s => s > 200)];
        Log($"A {stream.AtA.Count}, B {stream.AtB.Count}; lost {lost.Length} ({lostAfterStart.Length} after the first 200: {string.Join(',', lostAfterStart.Take(20))}) " +
            $"window {stream.LossWindowMs(lostAfterStart):F1} ms; replies {stream.Replies}, from elsewhere {stream.RepliesFromElsewhere}");
        Assert.Equal(0, stream.RepliesFromElsewhere);
        Assert.True(stream.AtA.Count > Rate / 4 && stream.AtB.Count > Rate / 2, $"A {stream.AtA.Count}, B {stream.AtB.Count}");
        Assert.True(stream.LossWindowMs(lostAfterStart) <= 100, $"loss window at the cut {stream.LossWindowMs(lostAfterStart):F1} ms");
        Assert.Contains(vs.Process.StdErr, l => l.Contains($"moved from {topology.Paths[0].ServerV4}:{dccpPort} to {topology.Paths[1].ServerV4}:{dccpPort}", StringComparison.Ordinal));
        await vs.StopAsync();
    }
}
