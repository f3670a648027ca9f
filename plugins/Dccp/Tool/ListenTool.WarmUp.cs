using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Endpoint;
using VirtualStack.Plugins.Dccp.Stack;
using VirtualStack.Plugins.Dccp.Transport;

namespace VirtualStack.Plugins.Dccp.Tool;

/// <summary>
/// Before <c>vs dccp listen</c> says it listens: one connection through this tool's own accept loop, session,
/// delivery (sendmmsg to a UDP socket standing in for the server), replies and close, over a
/// <see cref="LoopbackTransport"/> pair, so that the first real connection's handshake and first datagrams do not
/// wait for the JIT (measured: ~23 ms of a cold first handshake was the far side's first accept).
/// </summary>
internal sealed partial class ListenTool
{
    private static readonly NetAddress WarmClient = NetAddress.Parse("192.0.2.1"); // TEST-NET-1, claimed, never on the wire
    private static readonly NetAddress WarmServer = NetAddress.Parse("192.0.2.2");

    /// <summary>Runs the warm-up (at most about a second, whatever fails) and returns how long it took.</summary>
    private static async Task<TimeSpan> WarmUpAsync(Settings settings)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            await WarmUpOnceAsync(settings).WaitAsync(TimeSpan.FromSeconds(1));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Only the compilation was wanted: a failure means a slower first connection, nothing else.
        }

        return clock.Elapsed;
    }

    private static async Task WarmUpOnceAsync(Settings settings)
    {
        (LoopbackTransport client, LoopbackTransport server) = LoopbackTransport.CreatePair(WarmClient, WarmServer,
            providesChecksum: settings.Kind == DccpTransportKind.Udp);
        using var serverEndpoint = new DccpEndpoint(server);
        using var clientEndpoint = new DccpEndpoint(client);
        using var target = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        target.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var targetEndpoint = new NetEndpoint(NetAddress.Parse("127.0.0.1"), (ushort)((IPEndPoint)target.LocalEndPoint!).Port);
        var warm = settings with { Port = 9, Deliver = settings.Echo ? null : targetEndpoint, Mark = 0, StatsMs = 0 };
        var tool = new ListenTool(TextWriter.Null);
        serverEndpoint.RoundEnded = tool.FlushDeliveries;
        using var stop = new CancellationTokenSource();
        Task accepting;
        using (DccpListener listener = serverEndpoint.Listen(9))
        {
            accepting = tool.AcceptLoop(listener, warm, stop.Token);
            await using DccpConnection connection = await clientEndpoint.ConnectAsync(new NetEndpoint(WarmServer, 9), 0, stop.Token);
            byte[] datagram = new byte[1000];
            byte[] buffer = new byte[2048];
            var from = new IPEndPoint(IPAddress.Any, 0);
            for (int i = 0; i < 20; i++)
            {
                connection.TrySend(datagram);
                await Task.Delay(1);
                // The stand-in server answers what was delivered: the session's replies thread sends it back.
                while (target.Available > 0)
                {
                    EndPoint sender = from;
                    int n = target.ReceiveFrom(buffer, ref sender);
                    target.SendTo(buffer.AsSpan(0, Math.Min(n, 100)), SocketFlags.None, sender);
                }
            }

            using var closing = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            await connection.CloseAsync(closing.Token);
        }

        stop.Cancel();
        await accepting;
        Session[] open;
        lock (tool._sessions)
        {
            open = [.. tool._sessions];
        }

        await Task.WhenAll(open.Select(s => s.Finished));
    }
}
