using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VirtualStack.Host.Remote;

/// <summary>
/// The remote management interface: a TCP listener on <see cref="RemoteSettings.Listen"/> for the core network's
/// controller. Each line is one message (<see cref="RemoteMessage"/>): authenticated with HMAC-SHA256 under the
/// configured key, fresh (timestamp within MaxSkew) and new (nonce not seen), else refused, counted, logged (rate
/// limited) and the connection closed. An accepted message's body is a management command, answered in a signed
/// reply that carries the request's nonce.
/// </summary>
/// <remarks>
/// The listening socket carries the VNIC's firewall mark: the controller may sit inside a captured prefix, and the
/// answers must go to it directly, not into the VNIC (accepted sockets inherit the mark).
/// </remarks>
internal sealed class RemoteServer : IAsyncDisposable
{
    public const int MaxConnections = 32;

    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);

    private readonly Socket _listener;
    private readonly RemoteSettings _settings;
    private readonly Func<JsonObject, Task<JsonObject>> _handle;
    private readonly ReplayGuard _guard;
    private readonly CancellationTokenSource _stop = new();
    private readonly Timer _flush;
    private readonly Task _accepting;
    private int _connections;
    private long _accepted;
    private long _connectionsTotal;

    private RemoteServer(Socket listener, RemoteSettings settings, Func<JsonObject, Task<JsonObject>> handle, Action<string> log)
    {
        _listener = listener;
        _settings = settings;
        _handle = handle;
        _guard = new ReplayGuard(settings.MaxSkew);
        Refusals = new RefusalLog(log);
        _flush = new Timer(_ => Refusals.Flush(Environment.TickCount64), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        _accepting = AcceptLoop();
    }

    public RefusalLog Refusals { get; }

    public System.Net.EndPoint LocalEndPoint => _listener.LocalEndPoint!;

    /// <summary>Messages accepted (authenticated, fresh, new) and executed.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    public long ConnectionsTotal => Interlocked.Read(ref _connectionsTotal);

    public int NoncesRemembered => _guard.Remembered;

    /// <summary>
    /// Checks, before anything on the system is touched, that the address can be listened on (it is an address of
    /// this host and the port is free): a bind and a close. Returns null, or why not.
    /// </summary>
    public static string? Probe(RemoteSettings settings)
    {
        using var probe = new Socket(settings.Listen.Address.Family, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            probe.Bind(settings.Listen.ToIPEndPoint());
            return null;
        }
        catch (SocketException e)
        {
            return $"cannot listen on {settings.Listen}: {e.Message}";
        }
    }

    /// <summary>Listens; throws <see cref="IOException"/> naming the address when it cannot.</summary>
    public static RemoteServer Start(RemoteSettings settings, int socketMark, Func<JsonObject, Task<JsonObject>> handle, Action<string> log)
    {
        var listener = new Socket(settings.Listen.Address.Family, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (socketMark != 0)
            {
                // SOL_SOCKET = 1, SO_MARK = 36 (needs CAP_NET_ADMIN, which vs run has).
                listener.SetRawSocketOption(1, 36, BitConverter.GetBytes(socketMark));
            }

            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(settings.Listen.ToIPEndPoint());
            listener.Listen(MaxConnections);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new IOException($"remote management: cannot listen on {settings.Listen} (Management:Remote:Listen): {e.Message}", e);
        }

        log($"remote management: listening on {listener.LocalEndPoint} (HMAC-SHA256, max skew {settings.MaxSkew.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s)");
        return new RemoteServer(listener, settings, handle, log);
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

            Interlocked.Increment(ref _connectionsTotal);
            if (Interlocked.Increment(ref _connections) > MaxConnections)
            {
                Interlocked.Decrement(ref _connections);
                _ = RefuseAndClose(client, Refusal.TooManyConnections);
                continue;
            }

            _ = Serve(client);
        }
    }

    private async Task Serve(Socket client)
    {
        string peer = client.RemoteEndPoint?.ToString() ?? "?";
        try
        {
            using (client)
            {
                var buffer = new byte[RemoteMessage.MaxLineBytes + 1];
                int length = 0;
                while (!_stop.IsCancellationRequested)
                {
                    int newline = Array.IndexOf(buffer, (byte)'\n', 0, length);
                    if (newline < 0)
                    {
                        if (length >= RemoteMessage.MaxLineBytes)
                        {
                            await Refuse(client, Refusal.TooLarge, peer);
                            return;
                        }

                        int n;
                        using (var idle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
                        {
                            idle.CancelAfter(IdleTimeout);
                            n = await client.ReceiveAsync(buffer.AsMemory(length, RemoteMessage.MaxLineBytes - length), SocketFlags.None, idle.Token);
                        }

                        if (n == 0)
                        {
                            return;
                        }

                        length += n;
                        continue;
                    }

                    string line = Encoding.UTF8.GetString(buffer, 0, newline).TrimEnd('\r');
                    Buffer.BlockCopy(buffer, newline + 1, buffer, 0, length - newline - 1);
                    length -= newline + 1;
                    if (line.Length == 0)
                    {
                        continue;
                    }

                    (string? reply, Refusal? refusal) = await Process(line);
                    if (refusal is { } reason)
                    {
                        await Refuse(client, reason, peer);
                        return;
                    }

                    await client.SendAsync(Encoding.UTF8.GetBytes(reply + "\n"), SocketFlags.None, _stop.Token);
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The controller went away, idled out, or we are stopping.
        }
        finally
        {
            Interlocked.Decrement(ref _connections);
        }
    }

    /// <summary>Checks one message and runs its command: the signed reply, or why it was refused.</summary>
    internal async Task<(string? Reply, Refusal? Refusal)> Process(string line)
    {
        long timestamp;
        string nonce, body, mac;
        try
        {
            if (JsonNode.Parse(line) is not JsonObject message ||
                message["v"] is not JsonValue v || !v.TryGetValue(out int version) || version != RemoteMessage.Version ||
                message["ts"] is not JsonValue ts || !ts.TryGetValue(out timestamp) ||
                message["nonce"] is not JsonValue n || !n.TryGetValue(out string? nonceText) ||
                message["body"] is not JsonValue b || !b.TryGetValue(out string? bodyText) ||
                message["mac"] is not JsonValue m || !m.TryGetValue(out string? macText) ||
                nonceText.Length is < RemoteMessage.MinNonceChars or > RemoteMessage.MaxNonceChars || !nonceText.All(char.IsAsciiHexDigit))
            {
                return (null, Refusal.Malformed);
            }

            nonce = nonceText;
            body = bodyText;
            mac = macText;
        }
        catch (JsonException)
        {
            return (null, Refusal.Malformed);
        }

        // The MAC first: only a holder of the key learns whether its clock or its nonce was the problem, and only
        // authenticated nonces take memory.
        if (!RemoteMessage.Verify(_settings.Key, RemoteMessage.RequestKind, timestamp, nonce, body, mac))
        {
            return (null, Refusal.BadMac);
        }

        if (_guard.Check(timestamp, nonce, RemoteMessage.Now()) is { } refusal)
        {
            return (null, refusal);
        }

        Interlocked.Increment(ref _accepted);
        JsonObject answer;
        try
        {
            answer = JsonNode.Parse(body) is JsonObject command
                ? await _handle(command)
                : Error("the body is not a JSON object holding a command");
        }
        catch (JsonException e)
        {
            answer = Error($"the body is not JSON: {e.Message}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            answer = Error(e.Message);
        }

        return (RemoteMessage.Envelope(_settings.Key, RemoteMessage.ReplyKind, RemoteMessage.Now(), nonce, answer.ToJsonString()), null);
    }

    private static JsonObject Error(string message) => new() { ["ok"] = false, ["error"] = message };

    private async Task Refuse(Socket client, Refusal reason, string peer)
    {
        Refusals.Refused(reason, peer, Environment.TickCount64);
        string line = new JsonObject
        {
            ["v"] = RemoteMessage.Version,
            ["refused"] = RefusalLog.Name(reason),
            ["error"] = $"refused: {RefusalLog.Explain(reason)}",
        }.ToJsonString() + "\n";
        try
        {
            await client.SendAsync(Encoding.UTF8.GetBytes(line), SocketFlags.None);
            client.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
    }

    private async Task RefuseAndClose(Socket client, Refusal reason)
    {
        using (client)
        {
            await Refuse(client, reason, client.RemoteEndPoint?.ToString() ?? "?");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _flush.DisposeAsync();
        Refusals.Flush(long.MaxValue / 2);
        try
        {
            await _accepting;
        }
        catch (Exception)
        {
        }

        _stop.Dispose();
    }
}
