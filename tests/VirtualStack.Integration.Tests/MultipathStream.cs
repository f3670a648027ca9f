using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualStack.Integration.Tests.Infrastructure;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// A numbered UDP stream from an ordinary socket in the edge namespace to one address the application knows
/// (<see cref="Addressed"/>: path 1's server address, port <see cref="AppPort"/>, where nothing listens), and two
/// servers in the server namespace that VS reaches over different far ends: A on path 1 (10.201.0.2:9401), B on
/// path 2 (10.202.0.2:9402). Each server records the sequence numbers in arrival order and echoes every datagram
/// to its sender, so the application hears replies (and VS's path health sees answers). The application socket
/// records where every reply came from: with NAT working it is always <see cref="Addressed"/>.
/// </summary>
internal sealed class MultipathStream : IAsyncDisposable
{
    public const int AppPort = 9400;
    public const int PortA = 9401;
    public const int PortB = 9402;
    public const int Size = 200;

    /// <summary>Where <see cref="ShapeAsync"/> puts the delay relays of path 1 and 2 (server namespace).</summary>
    public const int RelayPortA = 9411;
    public const int RelayPortB = 9412;

    /// <summary>The sequence number of <see cref="WarmUpAsync"/>'s datagram: past any stream, so no count sees it.</summary>
    public const int WarmUpSeq = 1 << 30;

    private readonly Socket _app;
    private readonly Socket _serverA;
    private readonly Socket _serverB;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _receivers;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _corrupt;
    private int _repliesFromElsewhere;
    private int _replies;

    private MultipathStream(NetnsTopology topology)
    {
        Addressed = new IPEndPoint(topology.Main.ServerV4, AppPort);
        FarA = new IPEndPoint(topology.Paths[0].ServerV4, PortA);
        FarB = new IPEndPoint(topology.Paths[1].ServerV4, PortB);
        _app = Netns.UdpSocket(topology.Edge, new IPEndPoint(IPAddress.Any, 0));
        _serverA = Netns.UdpSocket(topology.Server, FarA);
        _serverB = Netns.UdpSocket(topology.Server, FarB);
        _receivers = [Serve(_serverA, AtA), Serve(_serverB, AtB), ReceiveReplies()];
    }

    public IPEndPoint Addressed { get; }

    public IPEndPoint FarA { get; }

    public IPEndPoint FarB { get; }

    /// <summary>Sequence numbers at server A / B, in arrival order.</summary>
    public List<int> AtA { get; } = [];

    public List<int> AtB { get; } = [];

    /// <summary>When each sequence number was sent (ms since the stream opened).</summary>
    public List<double> SentAt { get; } = [];

    public int Sent => SentAt.Count;

    public int Corrupt => Volatile.Read(ref _corrupt);

    /// <summary>Replies the application got from an address other than the one it sent to (must stay 0).</summary>
    public int RepliesFromElsewhere => Volatile.Read(ref _repliesFromElsewhere);

    public int Replies => Volatile.Read(ref _replies);

    public double NowMs => _clock.Elapsed.TotalMilliseconds;

    public static MultipathStream Open(NetnsTopology topology) => new(topology);

    /// <summary>A multipath rule for the stream: path "a" (stack udpA, server A) and path "b" (udpB, server B).</summary>
    public static JsonObject PathsRule(NetnsTopology topology, string scheduler, int weightA = 1, int weightB = 1, bool interfaces = true) => new()
    {
        ["Name"] = "spread",
        ["Match"] = new JsonObject { ["Protocol"] = "udp", ["DestinationPort"] = AppPort },
        ["Scheduler"] = scheduler,
        ["Paths"] = new JsonArray(
            Path("a", "udpA", $"{topology.Paths[0].ServerV4}:{PortA}", interfaces ? topology.Paths[0].EdgeDevice : null, weightA),
            Path("b", "udpB", $"{topology.Paths[1].ServerV4}:{PortB}", interfaces ? topology.Paths[1].EdgeDevice : null, weightB)),
    };

    private static JsonObject Path(string name, string stack, string to, string? device, int weight)
    {
        var path = new JsonObject { ["Name"] = name, ["Stack"] = stack, ["To"] = to, ["Weight"] = weight };
        if (device is not null)
        {
            path["Interface"] = device;
        }

        return path;
    }

