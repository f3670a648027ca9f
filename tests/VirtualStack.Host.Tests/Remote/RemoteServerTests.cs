using System.Text.Json.Nodes;
using VirtualStack.Host.Remote;

namespace VirtualStack.Host.Tests.Remote;

/// <summary>
/// The remote interface on loopback: an authenticated command runs and its reply verifies; a wrong key, a changed
/// body, a stale timestamp, a replayed nonce, a malformed or oversized line are refused, counted, logged (rate
/// limited) and never reach the command handler.
/// </summary>
public sealed class RemoteServerTests
{
    private static JsonObject Reply(string line, string nonce) => RemoteClient.Open(line, RemoteHarness.Key, nonce, TimeSpan.FromMinutes(1));

    [Fact]
    public async Task An_authenticated_command_runs_and_the_reply_is_signed_for_it()
    {
        await using var harness = RemoteHarness.Start();
        string nonce = RemoteMessage.NewNonce();
        List<string> answers = await harness.Exchange(
            RemoteHarness.Request("{\"command\":\"status\"}", nonce: nonce),
            RemoteHarness.Request("{\"command\":\"flows\"}"));

        Assert.Equal(2, answers.Count);
        JsonObject first = Reply(answers[0], nonce);
        Assert.True(first["ok"]!.GetValue<bool>(), first.ToJsonString());
        Assert.Equal("status", first["result"]!["echo"]!["command"]!.GetValue<string>());
        Assert.Equal(2, harness.Commands.Count);
        Assert.Equal(2, harness.Server.Accepted);
        Assert.Equal(0, harness.Server.Refusals.All);

        // The same reply checked against another request's nonce, or another key, is not trusted.
        Assert.False(Reply(answers[0], RemoteMessage.NewNonce())["ok"]!.GetValue<bool>());
        Assert.False(RemoteClient.Open(answers[0], new byte[32], nonce, TimeSpan.FromMinutes(1))["ok"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Refused_messages_never_reach_the_handler_and_are_counted_by_reason()
    {
        await using var harness = RemoteHarness.Start(TimeSpan.FromSeconds(5));
        long now = RemoteMessage.Now();
        string good = RemoteHarness.Request("{\"command\":\"switch\",\"target\":\"r\",\"stack\":\"b\"}");
        string tampered = good.Replace("\\\"b\\\"", "\\\"a\\\"", StringComparison.Ordinal);
        Assert.NotEqual(good, tampered);

        (string Line, string Reason)[] cases =
        [
            (RemoteHarness.Request("{\"command\":\"status\"}", key: new byte[32]), "bad_mac"),
            (tampered, "bad_mac"),
            // Far outside the 5 s window, not just past it: the server compares with its clock when the line arrives,
            // and on a loaded machine a stalled second before that made "now + 6 s" fresh (accepted and run). The
            // window's exact edges are the replay guard's unit test below.
            (RemoteHarness.Request("{\"command\":\"status\"}", timestamp: now - 600_000), "stale"),
            (RemoteHarness.Request("{\"command\":\"status\"}", timestamp: now + 600_000), "stale"),
            ("not json", "malformed"),
            ("{\"v\":1,\"ts\":1,\"nonce\":\"00\",\"body\":\"{}\",\"mac\":\"00\"}", "malformed"),
            ("{\"v\":2,\"ts\":1,\"nonce\":\"00112233445566778899aabbccddeeff\",\"body\":\"{}\",\"mac\":\"00\"}", "malformed"),
            (new string('x', 70_000), "too_large"),
        ];
        foreach ((string line, string reason) in cases)
        {
            List<string> answers = await harness.Exchange(line, RemoteHarness.Request("{\"command\":\"after\"}"));
            // One refusal line, then the connection is closed: the second message is never read.
            string answer = Assert.Single(answers);
            JsonObject refusal = JsonNode.Parse(answer)!.AsObject();
            Assert.Equal(reason, refusal["refused"]!.GetValue<string>());
            Assert.StartsWith("refused: ", refusal["error"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        Assert.Empty(harness.Commands);
        Assert.Equal(2, harness.Server.Refusals.Total(Refusal.BadMac));
        Assert.Equal(2, harness.Server.Refusals.Total(Refusal.Stale));
        Assert.Equal(3, harness.Server.Refusals.Total(Refusal.Malformed));
        Assert.Equal(1, harness.Server.Refusals.Total(Refusal.TooLarge));
        // Rate-limited: the first refusal is logged with its sender and reason; the others wait for the summary.
        Assert.Contains(harness.Log, l => l.StartsWith("remote management: refused a message from 127.0.0.1:", StringComparison.Ordinal) && l.EndsWith("bad_mac (the MAC does not verify: a wrong key, or the message was changed)", StringComparison.Ordinal));
        Assert.Single(harness.Log, l => l.Contains("refused a message", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_replayed_message_is_refused_on_any_connection()
    {
        await using var harness = RemoteHarness.Start();
        string line = RemoteHarness.Request("{\"command\":\"switch\",\"target\":\"1\",\"stack\":\"b\"}");
        List<string> first = await harness.Exchange(line);
        List<string> again = await harness.Exchange(line);
        List<string> sameConnection = await harness.Exchange(RemoteHarness.Request("{\"command\":\"x\"}", nonce: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), RemoteHarness.Request("{\"command\":\"y\"}", nonce: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));

        Assert.Null(JsonNode.Parse(first[0])!["refused"]);
        Assert.Equal("replayed", JsonNode.Parse(Assert.Single(again))!["refused"]!.GetValue<string>());
        Assert.Equal("replayed", JsonNode.Parse(sameConnection[1])!["refused"]!.GetValue<string>());
        Assert.Equal(["switch", "x"], harness.Commands.Select(c => c["command"]!.GetValue<string>()));
        Assert.Equal(2, harness.Server.Refusals.Total(Refusal.Replayed));
    }

    [Fact]
    public async Task An_authenticated_body_that_is_not_a_command_gets_a_signed_error()
    {
        await using var harness = RemoteHarness.Start();
        string nonce = RemoteMessage.NewNonce();
        string answer = Assert.Single(await harness.Exchange(RemoteHarness.Request("[1,2]", nonce: nonce)));
        JsonObject reply = Reply(answer, nonce);
        Assert.False(reply["ok"]!.GetValue<bool>());
        Assert.Contains("not a JSON object", reply["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(harness.Commands);
    }

    [Fact]
    public void The_replay_guard_forgets_a_nonce_only_once_its_timestamp_is_out_of_the_window()
    {
        var guard = new ReplayGuard(TimeSpan.FromSeconds(10));
        Assert.Null(guard.Check(100_000, "n1", 100_000));
        Assert.Equal(Refusal.Replayed, guard.Check(100_000, "n1", 105_000));
        Assert.Equal(Refusal.Replayed, guard.Check(100_000, "n1", 110_000));
        Assert.Equal(Refusal.Stale, guard.Check(100_000, "n1", 110_001));
        Assert.Null(guard.Check(111_000, "n2", 111_000));
        Assert.Equal(1, guard.Remembered);
        Assert.Equal(Refusal.Stale, guard.Check(89_000, "n3", 100_000));

        var small = new ReplayGuard(TimeSpan.FromSeconds(10), capacity: 2);
        Assert.Null(small.Check(1_000, "a", 1_000));
        Assert.Null(small.Check(1_000, "b", 1_000));
        Assert.Equal(Refusal.Busy, small.Check(1_000, "c", 1_000));
    }

    [Fact]
    public void Refusals_are_logged_once_per_period_then_summarised()
    {
        var lines = new List<string>();
        var log = new RefusalLog(lines.Add, periodMs: 10_000);
        log.Refused(Refusal.BadMac, "peer1", 1_000);
        log.Refused(Refusal.BadMac, "peer2", 2_000);
        log.Refused(Refusal.Replayed, "peer3", 3_000);
        log.Flush(5_000);
        Assert.Single(lines);
        log.Flush(11_000);
        Assert.Equal(2, lines.Count);
        Assert.Equal("remote management: 2 more refusal(s) in the last 10 s: bad_mac 1, replayed 1", lines[1]);
        log.Flush(30_000);
        Assert.Equal(2, lines.Count);
        log.Refused(Refusal.Stale, "peer4", 30_000);
        Assert.Equal(3, lines.Count);
        Assert.Equal(4, log.All);
    }
}
