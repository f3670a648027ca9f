using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// An unchanged UDP application in the edge namespace talks through <c>vs run</c> with a rule whose stack is Dccp:
/// each flow becomes one DCCP connection (raw IP protocol 33) over the veth to <c>vs dccp listen --deliver</c> in
/// the server namespace, which hands every datagram as UDP to an unchanged server and carries its replies back.
/// </summary>
public sealed class DccpStackTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const int AppPort = 9000;     // what the application addresses (captured into vs0)
    private const int DccpPort = 9001;    // the listener's DCCP port (the rule's Nat for the dccp stack)
    private const int ServerPort = 7000;  // the unchanged UDP server behind the listener
    private const int Size = 512;

    [SkippableTheory]
    [InlineData("raw", false)]
    [InlineData("udp", false)]
    [InlineData("raw", true)]
    public async Task Udp_request_gets_its_response_over_dccp_through_the_listener(string transport, bool earlyOpen)
    {
        Requires.Tools("socat");
        await using var topology = await TopologyAsync();
        var server = await Apps.UdpEchoServerAsync(topology, topology.Main.ServerV4, ServerPort);
        NsProcess listener = await StartListenerAsync(topology, transport);
        VsConfig config = DccpConfig(topology, transport);
        config.Stacks["dccp"]!["EarlyOpen"] = earlyOpen;
        await using var vs = await VsInstance.StartAsync(topology, config);

        // An ordinary UDP client that repeats its request until answered (as DNS does): the first datagram of a new
        // flow opens the DCCP connection; with dccp as the rule's only stack nothing can carry it before the handshake
        // completed, so VS holds it (Flows:HoldPackets) and sends it once the connection is up (with EarlyOpen the
        // stack holds it instead): one request must be enough.
        var to = new IPEndPoint(topology.Main.ServerV4, AppPort);
        using var app = Netns.UdpSocket(topology.Edge, new IPEndPoint(IPAddress.Any, 0));
        byte[] request = "hello-over-dccp"u8.ToArray();
        byte[] buffer = new byte[2048];
        System.Net.Sockets.SocketReceiveFromResult? reply = null;
        int tries = 0;
        while (reply is null && tries < 20)
        {
            tries++;
            await app.SendToAsync(request, to);
            using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            try
            {
                reply = await app.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), wait.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        var context = $"{vs.Process.Output()}\n{listener.Output()}\n{server.Output()}";
        Assert.True(reply is not null, $"no reply after {tries} requests.\n{context}");
        Log($"reply after {tries} request(s)");
        Assert.Equal("hello-over-dccp", System.Text.Encoding.ASCII.GetString(buffer, 0, reply.Value.ReceivedBytes));
        Assert.Equal(to, reply.Value.RemoteEndPoint); // the application sees the reply from what it addressed
        Assert.True(tries == 1, $"{tries} requests were needed: the first one, sent before the handshake, must be held, not lost.\n{context}");
        using System.Text.Json.JsonDocument status = await vs.StatusAsync();
        long held = status.RootElement.GetProperty("held").GetInt64();
        Assert.True(earlyOpen ? held == 0 : held >= 1, $"held {held}: VS must hold the request during the handshake unless the stack does (EarlyOpen)");

        // It really went over DCCP: the listener accepted a connection from VS's address on the veth and the
        // server heard the datagram from the listener (its own address), not from the application.
        // (Its output is read asynchronously: wait for the line rather than look once.)
        await listener.WaitForLineAsync(l => l.StartsWith($"accepted #1 {topology.Main.EdgeV4}:", StringComparison.Ordinal), TimeSpan.FromSeconds(10),
            "the listener's line for the connection from VS", "out");
        var seenFrom = server.StdErr.Where(l => l.Contains("receiving packet from", StringComparison.Ordinal)).ToList();
        Assert.True(seenFrom.Count > 0 && seenFrom.All(l => UdpStackTests.Mentions(l, topology.Main.ServerV4)),
            $"the server should hear the listener at {topology.Main.ServerV4}, heard: {string.Join(" | ", seenFrom)}");
        await vs.StopAsync();
    }

    [SkippableFact]
    public async Task Both_ends_warm_up_at_start_in_well_under_a_second_and_the_cold_first_flow_still_carries_data()
    {
        Requires.Tools("socat");
        await using var topology = await TopologyAsync();
        var server = await Apps.UdpEchoServerAsync(topology, topology.Main.ServerV4, ServerPort);
        NsProcess listener = await StartListenerAsync(topology);
        await using var vs = await VsInstance.StartAsync(topology, DccpConfig(topology));

        // The far side says how long its warm-up took before it says it listens; VS logs its stack's (which runs in
        // the background, off the pipeline thread). Both ran a whole connection over loopback.
        double listenMs = WarmUpMs(listener.StdOut.First(l => l.StartsWith("listening on DCCP port", StringComparison.Ordinal)), "(warmed up in ");
        string line = await vs.Process.WaitForLineAsync(l => l.Contains("stack dccp: warm-up ", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the stack's warm-up line");
        var context = $"{vs.Process.Output()}\n{listener.Output()}";
        Assert.True(line.Contains("warm-up done in ", StringComparison.Ordinal), $"the stack's warm-up did not complete.\n{context}");
        double stackMs = WarmUpMs(line, "warm-up done in ");
        Log($"warm-up: listener {listenMs:0.#} ms, stack {stackMs:0.#} ms");
        Assert.True(listenMs < 1000 && stackMs < 1000, $"warm-up too slow (listener {listenMs} ms, stack {stackMs} ms).\n{context}");

        // The process's first DCCP flow (cold endpoint: its raw socket and thread are made off the pipeline thread)
        // completes its build and carries a request and its reply.
        var to = new IPEndPoint(topology.Main.ServerV4, AppPort);
        using var app = Netns.UdpSocket(topology.Edge, new IPEndPoint(IPAddress.Any, 0));
        byte[] buffer = new byte[2048];
        System.Net.Sockets.SocketReceiveFromResult? reply = null;
        for (int tries = 0; reply is null && tries < 10; tries++)
        {
            await app.SendToAsync("cold-first-flow"u8.ToArray(), to);
            using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            try
            {
                reply = await app.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), wait.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        Assert.True(reply is not null, $"the first flow got no reply.\n{context}\n{server.Output()}");
        Assert.Equal("cold-first-flow", System.Text.Encoding.ASCII.GetString(buffer, 0, reply.Value.ReceivedBytes));
        await vs.StopAsync();
    }

    private static double WarmUpMs(string line, string marker)
    {
        int at = line.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, $"no '{marker}' in: {line}");
        string rest = line[(at + marker.Length)..];
        return double.Parse(rest[..rest.IndexOf(" ms", StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
    }

    [SkippableFact]
    public async Task Ten_thousand_datagrams_at_moderate_rate_arrive_over_dccp_and_their_echoes_return()
    {
        await using var topology = await TopologyAsync();
        using var server = Netns.UdpSocket(topology.Server, new IPEndPoint(topology.Main.ServerV4, ServerPort));
        NsProcess listener = await StartListenerAsync(topology);
        await using var vs = await VsInstance.StartAsync(topology, DccpConfig(topology));
        var result = await StreamAsync(topology, server, count: 10_000, packetsPerSecond: 2_000);
        var context = $"{vs.Process.Output()}\n{listener.Output()}\n{await LossReport.DescribeAsync(topology, vs)}";

        // Only datagrams sent while the connection was being opened may be missing (the first ones); every later
        // one must arrive, once, unchanged, and its echo must come back from the address the application used.
        int opened = Array.FindIndex(result.ServerCounts, c => c > 0);
        int afterOpen = result.ServerCounts.Skip(Math.Max(opened, 0)).Count(c => c > 0);
        Log($"10,000 x {Size} B at 2000/s: the first {opened} fell into the handshake ({opened / 2.0:0} ms); of the {10_000 - opened} after it the server got {afterOpen}, "
            + $"the app {result.AtApp} echoes; {result.Duplicates} duplicates, {result.Corrupt} corrupt, {result.WrongSource} from elsewhere");
        Assert.Equal(0, result.Corrupt);
        Assert.Equal(0, result.WrongSource);
        Assert.Equal(0, result.Duplicates);
        Assert.True(opened is >= 0 and < 1000, $"the connection took {opened} datagrams (at 2000/s) to open.\n{context}");
        Assert.True(afterOpen == 10_000 - opened, $"{10_000 - opened - afterOpen} datagrams after the handshake never reached the server.\n{context}");
        Assert.True(result.AtApp == afterOpen, $"{afterOpen - result.AtApp} echoes never reached the app.\n{context}");
        await vs.StopAsync();
    }

    [SkippableFact]
    public async Task Killing_the_listener_mid_stream_loses_a_window_and_the_flow_recovers_on_a_new_connection()
    {
        await using var topology = await TopologyAsync();
        using var server = Netns.UdpSocket(topology.Server, new IPEndPoint(topology.Main.ServerV4, ServerPort));
        NsProcess listener = await StartListenerAsync(topology);
        await using var vs = await VsInstance.StartAsync(topology, DccpConfig(topology));

        const int Count = 5_000;
        const int Rate = 500; // 10 s of traffic: the listener dies at 3 s and is back at 4 s
        NsProcess? restarted = null;
        var killedAt = TimeSpan.Zero;
        var restartedAt = TimeSpan.Zero;
        var streaming = StreamAsync(topology, server, Count, Rate, async clock =>
        {
            await Task.Delay(TimeSpan.FromSeconds(3));
            killedAt = clock.Elapsed;
            listener.KillNow(); // SIGKILL: no Close, no Reset, the connection just stops answering
            await listener.WaitForExitAsync(TimeSpan.FromSeconds(10));
            await Task.Delay(TimeSpan.FromSeconds(1));
            restartedAt = clock.Elapsed;
            restarted = await StartListenerAsync(topology);
        });
        var result = await streaming;
        var context = $"{vs.Process.Output()}\n--- first listener\n{listener.Output()}\n--- restarted listener\n{restarted?.Output()}";

        // The loss window: the longest run of datagrams that did not arrive after the connection first opened.
        int opened = Array.FindIndex(result.ServerCounts, c => c > 0);
        Assert.True(opened >= 0, $"nothing arrived at all.\n{context}");
        int firstLost = -1;
        int resumed = -1;
        var gaps = new List<string>();
        for (int i = opened, run = -1; i <= Count; i++)
        {
            bool missing = i < Count && result.ServerCounts[i] == 0;
            if (missing && run < 0)
            {
                run = i;
            }
            else if (!missing && run >= 0)
            {
                gaps.Add($"{run}..{i - 1}");
                if (i - run > resumed - firstLost)
                {
                    (firstLost, resumed) = (run, i);
                }

                run = -1;
            }
        }

        Log($"runs of lost datagrams: {string.Join(", ", gaps)}");
        Assert.True(firstLost >= 0, $"nothing was lost although the listener was killed.\n{context}");
        Assert.True(resumed < Count, $"the flow never recovered after the listener was restarted.\n{context}");
        double windowS = (resumed - firstLost) / (double)Rate;
        int lost = result.ServerCounts.Skip(opened).Count(c => c == 0);
        int arrivedAfter = result.ServerCounts.Skip(resumed).Count(c => c > 0);
        Log($"listener killed at {killedAt.TotalSeconds:0.00} s, restarted at {restartedAt.TotalSeconds:0.00} s; datagrams {firstLost}..{resumed - 1} lost: "
            + $"loss window {windowS:0.00} s ({lost} lost after the first handshake, which took {opened}); {arrivedAfter} of the {Count - resumed} sent after recovery arrived");
        Assert.True(restarted is not null && restarted.StdOut.Any(l => l.StartsWith("accepted #1 ", StringComparison.Ordinal)),
            $"the restarted listener accepted no new connection.\n{context}");
        Assert.True(windowS < 6, $"the loss window of {windowS:0.00} s is longer than the downtime (1 s) plus detection and reconnection should take.\n{context}");
        Assert.True(arrivedAfter >= (Count - resumed) * 9 / 10, $"only {arrivedAfter} of {Count - resumed} arrived after the recovery.\n{context}");
        await vs.StopAsync();
    }

    private static VsConfig DccpConfig(NetnsTopology topology, string transport = "raw")
    {
        var config = new VsConfig();
        config.Stacks["dccp"] = new JsonObject { ["Plugin"] = "Dccp", ["Ccid"] = 2, ["Service"] = 0, ["Transport"] = transport };
        config.Rules.Add(new VsRule("dccp", "udp", AppPort, ["dccp"],
            new Dictionary<string, string> { ["dccp"] = $"{topology.Main.ServerV4}:{DccpPort}" }));
        return config;
    }

    private static async Task<NsProcess> StartListenerAsync(NetnsTopology topology, string transport = "raw")
    {
        // With --transport udp the listener's UDP port is its DCCP port's number, which the stack (Port 0) expects.
        var listener = topology.Start(topology.Server, VsExecutable.Path, "dccp", "listen", "--port", $"{DccpPort}", "--transport", transport,
            "--address", $"{topology.Main.ServerV4}", "--deliver", $"{topology.Main.ServerV4}:{ServerPort}");
        await listener.WaitForLineAsync(l => l.StartsWith("listening on DCCP port", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "vs dccp listen to start", "out");
        return listener;
    }

    /// <summary>
    /// Sends <paramref name="count"/> numbered datagrams from an application socket in the edge namespace to the
    /// captured address, paced to <paramref name="packetsPerSecond"/>, while <paramref name="server"/> echoes each; counts
    /// what arrived at the server and back at the application. <paramref name="during"/> runs beside the stream.
    /// </summary>
    private static async Task<StreamResult> StreamAsync(NetnsTopology topology, System.Net.Sockets.Socket server, int count, int packetsPerSecond,
        Func<Stopwatch, Task>? during = null)
    {
        var appTarget = new IPEndPoint(topology.Main.ServerV4, AppPort);
        using var app = Netns.UdpSocket(topology.Edge, new IPEndPoint(IPAddress.Any, 0));
        await using var tally = new EchoTally(server, app, appTarget, Size, count);

        var clock = Stopwatch.StartNew();
        Task side = during?.Invoke(clock) ?? Task.CompletedTask;
        var datagram = new byte[Size];
        for (int seq = 0; seq < count; seq++)
        {
            NumberedDatagram.Fill(datagram, seq);
            await app.SendToAsync(datagram, appTarget);
            var due = TimeSpan.FromSeconds((seq + 1) / (double)packetsPerSecond);
            if (due - clock.Elapsed > TimeSpan.FromMilliseconds(5))
            {
                await Task.Delay(due - clock.Elapsed);
            }
        }

        await side;
        await tally.FinishAsync(TimeSpan.FromSeconds(10));
        return new StreamResult(tally.AtServer, tally.AtApp.Count(c => c > 0), tally.Corrupt, tally.WrongSource, tally.Duplicates);
    }

    private sealed record StreamResult(int[] ServerCounts, int AtApp, int Corrupt, int WrongSource, int Duplicates)
    {
        public int AtServer => ServerCounts.Count(c => c > 0);
    }
}
