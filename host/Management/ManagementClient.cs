using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace VirtualStack.Host.Management;

/// <summary>Talks to a running daemon's management socket (used by <c>vs status</c>, <c>vs flows</c>, ...).</summary>
internal static class ManagementClient
{
    public static async Task<JsonObject> SendAsync(string path, JsonObject request, TimeSpan timeout)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var cancel = new CancellationTokenSource(timeout);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancel.Token);
        await socket.SendAsync(Encoding.UTF8.GetBytes(request.ToJsonString() + "\n"), SocketFlags.None, cancel.Token);
        using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string? line = await reader.ReadLineAsync(cancel.Token);
        return JsonNode.Parse(line ?? "{}") as JsonObject ?? ManagementServer.Error("empty answer");
    }

    /// <summary>True when a daemon answers on <paramref name="path"/>.</summary>
    public static bool IsAlive(string path)
    {
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
