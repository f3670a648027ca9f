using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// Redundant multipath with the sequence tag, end to end on two veth paths: VS sends every datagram on both paths,
/// tagged; a far-side <c>vs relay --dedup</c> listening on both path addresses hands each datagram once to an
/// unchanged UDP server (the stream's server A, which records every arrival and echoes it) and sends each echo back
/// tagged on both paths; VS hands the application each echo once. The server must see every datagram exactly once
/// and the application every echo exactly once - with both paths clean, and with each path losing a fifth of what
/// it carries (one path toward the server, the other toward VS), where a single path would lose 20 %.
/// </summary>
public sealed class RedundantDedupTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const int Rate = 2000;
    private const int Count = 2000;
    private const int RelayPortA = 9501;
    private const int RelayPortB = 9502;

    [SkippableFact]
    public async Task A_dedup_relay_hands_the_server_each_datagram_of_a_redundant_flow_once()
    {
        await using var topology = await TopologyAsync(paths: 2);
        await RunAsync(topology, lossy: false);
    }

    [SkippableFact]
    public async Task Over_two_lossy_paths_nothing_is_lost_and_nothing_is_duplicated()
    {
        Requires.Tools("nft");
        await using var topology = await TopologyAsync(paths: 2);

        // 20 % of what path 2 carries toward the server and of what path 1 carries back toward VS is dropped
        // (nftables: this kernel has no sch_netem). The namespaces' deletion removes the tables.
        VirtualStack.Host.Setup.NftablesLoss.Add(topology.Server, "vsdd", topology.Paths[1].ServerDevice, 20);
        VirtualStack.Host.Setup.NftablesLoss.Add(topology.Edge, "vsdd", topology.Paths[0].EdgeDevice, 20);
        await RunAsync(topology, lossy: true);
    }

    /// <summary>
    /// Path b is a Dccp path: a DCCP connection to <c>vs dccp listen</c>, which hands each (still tagged) datagram to the
    /// relay's path-b address and carries the relay's tagged echoes back over the connection - the DCCP far side drops
    /// duplicates by putting the relay behind it. Once both paths are up, path a loses 20 % toward the server; the
    /// server still gets each datagram once and the application each echo once.
    /// </summary>
    [SkippableFact]
    public async Task A_dccp_path_and_a_lossy_udp_path_deliver_each_datagram_once_through_dccp_listen_and_the_relay()
    {
        const int dccpPort = 9300;
        Requires.Tools("nft");
        await using var topology = await TopologyAsync(paths: 2);
        var plugins = await VsInstance.RunCommandAsync(null, "plugins", "--json", "--path", VsExecutable.PluginsDirectory);
        Skip.IfNot(plugins.Ok && plugins.StdOut.Contains("stack Dccp", StringComparison.Ordinal), "the Dccp plugin provides no Dccp stack in this build");
        await using var stream = MultipathStream.Open(topology);
        string relayA = $"{topology.Paths[0].ServerV4}:{RelayPortA}";
        string relayB = $"{topology.Paths[1].ServerV4}:{RelayPortB}";
        var relay = topology.Track(NsProcess.Start(topology.Server, VsExecutable.Path,
            ["relay", "--listen", $"{relayA},{relayB}", "--deliver", $"{stream.FarA}", "--dedup", "--json"], Log, VsExecutable.Environment()));
        await relay.WaitForLineAsync(l => l.Contains("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the relay's readiness");
        var listener = topology.Track(NsProcess.Start(topology.Server, VsExecutable.Path,
            ["dccp", "listen", "--port", $"{dccpPort}", "--address", $"{topology.Paths[1].ServerV4}", "--deliver", relayB], Log, VsExecutable.Environment()));
        await listener.WaitForLineAsync(l => l.Contains("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the DCCP listener's readiness");

        JsonObject rule = MultipathStream.PathsRule(topology, "Redundant");
        rule["SequenceTag"] = true;
        rule["Paths"]![0]!["To"] = relayA;
        rule["Paths"]![1]!["Stack"] = "dccp";
        rule["Paths"]![1]!["To"] = $"{topology.Paths[1].ServerV4}:{dccpPort}";
        VsConfig config = MultipathStream.Config(rule);
        config.Stacks.Remove("udpB");
        config.Stacks["dccp"] = new() { ["Plugin"] = "Dccp", ["SendQueue"] = "4000" };
        await using var vs = await VsInstance.StartAsync(topology, config, $"--Tun:TxQueueLength={Rate * 3}");

        // The first datagram opens the flow (and the DCCP handshake); the flow re-decides its paths' state at its packets,
        // so a few more go (on path a) until path b is up. The loss starts then.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        do
        {
            Assert.True(DateTime.UtcNow < deadline, "the dccp path did not come up");
            await stream.SendAsync(1, Rate);
            await Task.Delay(50);
        }
        while ((await MultipathStream.FlowAsync(vs, "spread")).GetProperty("paths").GetProperty("up").GetInt32() < 2);

        int early = stream.Sent;
        VirtualStack.Host.Setup.NftablesLoss.Add(topology.Server, "vsdd", topology.Paths[0].ServerDevice, 20);
        await stream.SendAsync(Count - early, Rate);
        await stream.SettleAsync(TimeSpan.FromSeconds(5));
        deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (stream.Replies < Count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await Task.Delay(500);
        JsonElement flow = await MultipathStream.FlowAsync(vs, "spread");
        Log(flow.ToString());
        relay.Signal(LibC.SigTerm);
        Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        int[] atA;
        lock (stream.AtA)
        {
            atA = [.. stream.AtA];
        }

        int repeated = atA.Length - atA.Distinct().Count();
        Log($"udp path a (20 % loss toward the server) + dccp path b (up after {early} datagrams): server got {atA.Length} datagrams, {repeated} repeated, lost {stream.Lost().Length}; " +
            $"application got {stream.Replies} echoes; relay {relay.StdOut.Last(l => l.StartsWith('{'))}");
        Assert.Equal(0, stream.Corrupt);
        Assert.Equal(0, repeated);
        Assert.Empty(stream.Lost());
        Assert.Equal(Count, atA.Length);
        Assert.Equal(Count, stream.Replies);
        JsonElement b = flow.GetProperty("paths").GetProperty("list")[1];
        Assert.True(b.GetProperty("packets_sent").GetInt64() >= Count - early, $"the dccp path carried only {b.GetProperty("packets_sent")} of the {Count - early} after it was up");
        await vs.StopAsync();
    }

    /// <summary>
    /// Both paths are Dccp (a stack each, raw IP from each path's address) to one <c>vs dccp listen --dedup</c> that
    /// listens on both server addresses in front of the echo server: the listener ties the two connections together by
    /// the tag's flow id. Path b loses 20 % toward the server. Once both connections are up, the server gets each
    /// datagram once and the application each echo once.
    /// </summary>
    [SkippableFact]
    public async Task Two_dccp_paths_into_dccp_listen_dedup_deliver_each_datagram_once()
    {
        const int dccpPort = 9300;
        Requires.Tools("nft");
        await using var topology = await TopologyAsync(paths: 2);
        var plugins = await VsInstance.RunCommandAsync(null, "plugins", "--json", "--path", VsExecutable.PluginsDirectory);
        Skip.IfNot(plugins.Ok && plugins.StdOut.Contains("stack Dccp", StringComparison.Ordinal), "the Dccp plugin provides no Dccp stack in this build");
        await using var stream = MultipathStream.Open(topology);
        var listener = topology.Track(NsProcess.Start(topology.Server, VsExecutable.Path,
            ["dccp", "listen", "--port", $"{dccpPort}", "--deliver", $"{stream.FarA}", "--dedup"], Log, VsExecutable.Environment()));
        await listener.WaitForLineAsync(l => l.StartsWith("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the DCCP listener's readiness");

        JsonObject rule = MultipathStream.PathsRule(topology, "Redundant");
        rule["SequenceTag"] = true;
        rule["Paths"]![0]!["Stack"] = "dccpA";
        rule["Paths"]![0]!["To"] = $"{topology.Paths[0].ServerV4}:{dccpPort}";
        rule["Paths"]![1]!["Stack"] = "dccpB";
        rule["Paths"]![1]!["To"] = $"{topology.Paths[1].ServerV4}:{dccpPort}";
        VsConfig config = MultipathStream.Config(rule);
        config.Stacks.Remove("udpA");
        config.Stacks.Remove("udpB");
        config.Stacks["dccpA"] = new() { ["Plugin"] = "Dccp", ["SendQueue"] = "4000" };
        config.Stacks["dccpB"] = new() { ["Plugin"] = "Dccp", ["SendQueue"] = "4000" };
        await using var vs = await VsInstance.StartAsync(topology, config, $"--Tun:TxQueueLength={Rate * 3}");

        // Until a connection is up the flow has no path (what it is sent meanwhile is dropped): single datagrams open
        // it and let it re-decide its paths until both are up. The loss and the counted stream start then.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        do
        {
            Assert.True(DateTime.UtcNow < deadline, "the dccp paths did not come up");
            await stream.SendAsync(1, Rate);
            await Task.Delay(50);
        }
        while ((await MultipathStream.FlowAsync(vs, "spread")).GetProperty("paths").GetProperty("up").GetInt32() < 2);

        int early = stream.Sent;
        int repliesBefore = stream.Replies;
        VirtualStack.Host.Setup.NftablesLoss.Add(topology.Server, "vsdd", topology.Paths[1].ServerDevice, 20);
        await stream.SendAsync(Count, Rate);
        deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while ((stream.Lost().Any(s => s >= early) || stream.Replies - repliesBefore < Count) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await Task.Delay(500);
        JsonElement flow = await MultipathStream.FlowAsync(vs, "spread");
        Log(flow.ToString());
        listener.Signal(LibC.SigTerm);
        Assert.Equal(0, await listener.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        int[] atA;
        lock (stream.AtA)
        {
            atA = [.. stream.AtA];
        }

        int repeated = atA.Length - atA.Distinct().Count();
        int[] lost = [.. stream.Lost().Where(s => s >= early)];
        string totals = listener.StdOut.LastOrDefault(l => l.StartsWith("dedup: totals", StringComparison.Ordinal)) ?? "(no relay totals)";
        Log($"two dccp paths (path b 20 % loss toward the server), up after {early} datagrams: server got {atA.Count(s => s >= early)} of {Count}, " +
            $"{repeated} repeated, lost {lost.Length}; application got {stream.Replies - repliesBefore} echoes; {totals}");
        Assert.Equal(0, stream.Corrupt);
        Assert.Equal(0, stream.RepliesFromElsewhere);
        Assert.Equal(0, repeated);
        Assert.Empty(lost);
        Assert.Equal(Count, stream.Replies - repliesBefore);
        Assert.Contains("flows 1,", totals, StringComparison.Ordinal);
        var dropped = System.Text.RegularExpressions.Regex.Match(totals, @"duplicates (\d+)");
        Assert.True(dropped.Success && int.Parse(dropped.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0,
            $"the listener dropped no copies: the two connections were not one flow ({totals})");
        foreach (JsonElement path in flow.GetProperty("paths").GetProperty("list").EnumerateArray())
        {
            Assert.True(path.GetProperty("packets_sent").GetInt64() >= Count, $"path {path.GetProperty("name")} carried only {path.GetProperty("packets_sent")}");
        }

        await vs.StopAsync();
    }

    [SkippableFact]
    public async Task Relay_usage_errors_exit_2_and_name_the_option()
    {
        (string[] Args, string Message)[] cases =
        [
            (["relay", "--deliver", "127.0.0.1:9"], "--listen"),
            (["relay", "--listen", "127.0.0.1:1,nowhere", "--deliver", "127.0.0.1:9"], "--listen: 'nowhere'"),
            (["relay", "--listen", "127.0.0.1:1", "--deliver", "127.0.0.1:9", "--dedup", "--window", "100"], "--window: 100 is not a power of two"),
            (["relay", "--listen", "127.0.0.1:1", "--deliver", "127.0.0.1:9", "--window", "128"], "--window: applies with --dedup only"),
            (["relay", "--listen", "127.0.0.1:1", "--deliver", "127.0.0.1:9", "--bogus", "1"], "unknown option --bogus"),
            (["dccp", "listen", "--port", "9300", "--dedup"], "--dedup needs --deliver"),
            (["dccp", "listen", "--port", "9300", "--dedup", "--deliver", "127.0.0.1:9", "--window", "65"], "--window: '65' is not a power of two"),
        ];
        foreach ((string[] args, string message) in cases)
        {
            var r = await VsInstance.RunCommandAsync(null, args);
            Assert.True(r.ExitCode == 2, $"vs {string.Join(' ', args)}: {r}");
            Assert.Contains(message, r.StdErr + r.StdOut, StringComparison.Ordinal);
        }

        var help = await VsInstance.RunCommandAsync(null, "relay", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--dedup", help.StdOut, StringComparison.Ordinal);
    }

    private async Task RunAsync(NetnsTopology topology, bool lossy)
    {
        await using var stream = MultipathStream.Open(topology);
        string relayA = $"{topology.Paths[0].ServerV4}:{RelayPortA}";
        string relayB = $"{topology.Paths[1].ServerV4}:{RelayPortB}";
        var relay = topology.Track(NsProcess.Start(topology.Server, VsExecutable.Path,
            ["relay", "--listen", $"{relayA},{relayB}", "--deliver", $"{stream.FarA}", "--dedup", "--json"], Log, VsExecutable.Environment()));
        await relay.WaitForLineAsync(l => l.Contains("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the relay's readiness");

        JsonObject rule = MultipathStream.PathsRule(topology, "Redundant");
        rule["SequenceTag"] = true;
        rule["Paths"]![0]!["To"] = relayA;
        rule["Paths"]![1]!["To"] = relayB;
        await using var vs = await VsInstance.StartAsync(topology, MultipathStream.Config(rule));

        await stream.SendAsync(Count, Rate);
        await stream.SettleAsync(TimeSpan.FromSeconds(5));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (stream.Replies < Count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await Task.Delay(500); // for any late copy to show up as a duplicate
        JsonElement flow = await MultipathStream.FlowAsync(vs, "spread");
        Log(flow.ToString());
        relay.Signal(LibC.SigTerm);
        Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        using JsonDocument totals = JsonDocument.Parse(relay.StdOut.Last(l => l.StartsWith('{')));
        JsonElement t = totals.RootElement;

        int[] atA;
        lock (stream.AtA)
        {
            atA = [.. stream.AtA];
        }

        int[] repeated = [.. atA.GroupBy(s => s).Where(g => g.Count() > 1).Select(g => g.Key)];
        JsonElement[] paths = [.. flow.GetProperty("paths").GetProperty("list").EnumerateArray()];
        Log($"{(lossy ? "lossy (20 % toward the server on path 2, 20 % back on path 1)" : "clean")}: server got {atA.Length} datagrams, " +
            $"{atA.Distinct().Count()} distinct, {repeated.Length} repeated, lost {stream.Lost().Length}; application got {stream.Replies} echoes; " +
            $"VS sent a={paths[0].GetProperty("packets_sent")} b={paths[1].GetProperty("packets_sent")}, replies on a={paths[0].GetProperty("packets_received")} " +
            $"b={paths[1].GetProperty("packets_received")}; relay {t}");

        Assert.Equal(0, stream.Corrupt);
        Assert.Equal(0, stream.RepliesFromElsewhere);
        Assert.Empty(stream.AtB);
        Assert.Empty(repeated);
        Assert.Empty(stream.Lost());
        Assert.Equal(Count, atA.Length);

        // Every datagram went on both paths, both stayed up, and each path heard echoes.
        foreach (JsonElement path in paths)
        {
            Assert.Equal(Count, path.GetProperty("packets_sent").GetInt64());
            Assert.Equal("up", path.GetProperty("state").GetString());
            Assert.True(path.GetProperty("packets_received").GetInt64() > Count / 2, $"path {path.GetProperty("name")} heard too few echoes");
        }

        // The relay delivered each once and dropped the other copy; the application heard each echo once.
        Assert.Equal(Count, t.GetProperty("delivered").GetInt64());
        Assert.Equal(1, t.GetProperty("flows").GetInt64());
        Assert.Equal(0, t.GetProperty("untagged").GetInt64());
        Assert.Equal(t.GetProperty("in").GetInt64() - Count, t.GetProperty("duplicates").GetInt64() + t.GetProperty("too_old").GetInt64());
        Assert.True(t.GetProperty("duplicates").GetInt64() >= (lossy ? Count * 7 / 10 : Count), $"the relay dropped too few copies: {t}");
        Assert.Equal(Count, stream.Replies);

        // vs flows --json: the flow's tag (the relay logs the same flow id), its last sequence, the echo copies dropped.
        JsonElement tag = flow.GetProperty("paths").GetProperty("sequence_tag");
        Assert.Contains(relay.StdOut, l => l.Contains($"flow {tag.GetProperty("flow_id").GetString()}: new", StringComparison.Ordinal));
        Assert.Equal((ulong)Count, tag.GetProperty("sequence").GetUInt64());
        Assert.Equal(paths.Sum(p => p.GetProperty("packets_received").GetInt64()) - Count, tag.GetProperty("reply_duplicates").GetInt64());
        Assert.Equal(0, tag.GetProperty("replies_untagged").GetInt64());
        await vs.StopAsync();
    }
}
