using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// The remote management interface from the controller's side of the topology (the server namespace), written
/// from docs/management-protocol.md alone: authenticated commands and measurements act on the live stream; a wrong
/// key, a replayed message and a stale one are refused, counted and change nothing.
/// </summary>
public sealed class RemoteManagementTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const int Port = 7700;
    private const int Phase = 200;
    private const int Rate = 1000;

    [SkippableFact]
    public async Task The_controller_switches_and_measures_and_wrong_keys_replays_and_stale_messages_change_nothing()
    {
        await using var topology = await TopologyAsync();
        byte[] key = RandomNumberGenerator.GetBytes(32);
        VsConfig config = SwitchStream.Config(SwitchStream.Rule(topology, "Static"));
        config.RemoteManagement = new JsonObject
        {
            ["Listen"] = $"{topology.Main.EdgeV4}:{Port}",
            ["Key"] = Convert.ToHexStringLower(key),
            ["MaxSkew"] = "00:00:10",
        };
        await using var vs = await VsInstance.StartAsync(topology, config);
        await using var stream = SwitchStream.Open(topology);
        var controller = new Controller(topology, new IPEndPoint(topology.Main.EdgeV4, Port), key);
        await PhaseAsync(stream, Phase, 0);

        // Authenticated: every flow of the rule onto udpB.
        string toB = controller.Sign("{\"command\":\"switch\",\"target\":\"stream\",\"stack\":\"udpB\"}");
        JsonObject moved = await controller.SendAsync(toB);
        Assert.True(moved["ok"]!.GetValue<bool>(), moved.ToJsonString());
        Assert.Equal("udpB", moved["result"]!["stack"]!.GetValue<string>());
        await PhaseAsync(stream, Phase, Phase);

        // The operator moves it back locally; then the controller's earlier message is replayed.
        Assert.True((await VsInstance.RunCommandAsync(null, "switch", "stream", "udpA", "--socket", vs.ManagementSocket)).Ok);
        string state = await StateAsync(vs);
        JsonObject replayed = await controller.SendAsync(toB);
        Assert.Equal("replayed", replayed["refused"]!.GetValue<string>());

        var wrongKey = new Controller(topology, controller.Server, RandomNumberGenerator.GetBytes(32));
        JsonObject forged = await wrongKey.SendAsync(wrongKey.Sign("{\"command\":\"switch\",\"target\":\"stream\",\"stack\":\"udpB\"}"));
        Assert.Equal("bad_mac", forged["refused"]!.GetValue<string>());

        long old = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 60_000;
        JsonObject stale = await controller.SendAsync(controller.Sign("{\"command\":\"switch\",\"target\":\"stream\",\"stack\":\"udpB\"}", old));
        Assert.Equal("stale", stale["refused"]!.GetValue<string>());

        Assert.Equal(state, await StateAsync(vs));
        await PhaseAsync(stream, 2 * Phase, Phase);

        // Measurements from the controller drive MeasurementDriven.
        JsonObject policy = await controller.SendAsync(controller.Sign(
            "{\"command\":\"policy\",\"rule\":\"stream\",\"policy\":\"MeasurementDriven\",\"options\":{\"MaxLoss\":\"0.05\",\"HoldTime\":\"00:00:00.5\"}}"));
        Assert.True(policy["ok"]!.GetValue<bool>(), policy.ToJsonString());
        JsonObject bad = await controller.SendAsync(controller.Sign("{\"command\":\"measure\",\"stack\":\"udpA\",\"loss\":0.2,\"rtt_ms\":40}"));
        Assert.True(bad["ok"]!.GetValue<bool>(), bad.ToJsonString());
        Assert.StartsWith("on udpB; udpA bad (loss 0.2 > 0.05)", bad["result"]!["delivered"]![0]!["state"]!.GetValue<string>(), StringComparison.Ordinal);
        await PhaseAsync(stream, 2 * Phase, 2 * Phase);
        await Task.Delay(600);
        JsonObject good = await controller.SendAsync(controller.Sign("{\"command\":\"measure\",\"stack\":\"udpA\",\"loss\":0.0}"));
        Assert.StartsWith("on udpA; all good", good["result"]!["delivered"]![0]!["state"]!.GetValue<string>(), StringComparison.Ordinal);
        await PhaseAsync(stream, 3 * Phase, 2 * Phase);

        // vs itself as a controller, from the server namespace.
        string keyFile = Path.Combine(Path.GetTempPath(), $"vs-remote-key-{topology.Id}");
        await File.WriteAllTextAsync(keyFile, Convert.ToHexStringLower(key));
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try
        {
            var status = await VsInstance.RunCommandAsync(topology.Server, "status", "--json", "--remote", $"{topology.Main.EdgeV4}:{Port}", "--key-file", keyFile);
            Assert.True(status.Ok, status.ToString());
            using JsonDocument doc = JsonDocument.Parse(status.StdOut);
            JsonElement refused = doc.RootElement.GetProperty("remote").GetProperty("refused");
            Assert.Equal(1, refused.GetProperty("bad_mac").GetInt64());
            Assert.Equal(1, refused.GetProperty("replayed").GetInt64());
            Assert.Equal(1, refused.GetProperty("stale").GetInt64());
            Assert.Equal(5, doc.RootElement.GetProperty("remote").GetProperty("accepted").GetInt64());

            var human = await VsInstance.RunCommandAsync(topology.Server, "status", "--remote", $"{topology.Main.EdgeV4}:{Port}", "--key-file", keyFile);
            Assert.Contains("remote        ", human.StdOut, StringComparison.Ordinal);
            Assert.Contains("3 refused: bad_mac=1 stale=1 replayed=1", human.StdOut, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(keyFile);
        }

        Assert.Contains(vs.Process.StdErr, l => l.Contains("remote management: refused a message from", StringComparison.Ordinal));
        await vs.StopAsync();
    }

    private static async Task<string> StateAsync(VsInstance vs)
    {
        using JsonDocument status = await SwitchStream.JsonAsync(vs, "status");
        return string.Join('\n', status.RootElement.GetProperty("rules").EnumerateArray()
            .Select(r => $"{r.GetProperty("name")} {r.GetProperty("policy")} {r.GetProperty("options")} forced={r.GetProperty("forced")} since={r.GetProperty("since")}"));
    }

    private async Task PhaseAsync(SwitchStream stream, int expectA, int expectB)
    {
        await stream.SendAsync(Phase, Rate);
        await stream.SettleAsync(TimeSpan.FromSeconds(5));
        Log($"after {stream.Sent} datagrams: A {stream.AtA.Count}, B {stream.AtB.Count}");
        Assert.Equal((expectA, expectB), (stream.AtA.Count, stream.AtB.Count));
    }

    /// <summary>A controller written from the protocol document: HMAC-SHA256 over "vs1-request\nts\nnonce\nbody".</summary>
    private sealed class Controller(NetnsTopology topology, IPEndPoint server, byte[] key)
    {
        public IPEndPoint Server => server;

        public string Sign(string body, long? timestamp = null)
        {
            long ts = timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            string nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            string mac = Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(
                string.Create(CultureInfo.InvariantCulture, $"vs1-request\n{ts}\n{nonce}\n{body}"))));
            return new JsonObject { ["v"] = 1, ["ts"] = ts, ["nonce"] = nonce, ["body"] = body, ["mac"] = mac }.ToJsonString();
        }

        /// <summary>Sends one line from the server namespace; returns the refusal, or the reply's body once its MAC verified.</summary>
        public async Task<JsonObject> SendAsync(string line)
        {
            using Socket socket = Netns.Socket(topology.Server, AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(server, cancel.Token);
            await socket.SendAsync(Encoding.UTF8.GetBytes(line + "\n"), SocketFlags.None, cancel.Token);
            using var reader = new StreamReader(new NetworkStream(socket, ownsSocket: false), Encoding.UTF8);
            JsonObject reply = JsonNode.Parse(await reader.ReadLineAsync(cancel.Token) ?? "{}")!.AsObject();
            if (reply["refused"] is not null)
            {
                return reply;
            }

            string nonce = JsonNode.Parse(line)!["nonce"]!.GetValue<string>();
            string body = reply["body"]!.GetValue<string>();
            long ts = reply["ts"]!.GetValue<long>();
            string expected = Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(
                string.Create(CultureInfo.InvariantCulture, $"vs1-reply\n{ts}\n{nonce}\n{body}"))));
            Assert.Equal(nonce, reply["nonce"]!.GetValue<string>());
            Assert.Equal(expected, reply["mac"]!.GetValue<string>());
            return JsonNode.Parse(body)!.AsObject();
        }
    }
}
