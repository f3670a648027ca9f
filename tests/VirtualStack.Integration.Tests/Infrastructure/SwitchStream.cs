using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// One numbered UDP stream from an ordinary socket in the edge namespace to one address the application knows,
/// carried by VS to two servers (one per stack, told apart by NAT: udpA to port <see cref="PortA"/>, udpB to
/// <see cref="PortB"/>). Both servers are ordinary sockets of the test in the server namespace, recording the
/// sequence numbers in arrival order, so loss, duplicates and order per stack are exact.
/// </summary>
internal sealed class SwitchStream : IAsyncDisposable
{
    public const int AppPort = 9200;
    public const int PortA = 9201;
    public const int PortB = 9202;
    public const int Size = 200;

    private readonly Socket _app;
    private readonly Socket _serverA;
    private readonly Socket _serverB;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receiveA;
    private readonly Task _receiveB;
    private int _corrupt;

    private SwitchStream(NetnsTopology topology)
    {
        Addressed = new IPEndPoint(topology.Main.ServerV4, AppPort);
        _app = Netns.UdpSocket(topology.Edge, new IPEndPoint(IPAddress.Any, 0));
        _serverA = Netns.UdpSocket(topology.Server, new IPEndPoint(topology.Main.ServerV4, PortA));
        _serverB = Netns.UdpSocket(topology.Server, new IPEndPoint(topology.Main.ServerV4, PortB));
        _receiveA = Receive(_serverA, AtA);
        _receiveB = Receive(_serverB, AtB);
    }

    /// <summary>What the application addresses (nothing listens there: only VS's NAT reaches the servers).</summary>
    public IPEndPoint Addressed { get; }

    public List<int> AtA { get; } = [];

    public List<int> AtB { get; } = [];

    public int Sent { get; private set; }

    public int Corrupt => Volatile.Read(ref _corrupt);

    /// <summary>
    /// A rule for the stream: stack <paramref name="a"/> NATs to server A, stack <paramref name="b"/> to server B (or
    /// to <paramref name="farB"/>, e.g. a DCCP listener that hands the datagrams to server B), with the given policy.
    /// </summary>
    public static VsRule Rule(NetnsTopology topology, string policy, IReadOnlyDictionary<string, string>? options = null,
        string a = "udpA", string b = "udpB", string? farB = null) =>
        new("stream", "udp", AppPort, [a, b],
            new Dictionary<string, string> { [a] = $"{topology.Main.ServerV4}:{PortA}", [b] = farB ?? $"{topology.Main.ServerV4}:{PortB}" },
            policy, options);

    /// <summary>A configuration with the two udp stacks (and raw as the default) and <paramref name="rules"/>.</summary>
    public static VsConfig Config(params VsRule[] rules)
    {
        var config = new VsConfig();
        config.Stacks.Clear();
        config.Stacks["udpA"] = new() { ["Plugin"] = "Udp" };
        config.Stacks["udpB"] = new() { ["Plugin"] = "Udp" };
        config.Stacks["raw"] = new() { ["Plugin"] = "Raw" };
        config.Rules.AddRange(rules);
        return config;
    }

    /// <summary>
    /// The far end of a dccp stack: <c>vs dccp listen</c> on <paramref name="port"/> in the server namespace, handing each
    /// datagram to server B. Returns once it listens; the topology ends it.
    /// </summary>
    public static async Task StartDccpFarEndAsync(NetnsTopology topology, int port, Action<string> log)
    {
        var listener = topology.Track(NsProcess.Start(topology.Server, VsExecutable.Path,
            ["dccp", "listen", "--port", $"{port}", "--address", $"{topology.Main.ServerV4}", "--deliver", $"{topology.Main.ServerV4}:{PortB}"],
            log, VsExecutable.Environment()));
        await listener.WaitForLineAsync(l => l.Contains("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the DCCP listener's readiness");
    }

    /// <summary>
    /// A configuration with stacks udp and dccp (raw as the default) and <paramref name="rules"/>. DCCP is congestion
    /// controlled: what CCID 2's window does not let out yet waits in the connection's send queue, which
    /// <paramref name="sendQueue"/> sizes to hold the stream (the default overflows in slow start at thousands per second).
    /// </summary>
    public static VsConfig UdpDccpConfig(int sendQueue, params VsRule[] rules)
    {
        VsConfig config = Config(rules);
        config.Stacks.Clear();
        config.Stacks["udp"] = new() { ["Plugin"] = "Udp" };
        config.Stacks["dccp"] = new() { ["Plugin"] = "Dccp", ["SendQueue"] = $"{sendQueue}" };
        config.Stacks["raw"] = new() { ["Plugin"] = "Raw" };
        return config;
    }

    public static SwitchStream Open(NetnsTopology topology) => new(topology);

    /// <summary>Sends <paramref name="count"/> datagrams at <paramref name="rate"/> per second, in bursts every 10 ms.</summary>
    public async Task SendAsync(int count, int rate)
    {
        var clock = Stopwatch.StartNew();
        var datagram = new byte[Size];
        int burst = Math.Max(1, rate / 100);
        for (int i = 0; i < count; i++)
        {
            int seq = Sent;
            BinaryPrimitives.WriteInt32BigEndian(datagram, seq);
            for (int j = 4; j < datagram.Length; j++)
            {
                datagram[j] = (byte)(seq + j);
            }

            await _app.SendToAsync(datagram, Addressed);
            Sent++;
            if (Sent % burst == 0)
            {
                var due = TimeSpan.FromSeconds(Sent / (double)rate);
                if (due > clock.Elapsed)
                {
                    await Task.Delay(due - clock.Elapsed);
                }
            }
        }
    }

    /// <summary>Waits until every datagram sent has arrived somewhere, or <paramref name="timeout"/> passed.</summary>
    public async Task SettleAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Received < Sent && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        // A little longer: a duplicate would arrive after the count was reached.
        await Task.Delay(200);
    }