    /// <summary>The two udp stacks (and raw as the default) and the given raw rules.</summary>
    public static VsConfig Config(params JsonObject[] rules)
    {
        var config = new VsConfig();
        config.Stacks.Clear();
        config.Stacks["udpA"] = new() { ["Plugin"] = "Udp" };
        config.Stacks["udpB"] = new() { ["Plugin"] = "Udp" };
        config.Stacks["raw"] = new() { ["Plugin"] = "Raw" };
        config.RawRules.AddRange(rules);
        return config;
    }

    /// <summary>
    /// Shapes both paths: netem delay and loss where the kernel has netem; else a token bucket of a different rate per
    /// path (both well above what the stream needs), the delay from a <c>vs udp-delay</c> relay in front of each server
    /// (1 ms each way on path 1, 7.5 ms on path 2: the round trips netem's one-way 2 ms and 15 ms give) and 1 % loss
    /// on path 2 with nftables. Returns what was set and where the paths must send (<see cref="Shaping.Route"/>).
    /// </summary>
    public static async Task<Shaping> ShapeAsync(NetnsTopology topology)
    {
        string[][] netem = [["delay", "2ms"], ["delay", "15ms", "loss", "1%"]];
        var r = await topology.ExecAsync(topology.Edge, ["tc", "qdisc", "add", "dev", topology.Paths[0].EdgeDevice, "root", "netem", .. netem[0]]);
        if (r.Ok)
        {
            var r2 = await topology.ExecAsync(topology.Edge, ["tc", "qdisc", "add", "dev", topology.Paths[1].EdgeDevice, "root", "netem", .. netem[1]]);
            Assert.True(r2.Ok, r2.ToString());
            return new Shaping("netem: path 1 delay 2ms; path 2 delay 15ms loss 1%", null, null);
        }

        string[][] tbf = [["rate", "50mbit", "burst", "64kb", "latency", "20ms"], ["rate", "10mbit", "burst", "16kb", "latency", "50ms"]];
        for (int i = 0; i < 2; i++)
        {
            var t = await topology.ExecAsync(topology.Edge, ["tc", "qdisc", "add", "dev", topology.Paths[i].EdgeDevice, "root", "tbf", .. tbf[i]]);
            Assert.True(t.Ok, t.ToString());
        }

        // The loss netem would add: nftables drops 1 % of what arrives over path 2 at the server.
        VirtualStack.Host.Setup.NftablesLoss.Add(topology.Server, "vsmp", topology.Paths[1].ServerDevice, 1);
        var relayA = await DelayRelay.StartAsync(topology, topology.Server, new IPEndPoint(topology.Paths[0].ServerV4, RelayPortA), new IPEndPoint(topology.Paths[0].ServerV4, PortA), 1);
        var relayB = await DelayRelay.StartAsync(topology, topology.Server, new IPEndPoint(topology.Paths[1].ServerV4, RelayPortB), new IPEndPoint(topology.Paths[1].ServerV4, PortB), 7.5);
        return new Shaping("no netem in this kernel: tbf 50 mbit/s on path 1, 10 mbit/s + 1 % loss (nftables) on path 2; " +
            "vs udp-delay relays before the servers: 1 ms each way on path 1, 7.5 ms on path 2", relayA.Listen, relayB.Listen);
    }

    /// <summary>Sends <paramref name="count"/> datagrams at <paramref name="rate"/> per second, in bursts every 10 ms.</summary>
    public async Task SendAsync(int count, int rate, Func<int, Task>? at = null)
    {
        var datagram = new byte[Size];
        int burst = Math.Max(1, rate / 100);
        var start = _clock.Elapsed;
        for (int i = 0; i < count; i++)
        {
            int seq = Sent;
            NumberedDatagram.Fill(datagram, seq);

            if (at is not null)
            {
                await at(i);
            }

            lock (SentAt)
            {
                SentAt.Add(NowMs);
            }

            await _app.SendToAsync(datagram, Addressed);
            if ((i + 1) % burst == 0)
            {
                var due = start + TimeSpan.FromSeconds((i + 1) / (double)rate);
                if (due > _clock.Elapsed)
                {
                    await Task.Delay(due - _clock.Elapsed);
                }
            }
        }
    }

