using VirtualStack.Contracts.Net;

namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>
/// Runs one whole connection between two in-memory endpoints (handshake with feature negotiation, data both ways
/// with Ack Vectors, close), so that the JIT has compiled the protocol's paths before the first real connection: a
/// first handshake otherwise takes 0.1-0.2 s of compilation, on each side, while the flow's datagrams wait.
/// Touches no socket and no shared state; a failure here only means a slower first connection.
/// </summary>
internal static class DccpWarmUp
{
    private static readonly NetAddress ClientAddress = NetAddress.Parse("192.0.2.1"); // TEST-NET-1, never on the wire
    private static readonly NetAddress ServerAddress = NetAddress.Parse("192.0.2.2");

    /// <summary>Returns true when the in-memory connection opened, carried data both ways and closed.</summary>
    public static bool Run(bool transportChecksums = false)
    {
        try
        {
            return RunOnce(transportChecksums);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            return false; // only the compilation was wanted
        }
    }

    private static bool RunOnce(bool transportChecksums)
    {
        var toServer = new Queue<byte[]>();
        var toClient = new Queue<byte[]>();
        var server = new DccpDemux(new QueueOutput(toClient), ServerAddress, 1460, null, null, null, transportChecksums);
        var client = new DccpDemux(new QueueOutput(toServer), ClientAddress, 1460, null, null, null, transportChecksums);
        var accepted = new Accepted();
        server.Listen(9, [], accepted);
        long now = 1_000_000;
        DccpConnectionCore connection = client.Connect(ServerAddress, 9, 0, now);
        byte[] payload = new byte[1000];
        byte[] sink = new byte[1500];
        int toServerData = 0;
        int toClientData = 0;
        for (int round = 0; round < 400; round++)
        {
            now += 500;
            if (round == 300)
            {
                connection.Close(now);
            }
            else if (round < 300 && connection.State is DccpState.Open or DccpState.PartOpen)
            {
                connection.TrySend(payload, now);
                accepted.Connection?.TrySend(payload.AsSpan(0, 100), now);
            }

            while (toServer.TryDequeue(out byte[]? packet))
            {
                server.OnDatagram(packet, ClientAddress, ServerAddress, now);
            }

            while (toClient.TryDequeue(out byte[]? packet))
            {
                client.OnDatagram(packet, ServerAddress, ClientAddress, now);
            }

            while (connection.TryReceive(sink) >= 0)
            {
                toClientData++;
            }

            while ((accepted.Connection?.TryReceive(sink) ?? -1) >= 0)
            {
                toServerData++;
            }

            server.OnTimer(now);
            client.OnTimer(now);
        }

        bool closed = connection.State is DccpState.Closed or DccpState.TimeWait;
        connection.Release();
        accepted.Connection?.Release();
        return closed && toServerData > 0 && toClientData > 0;
    }

    private sealed class QueueOutput(Queue<byte[]> queue) : IDccpPacketOutput
    {
        public void Send(ReadOnlySpan<byte> packet, NetAddress destination) => queue.Enqueue(packet.ToArray());
    }

    private sealed class Accepted : IDccpAcceptSink
    {
        public DccpConnectionCore? Connection { get; private set; }

        public bool CanAccept => Connection is null;

        public void OnOpen(DccpConnectionCore connection) => Connection = connection;
    }
}