    public int Received
    {
        get
        {
            lock (AtA)
            {
                lock (AtB)
                {
                    return AtA.Count + AtB.Count;
                }
            }
        }
    }

    /// <summary>
    /// For each sequence number 0..Sent-1, which server got it ('A', 'B', '-' for none, '2' for both or twice), and
    /// the number of changes between A and B along the sequence: each switch shows as one change.
    /// </summary>
    public (char[] Where, int Changes) Route()
    {
        var where = new char[Sent];
        Array.Fill(where, '-');
        lock (AtA)
        {
            lock (AtB)
            {
                foreach (int s in AtA)
                {
                    where[s] = where[s] == '-' ? 'A' : '2';
                }

                foreach (int s in AtB)
                {
                    where[s] = where[s] == '-' ? 'B' : '2';
                }
            }
        }

        int changes = 0;
        char last = '\0';
        foreach (char c in where)
        {
            if (c is 'A' or 'B')
            {
                if (last != '\0' && c != last)
                {
                    changes++;
                }

                last = c;
            }
        }

        return (where, changes);
    }

    /// <summary>
    /// Where datagrams can be lost on the way, for a failure message: the lost sequence ranges, the VNIC's kernel
    /// counters (tx = routed into the TUN; tx dropped = VS did not read in time), VS's drop counters, and the UDP
    /// counters of both namespaces (receive buffer errors at the servers, send errors at VS).
    /// </summary>
    public async Task<string> DiagnoseAsync(NetnsTopology topology, VsInstance vs)
    {
        (char[] where, _) = Route();
        var ranges = new List<string>();
        for (int i = 0; i < where.Length; i++)
        {
            if (where[i] != '-')
            {
                continue;
            }

            int start = i;
            while (i + 1 < where.Length && where[i + 1] == '-')
            {
                i++;
            }

            ranges.Add(start == i ? $"{start}" : $"{start}-{i}");
        }

        var parts = new List<string> { $"lost ranges: {string.Join(' ', ranges.Take(20))}" };
        var link = await Cmd.RunAsync("ip", ["-n", topology.Edge, "-s", "link", "show", "dev", vs.Config.TunName], TimeSpan.FromSeconds(20));
        parts.Add($"VNIC: {link.StdOut.Trim()}");
        var status = await VsInstance.RunCommandAsync(null, "status", "--json", "--socket", vs.ManagementSocket);
        parts.Add($"vs status --json: {status.StdOut.Trim()}");
        foreach (var ns in new[] { topology.Edge, topology.Server })
        {
            var snmp = await topology.ExecAsync(ns, "cat", "/proc/net/snmp");
            parts.Add($"{ns} udp: {string.Join(" | ", snmp.StdOut.Split('\n').Where(l => l.StartsWith("Udp:", StringComparison.Ordinal)))}");
        }

        return string.Join('\n', parts);
    }

    /// <summary>Runs a vs client command (<c>--json</c>, this instance's socket) and parses its answer.</summary>
    public static async Task<JsonDocument> JsonAsync(VsInstance vs, params string[] command)
    {
        var r = await VsInstance.RunCommandAsync(null, [.. command, "--json", "--socket", vs.ManagementSocket]);
        if (!r.Ok)
        {
            throw new InvalidOperationException($"vs {string.Join(' ', command)}: {r}\n{vs.Process.Output()}");
        }

        return JsonDocument.Parse(r.StdOut);
    }

    private Task Receive(Socket socket, List<int> into) => Task.Run(async () =>
    {
        var buffer = new byte[2048];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            int seq = r.ReceivedBytes == Size ? BinaryPrimitives.ReadInt32BigEndian(buffer) : -1;
            bool ok = seq >= 0;
            for (int j = 4; ok && j < Size; j++)
            {
                ok = buffer[j] == (byte)(seq + j);
            }

            if (!ok)
            {
                Interlocked.Increment(ref _corrupt);
                continue;
            }

            lock (into)
            {
                into.Add(seq);
            }
        }
    });

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_receiveA, _receiveB).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        _app.Dispose();
        _serverA.Dispose();
        _serverB.Dispose();
        _stop.Dispose();
    }
}