    /// <summary>
    /// Sends one datagram (sequence number <see cref="WarmUpSeq"/>, which no count here looks at) from the server
    /// namespace through <paramref name="relay"/> and waits for its echo: the relay's first datagram (its code compiled,
    /// its upstream socket and thread made) is slow on a loaded machine, and a path's first round-trip sample would say
    /// so.
    /// </summary>
    public static async Task WarmUpAsync(NetnsTopology topology, IPEndPoint relay)
    {
        using var socket = Netns.UdpSocket(topology.Server, new IPEndPoint(IPAddress.Any, 0));
        var datagram = new byte[Size];
        NumberedDatagram.Fill(datagram, WarmUpSeq);
        await socket.SendToAsync(datagram, relay);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ReceiveAsync(new byte[2048], timeout.Token);
    }

    /// <summary>Waits until every datagram sent arrived somewhere (or <paramref name="timeout"/>), then a little longer for duplicates.</summary>
    public async Task SettleAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Distinct() < Sent && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await Task.Delay(300);
    }

    /// <summary>Sequence numbers that arrived at neither server.</summary>
    public int[] Lost()
    {
        var seen = new bool[Sent];
        lock (AtA)
        {
            lock (AtB)
            {
                foreach (int s in AtA.Concat(AtB))
                {
                    if (s < seen.Length)
                    {
                        seen[s] = true;
                    }
                }
            }
        }

        return [.. Enumerable.Range(0, Sent).Where(i => !seen[i])];
    }

    public int Distinct()
    {
        lock (AtA)
        {
            lock (AtB)
            {
                return AtA.Concat(AtB).Distinct().Count();
            }
        }
    }

    /// <summary>The time between sending the first and the last lost datagram (0 when at most one was lost).</summary>
    public double LossWindowMs(int[] lost) => lost.Length < 2 ? 0 : SentAt[lost[^1]] - SentAt[lost[0]];

    /// <summary>Runs <c>vs flows --json</c> and returns the stream's flow.</summary>
    public static async Task<JsonElement> FlowAsync(VsInstance vs, string rule)
    {
        var r = await VsInstance.RunCommandAsync(null, "flows", "--json", "--socket", vs.ManagementSocket);
        Assert.True(r.Ok, $"vs flows: {r}");
        using var doc = JsonDocument.Parse(r.StdOut);
        return doc.RootElement.EnumerateArray().Single(f => f.GetProperty("rule").GetString() == rule).Clone();
    }

    /// <summary>Server A goes away (its socket closes): its address answers with ICMP port unreachable from now on.</summary>
    public void CloseA() => _serverA.Dispose();

    private Task Serve(Socket socket, List<int> into) => Task.Run(async () =>
    {
        var buffer = new byte[2048];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            int seq = NumberedDatagram.Read(buffer.AsSpan(0, r.ReceivedBytes), Size, int.MaxValue);
            if (seq < 0)
            {
                Interlocked.Increment(ref _corrupt);
                continue;
            }

            lock (into)
            {
                into.Add(seq);
            }

            try
            {
                await socket.SendToAsync(buffer.AsMemory(0, r.ReceivedBytes), r.RemoteEndPoint);
            }
            catch (SocketException)
            {
                // The path back may be down right now: the echo is best effort.
            }
        }
    });

    private Task ReceiveReplies() => Task.Run(async () =>
    {
        var buffer = new byte[2048];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await _app.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException)
            {
                // An ICMP error reported on the application's socket would be an error the application sees.
                Interlocked.Increment(ref _repliesFromElsewhere);
                continue;
            }

            if (!Addressed.Equals(r.RemoteEndPoint))
            {
                Interlocked.Increment(ref _repliesFromElsewhere);
            }
            else if (NumberedDatagram.Read(buffer.AsSpan(0, r.ReceivedBytes), Size, int.MaxValue) >= 0)
            {
                Interlocked.Increment(ref _replies);
            }
        }
    });

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_receivers).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        _app.Dispose();
        _serverA.Dispose();
        _serverB.Dispose();
        _stop.Dispose();
    }
}

/// <summary>How <see cref="MultipathStream.ShapeAsync"/> shaped the paths; the relays' addresses when the delay is theirs.</summary>
internal sealed record Shaping(string Description, IPEndPoint? RelayA, IPEndPoint? RelayB)
{
    /// <summary>Points the stream rule's paths at the delay relays (nothing to do with netem).</summary>
    public JsonObject Route(JsonObject rule)
    {
        if (RelayA is not null && RelayB is not null)
        {
            rule["Paths"]![0]!["To"] = $"{RelayA}";
            rule["Paths"]![1]!["To"] = $"{RelayB}";
        }

        return rule;
    }
}
