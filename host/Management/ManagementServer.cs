using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VirtualStack.Host.Management;

/// <summary>
/// The local management interface: a Unix stream socket, readable and writable by its owner only (mode 0600).
/// One request per connection: a JSON object on one line (<c>{"command":"status"}</c>), answered by one JSON
/// object on one line (<c>{"ok":true,"result":...}</c> or <c>{"ok":false,"error":"..."}</c>).
/// </summary>
internal sealed class ManagementServer : IAsyncDisposable
{
    private const int MaxRequestBytes = 64 * 1024;

    private readonly Socket _listener;
    private readonly string _path;
    private readonly ManagementHandler _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private ManagementServer(Socket listener, string path, ManagementHandler handler)
    {
        _listener = listener;
        _path = path;
        _handler = handler;
        _accepting = AcceptLoop();
    }

    public static ManagementServer Start(string path, ManagementHandler handler)
    {
        string? directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        if (File.Exists(path))
        {
            if (ManagementClient.IsAlive(path))
            {
                throw new IOException($"management socket {path} is in use by another running instance (set Management:Socket or Tun:Name)");
            }

            File.Delete(path);
        }

        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // Owner-only from the first moment: nobody can connect before Listen, and the mode is set before it.
            listener.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(16);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        var server = new ManagementServer(listener, path, handler);
        try
        {
            handler.Start();
        }
        catch
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }

        return server;
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using (client)
        {
            JsonObject response;
            try
            {
                string? line = await ReadLineAsync(client);
                response = line is null
                    ? Error("empty request")
                    : await _handler.HandleAsync(JsonNode.Parse(line) as JsonObject ?? throw new JsonException("a request is a JSON object"));
            }
            catch (JsonException e)
            {
                response = Error($"bad request: {e.Message}");
            }
            catch (Exception e)
            {
                response = Error(e.Message);
            }

            try
            {
                byte[] bytes = Encoding.UTF8.GetBytes(response.ToJsonString() + "\n");
                await client.SendAsync(bytes, SocketFlags.None);
                client.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
            }
        }
    }

    private static async Task<string?> ReadLineAsync(Socket client)
    {
        var buffer = new byte[MaxRequestBytes];
        int length = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (length < buffer.Length)
        {
            int n = await client.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                break;
            }

            int newline = Array.IndexOf(buffer, (byte)'\n', length, n);
            length += n;
            if (newline >= 0)
            {
                return Encoding.UTF8.GetString(buffer, 0, newline);
            }
        }

        return length == 0 ? null : Encoding.UTF8.GetString(buffer, 0, length);
    }

    public static JsonObject Error(string message) => new() { ["ok"] = false, ["error"] = message };

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        try
        {
            await _accepting;
        }
        catch (Exception)
        {
        }

        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
        }

        _stop.Dispose();
        await _handler.DisposeAsync();
    }
}
