using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using VirtualStack.Contracts.Net;

namespace VirtualStack.Host.Remote;

/// <summary>
/// A controller's side of the remote interface (used by <c>vs ... --remote HOST:PORT --key-file FILE</c>, and a
/// reference for controllers in other languages): signs the command, checks that the reply is signed with the same
/// key, answers this request's nonce and is fresh.
/// </summary>
internal static class RemoteClient
{
    public static async Task<JsonObject> SendAsync(NetEndpoint server, byte[] key, JsonObject command, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        using var socket = new Socket(server.Address.Family, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.ToIPEndPoint(), cancel.Token);
        string nonce = RemoteMessage.NewNonce();
        string line = RemoteMessage.Envelope(key, RemoteMessage.RequestKind, RemoteMessage.Now(), nonce, command.ToJsonString());
        await socket.SendAsync(Encoding.UTF8.GetBytes(line + "\n"), SocketFlags.None, cancel.Token);
        using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string? answer = await reader.ReadLineAsync(cancel.Token);
        return Open(answer, key, nonce, TimeSpan.FromMinutes(1));
    }

    /// <summary>Checks a reply line and returns its body; a refusal or a reply that does not verify becomes an error answer.</summary>
    public static JsonObject Open(string? line, byte[] key, string nonce, TimeSpan maxSkew)
    {
        if (line is null || JsonNode.Parse(line) is not JsonObject reply)
        {
            return Error("no answer (the connection closed)");
        }

        if (reply["refused"] is not null)
        {
            return Error(reply["error"]?.ToString() ?? "refused");
        }

        if (reply["ts"] is not JsonValue ts || !ts.TryGetValue(out long timestamp) ||
            reply["nonce"]?.GetValue<string>() != nonce ||
            reply["body"] is not JsonValue b || !b.TryGetValue(out string? body) ||
            reply["mac"] is not JsonValue m || !m.TryGetValue(out string? mac) ||
            !RemoteMessage.Verify(key, RemoteMessage.ReplyKind, timestamp, nonce, body, mac))
        {
            return Error("the reply is not signed with this key for this request: not trusted");
        }

        if (Math.Abs(RemoteMessage.Now() - timestamp) > maxSkew.TotalMilliseconds)
        {
            return Error("the reply's timestamp is too far from this host's clock: not trusted");
        }

        return JsonNode.Parse(body) as JsonObject ?? Error("the reply's body is not a JSON object");
    }

    private static JsonObject Error(string message) => new() { ["ok"] = false, ["error"] = message };
}
