using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// <c>vs relay</c> on loopback, driven by hand-made datagrams built from docs/redundant-tag.md (not from VS's code, so
/// the documented wire format is what is checked): two client sockets play two paths of one flow, an echo socket plays
/// the unchanged server.
/// </summary>
public sealed class RelayLoopbackTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const uint FlowId = 0xC0FFEE01;

    [Fact]
    public async Task The_dedup_relay_follows_the_documented_tag_and_answers_on_every_path()
    {
        using var server = Bound("127.0.0.1");
        var atServer = new List<string>();
        using var stop = new CancellationTokenSource();
        var from = new List<EndPoint>();
        Task echo = EchoAsync(server, atServer, stop.Token, from);
        await using var relay = NsProcess.Start(null, VsExecutable.Path,
            ["relay", "--listen", "127.0.0.1:0,127.0.0.2:0", "--deliver", $"{server.LocalEndPoint}", "--dedup", "--window", "64", "--json"], Log, VsExecutable.Environment());
        IPEndPoint[] relayAt = Addresses(await relay.WaitForLineAsync(l => l.StartsWith("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the relay's readiness"));
        using var pathA = Bound("127.0.0.1");
        using var pathB = Bound("127.0.0.1");

        // Copies of 2 and 3 and 1 come on the other path; flags are ignored; an untagged datagram is dropped; 10 is more
        // than the 64-sequence window below 100 (sent on the same path after it, so it arrives after it).
        await SendAsync(pathA, relayAt[0], Tagged(1, "one"), Tagged(2, "two"));
        await SendAsync(pathB, relayAt[1], Tagged(2, "two"), Tagged(1, "one"), Tagged(3, "three"));
        byte[] flagged = Tagged(4, "four");
        flagged[3] = 0xFF;
        await SendAsync(pathB, relayAt[1], flagged);
        await SendAsync(pathA, relayAt[0], Tagged(3, "three"), "junk"u8.ToArray(), Tagged(100, "hundred"), Tagged(10, "ten"));

        string[] expected = ["four", "hundred", "one", "three", "two"];
        await WaitAsync(() => Count(atServer) >= expected.Length, "the server's datagrams");

        // The server answers once both paths are known (an answer goes on the paths the flow arrived on so far).
        lock (atServer)
        {
            Assert.Single(from.Distinct());
            foreach (string payload in atServer)
            {
                server.SendTo(Encoding.ASCII.GetBytes(payload), from[0]);
            }
        }

        List<(ulong Sequence, string Payload)> echoesA = Receive(pathA, expected.Length);
        List<(ulong Sequence, string Payload)> echoesB = Receive(pathB, expected.Length);
        await Task.Delay(300); // nothing more may come
        relay.Signal(LibC.SigTerm);
        Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        await stop.CancelAsync();
        await echo;

        lock (atServer)
        {
            Assert.Equal(expected, atServer.Order(StringComparer.Ordinal));
        }

        // Each echo on both paths, tagged with the flow's id and the relay's own sequence: consecutive, starting from
        // the relay's clock in microseconds (so a restarted relay numbers above what VS has seen).
        Assert.Equal(echoesA, echoesB);
        ulong first = echoesA[0].Sequence;
        Assert.Equal([first, first + 1, first + 2, first + 3, first + 4], echoesA.Select(e => e.Sequence));
        Assert.InRange(first, (ulong)DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds() * 1000, (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000);
        Assert.Equal(atServer, echoesA.Select(e => e.Payload));
        using JsonDocument totals = JsonDocument.Parse(relay.StdOut.Last(l => l.StartsWith('{')));
        JsonElement t = totals.RootElement;
        Assert.Equal((1, 10, 5, 3, 1, 1), (t.GetProperty("flows").GetInt32(), t.GetProperty("in").GetInt32(), t.GetProperty("delivered").GetInt32(),
            t.GetProperty("duplicates").GetInt32(), t.GetProperty("too_old").GetInt32(), t.GetProperty("untagged").GetInt32()));
        Assert.Equal(10, t.GetProperty("reply_copies").GetInt32());
        Assert.Contains(relay.StdOut, l => l.Contains("flow c0ffee01: new", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_dedup_the_relay_changes_nothing_and_answers_the_sender()
    {
        using var server = Bound("127.0.0.1");
        var atServer = new List<string>();
        using var stop = new CancellationTokenSource();
        Task echo = EchoAsync(server, atServer, stop.Token);
        await using var relay = NsProcess.Start(null, VsExecutable.Path,
            ["relay", "--listen", "127.0.0.1:0", "--deliver", $"{server.LocalEndPoint}"], Log, VsExecutable.Environment());
        IPEndPoint[] relayAt = Addresses(await relay.WaitForLineAsync(l => l.StartsWith("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the relay's readiness"));
        using var client = Bound("127.0.0.1");
        byte[] tagged = Tagged(1, "as is");
        await SendAsync(client, relayAt[0], tagged, tagged);
        await WaitAsync(() => Count(atServer) >= 2, "the server's datagrams");
        var buffer = new byte[100];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        for (int i = 0; i < 2; i++)
        {
            int n = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            Assert.Equal(tagged, buffer[..n]);
        }

        relay.Signal(LibC.SigTerm);
        Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        await stop.CancelAsync();
        await echo;
        Assert.Contains(relay.StdOut, l => l.Contains("duplicates 0", StringComparison.Ordinal) && l.Contains("delivered 2", StringComparison.Ordinal));
    }

    /// <summary>A tag as docs/redundant-tag.md gives it: "VT", version 1, flags 0, flow id, sequence (big-endian), then the payload.</summary>
    private static byte[] Tagged(ulong sequence, string payload)
    {
        byte[] text = Encoding.ASCII.GetBytes(payload);
        var datagram = new byte[16 + text.Length];
        datagram[0] = 0x56;
        datagram[1] = 0x54;
        datagram[2] = 1;
        BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(4), FlowId);
        BinaryPrimitives.WriteUInt64BigEndian(datagram.AsSpan(8), sequence);
        text.CopyTo(datagram, 16);
        return datagram;
    }

    private static Socket Bound(string address)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
        return socket;
    }

    private static IPEndPoint[] Addresses(string listening) =>
        [.. Regex.Match(listening, "listening on (.*), delivering").Groups[1].Value.Split(", ").Select(IPEndPoint.Parse)];

    private static async Task SendAsync(Socket from, IPEndPoint to, params byte[][] datagrams)
    {
        foreach (byte[] datagram in datagrams)
        {
            await from.SendToAsync(datagram, to);
            await Task.Delay(20); // one after the other through the relay, which reads each path on its own thread
        }
    }

    private static List<(ulong, string)> Receive(Socket socket, int count)
    {
        var echoes = new List<(ulong, string)>();
        var buffer = new byte[2048];
        socket.ReceiveTimeout = 10_000;
        while (echoes.Count < count)
        {
            int n;
            try
            {
                n = socket.Receive(buffer);
            }
            catch (SocketException e)
            {
                throw new Xunit.Sdk.XunitException($"{e.SocketErrorCode} after {echoes.Count} echoes: {string.Join(", ", echoes)}");
            }

            Assert.True(n >= 16 && buffer[0] == 0x56 && buffer[1] == 0x54 && buffer[2] == 1, $"not a tagged echo: {Convert.ToHexString(buffer, 0, n)}");
            Assert.Equal(FlowId, BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(4)));
            echoes.Add((BinaryPrimitives.ReadUInt64BigEndian(buffer.AsSpan(8)), Encoding.ASCII.GetString(buffer, 16, n - 16)));
        }

        return echoes;
    }

    /// <summary>Records what the server gets, and echoes it unless <paramref name="from"/> is given (then it records the senders).</summary>
    private static Task EchoAsync(Socket server, List<string> into, CancellationToken stop, List<EndPoint>? from = null) => Task.Run(async () =>
    {
        var buffer = new byte[2048];
        while (!stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await server.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            lock (into)
            {
                into.Add(Encoding.ASCII.GetString(buffer, 0, r.ReceivedBytes));
                from?.Add(r.RemoteEndPoint);
            }

            if (from is not null)
            {
                continue;
            }

            await server.SendToAsync(buffer.AsMemory(0, r.ReceivedBytes), r.RemoteEndPoint);
        }
    });

    private static int Count(List<string> list)
    {
        lock (list)
        {
            return list.Count;
        }
    }

    private static async Task WaitAsync(Func<bool> done, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }
}
