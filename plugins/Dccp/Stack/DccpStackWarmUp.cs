using System.Diagnostics;
using System.Runtime.CompilerServices;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Dccp.Core;
using VirtualStack.Plugins.Dccp.Endpoint;
using VirtualStack.Plugins.Dccp.Transport;

namespace VirtualStack.Plugins.Dccp.Stack;

/// <summary>
/// Runs one flow through a Dccp stack's real code, once, at stack creation and on a background thread: a stack of
/// its own (same settings, its own counters) opens a flow over a <see cref="LoopbackTransport"/> pair to an
/// endpoint that echoes, sends through the flow's Send and the stack's Flush (sendmmsg), takes the echoes through
/// the endpoint's thread (recvmmsg) and the flow's delivery, and closes. In a cold process the first real flow
/// otherwise compiled all of this (0.1 s, measured: 43 ms before its Request left, 45 ms in its first Send), on the
/// host's pipeline thread for the Send and Flush part. Touches nothing outside 127.0.0.1; a failure only means a
/// slower first flow.
/// </summary>
internal static class DccpStackWarmUp
{
    private const ushort Port = 9;
    private const int Rounds = 40;
    private const int PerRound = 8;
    private static readonly NetAddress ClientAddress = NetAddress.Parse("192.0.2.1"); // TEST-NET-1, claimed, never on the wire
    private static readonly NetAddress ServerAddress = NetAddress.Parse("192.0.2.2");

    /// <summary>True when the warm-up flow opened, carried data both ways and closed.</summary>
    public static async Task<bool> Run(DccpStackSettings settings, int mark)
    {
        try
        {
            PrepareTransports();
            OpenRealTransport(settings, mark);
            return await RunFlow(settings).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return false; // only the compilation was wanted
        }
    }

    /// <summary>
    /// The real transports' own methods (the loopback pair runs the batching code they share): compiled now, not at
    /// the first Send. Their sockets need privileges or send to real peers, so they are prepared, not run.
    /// </summary>
    private static void PrepareTransports()
    {
        foreach (Type type in (Type[])[typeof(RawIpTransport), typeof(UdpEncapsulationTransport)])
        {
            foreach (string name in (string[])[nameof(IDccpTransport.Send), nameof(IDccpTransport.Queue), nameof(IDccpTransport.FlushQueued), nameof(IDccpTransport.Receive)])
            {
                if (type.GetMethod(name) is { } method)
                {
                    RuntimeHelpers.PrepareMethod(method.MethodHandle);
                }
            }
        }
    }

    /// <summary>
    /// What making the first real endpoint runs before its socket is of any use (routing probe, the transport's
    /// socket with its options), on 127.0.0.1 and closed at once: a UDP probe's connect sends nothing, and the raw
    /// socket lives for microseconds, bound to loopback. Without the privilege raw IP needs, it is skipped.
    /// </summary>
    private static void OpenRealTransport(DccpStackSettings settings, int mark)
    {
        var loopback = new NetEndpoint(NetAddress.Parse("127.0.0.1"), Port);
        try
        {
            NetAddress local = Routing.SourceAddressFor(loopback, mark);
            using IDccpTransport transport = settings.Transport == DccpTransportKind.Udp
                ? new UdpEncapsulationTransport(local, 0, settings.Mtu, mark, settings.Port)
                : new RawIpTransport(local, settings.Mtu, mark);
        }
        catch (System.Net.Sockets.SocketException)
        {
        }
    }

    private static async Task<bool> RunFlow(DccpStackSettings settings)
    {
        (LoopbackTransport client, LoopbackTransport server) = LoopbackTransport.CreatePair(ClientAddress, ServerAddress,
            providesChecksum: settings.Transport == DccpTransportKind.Udp);
        using var serverEndpoint = new DccpEndpoint(server);
        bool clientOwned = false;
        try
        {
            using DccpListener listener = serverEndpoint.Listen(Port);
            Task<int> echo = EchoOne(listener);
            var stack = new DccpStack("warm-up", settings, QuietHost.Instance, _ => ClientAddress, _ => client);
            clientOwned = true; // the stack's endpoint disposes it
            await using (stack.ConfigureAwait(false))
            {
                var replies = new CountingSink();
                var key = new FlowKey(IpProtocols.Udp, ClientAddress, 40000, ServerAddress, Port);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                IStackFlow flow = await stack.Open(key, new NetEndpoint(ServerAddress, Port), replies, timeout.Token).ConfigureAwait(false);
                byte[] packet = new byte[28 + 1000]; // an IPv4 UDP packet as the host hands it over
                var info = new PacketInfo
                {
                    Length = (ushort)packet.Length,
                    IpVersion = 4,
                    Protocol = IpProtocols.Udp,
                    TransportOffset = 20,
                    PayloadOffset = 28,
                    PayloadLength = 1000,
                    Flags = PacketFlags.TransportParsed,
                    Flow = key,
                };
                var clock = Stopwatch.StartNew();
                for (int round = 0; round < Rounds && clock.ElapsedMilliseconds < 1000; round++)
                {
                    for (int i = 0; i < PerRound; i++)
                    {
                        flow.Send(packet, info);
                    }

                    stack.Flush();
                    await Task.Delay(1).ConfigureAwait(false); // acknowledgements open the window; echoes come back
                }

                if (flow is IMeasuredFlow measured)
                {
                    measured.TryMeasure(out _);
                }

                flow.Dispose(); // a graceful close: Close, Reset, TIMEWAIT
                await Task.WhenAny(echo, Task.Delay(500)).ConfigureAwait(false);
                return replies.Delivered > 0 && echo.IsCompletedSuccessfully && echo.Result > 0;
            }
        }
        finally
        {
            if (!clientOwned)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>Accepts one connection and echoes what it carries until it ends; returns the datagrams it echoed.</summary>
    private static async Task<int> EchoOne(DccpListener listener)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        DccpConnection connection = await listener.AcceptAsync(timeout.Token).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            int echoed = 0;
            byte[] buffer = new byte[connection.MaxDatagramSize];
            int n;
            while ((n = await connection.ReceiveAsync(buffer, timeout.Token).ConfigureAwait(false)) >= 0)
            {
                if (connection.TrySend(buffer.AsSpan(0, Math.Min(n, 100))))
                {
                    echoed++;
                }
            }

            return echoed;
        }
    }

    private sealed class CountingSink : IReplySink
    {
        private int _delivered;

        public int Delivered => Volatile.Read(ref _delivered);

        public void Deliver(ReadOnlySpan<byte> payload) => Interlocked.Increment(ref _delivered);

        public void Fault(string reason)
        {
        }
    }

    private sealed class QuietHost : IStackHost
    {
        public static readonly QuietHost Instance = new();

        public int SocketMark => 0;

        public void Log(StackLogLevel level, string message)
        {
        }
    }
}
