using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using VirtualStack.Contracts.Net;
using VirtualStack.Host.Remote;

namespace VirtualStack.Host.Tests.Remote;

/// <summary>A remote server on loopback whose commands are recorded and answered with {"ok":true,"result":{"echo":..}}.</summary>
internal sealed class RemoteHarness : IAsyncDisposable
{
    public static readonly byte[] Key = Convert.FromHexString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");

    private RemoteHarness(RemoteServer server) => Server = server;

    public RemoteServer Server { get; private set; } = null!;

    public List<JsonObject> Commands { get; } = [];

    public List<string> Log { get; } = [];

    public IPEndPoint EndPoint => (IPEndPoint)Server.LocalEndPoint;

    public static RemoteHarness Start(TimeSpan? maxSkew = null)
    {
        var harness = new RemoteHarness(null!);
        var settings = new RemoteSettings(new NetEndpoint(NetAddress.Parse("127.0.0.1"), 0), Key, maxSkew ?? TimeSpan.FromSeconds(30));
        harness.Server = RemoteServer.Start(settings, 0, command =>
        {
            lock (harness.Commands)
            {
                harness.Commands.Add(command);
            }

            return Task.FromResult(new JsonObject { ["ok"] = true, ["result"] = new JsonObject { ["echo"] = command.DeepClone() } });
        }, line =>
        {
            lock (harness.Log)
            {
                harness.Log.Add(line);
            }
        });
        return harness;
    }

    /// <summary>A request line signed with <paramref name="key"/> (the server's by default).</summary>
    public static string Request(string body, long? timestamp = null, string? nonce = null, byte[]? key = null) =>
        RemoteMessage.Envelope(key ?? Key, RemoteMessage.RequestKind, timestamp ?? RemoteMessage.Now(), nonce ?? RemoteMessage.NewNonce(), body);

    /// <summary>Sends lines on one connection; returns the lines that came back until the server closed or went quiet.</summary>
    public async Task<List<string>> Exchange(params string[] lines)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(EndPoint);
        using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var answers = new List<string>();
        foreach (string line in lines)
        {
            try
            {
                await socket.SendAsync(Encoding.UTF8.GetBytes(line + "\n"), SocketFlags.None);
            }
            catch (SocketException)
            {
                break;
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            string? answer;
            try
            {
                answer = await reader.ReadLineAsync(timeout.Token);
            }
            catch (IOException)
            {
                break;
            }

            if (answer is null)
            {
                break;
            }

            answers.Add(answer);
        }

        return answers;
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}

/// <summary>The repository's files, found from this source file's path (the tests may run from any artifacts folder).</summary>
internal static class Repository
{
    public static string Root => Path.GetFullPath(Path.Combine(Here(), "..", "..", ".."));

    public static string File(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string Here([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
