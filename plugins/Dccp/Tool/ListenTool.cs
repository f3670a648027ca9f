using System.Globalization;
using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Core;
using VirtualStack.Plugins.Dccp.Endpoint;
using VirtualStack.Plugins.Dccp.Stack;
using VirtualStack.Plugins.Dccp.Transport;

namespace VirtualStack.Plugins.Dccp.Tool;

/// <summary>
/// <c>vs dccp listen</c>: accepts DCCP connections and hands each datagram, as UDP, to an unchanged server
/// (<c>--deliver</c>); the server's replies go back over the same connection. Each connection gets a UDP socket of
/// its own toward the server, so a reply maps back to its connection by the socket it arrives on.
/// </summary>
internal sealed partial class ListenTool
{
    private readonly TextWriter _output;
    private readonly Lock _outputGate = new();
    private readonly List<Session> _sessions = [];
    private readonly Totals _totals = new();
    private int _nextId;

    private ListenTool(TextWriter output)
    {
        _output = output;
    }

    public static async Task<int> RunAsync(ToolArguments args, TextWriter output, CancellationToken cancellationToken)
    {
        int port = args.Int("port", 0, 1, 65535);
        if (port == 0)
        {
            throw new ToolUsageException("--port is required (the DCCP port to listen on)");
        }

        uint? service = args.Service("service");
        NetEndpoint? deliver = args.Endpoint("deliver");
        bool echo = args.Flag("echo");
        DccpTransportKind kind = args.Transport();
        ushort udpPort = (ushort)args.Int("udp-port", port, 1, 65535);
        NetAddress? address = args.Address("address");
        int mtu = args.Int("mtu", 1500, 576, 65535);
        int mark = args.Int("mark", 0, 0, int.MaxValue);
        int statsMs = args.Int("stats-ms", 0, 0, 3_600_000);
        args.RejectUnknown();
        if (deliver is not null && echo)
        {
            throw new ToolUsageException("--deliver and --echo exclude each other");
        }

        var tool = new ListenTool(output);
        return await tool.RunAsync(new Settings((ushort)port, service, deliver, echo, kind, udpPort, address, mtu, mark, statsMs), cancellationToken);
    }

    private async Task<int> RunAsync(Settings settings, CancellationToken cancellationToken)
    {
        // The first connection then answers without JIT pauses: its accept, delivery and replies ran once already.
        TimeSpan warmUp = await WarmUpAsync(settings);
        IReadOnlyList<NetAddress> addresses = settings.Address is { } one ? [one] : Routing.LocalAddresses();
        var endpoints = new List<DccpEndpoint>();
        var listeners = new List<DccpListener>();
        try
        {
            foreach (NetAddress local in addresses)
            {
                IDccpTransport transport = ToolTransports.Open(settings.Kind, local, settings.UdpPort, settings.Mtu, settings.Mark, 0);
                var endpoint = new DccpEndpoint(transport);
                endpoint.RoundEnded = FlushDeliveries; // set before the first connection: read under the endpoint's lock
                endpoints.Add(endpoint);
                listeners.Add(settings.Service is { } sc ? endpoint.Listen(settings.Port, sc) : endpoint.Listen(settings.Port));
            }

            string where = string.Join(", ", addresses.Select(a => a.ToString()));
            string to = settings.Deliver is { } d ? $"delivering to udp {d}" : settings.Echo ? "echoing" : "counting";
            string udp = settings.Kind == DccpTransportKind.Udp ? $" (UDP port {settings.UdpPort})" : string.Empty;
            Line($"listening on DCCP port {settings.Port}{udp} over {ToolTransports.Describe(settings.Kind)} on {where}, service {(settings.Service is { } s ? s.ToString(CultureInfo.InvariantCulture) : "any")}, {to} (warmed up in {ToolTransports.Ms(warmUp)})");

            Task[] accepting = [.. listeners.Select(l => AcceptLoop(l, settings, cancellationToken))];
            Task stats = settings.StatsMs > 0 ? StatsLoop(settings.StatsMs, cancellationToken) : Task.CompletedTask;
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }

            foreach (DccpListener listener in listeners)
            {
                listener.Dispose();
            }

            await Task.WhenAll(accepting.Append(stats));
            Session[] open;
            lock (_sessions)
            {
                open = [.. _sessions];
            }

            // Close what is still open gracefully, briefly: the peer sees Close/CloseReq rather than silence.
            using var closing = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await Task.WhenAll(open.Select(s => s.CloseAsync(closing.Token)));
            await Task.WhenAll(open.Select(s => s.Finished));
            Line(_totals.Describe(endpoints));
            return 0;
        }
        finally
        {
            foreach (DccpEndpoint endpoint in endpoints)
            {
                endpoint.Dispose();
            }
        }
    }

    private async Task AcceptLoop(DccpListener listener, Settings settings, CancellationToken cancellationToken)
    {
        while (true)
        {
            DccpConnection connection;
            try
            {
                connection = await listener.AcceptAsync(cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }

            var session = new Session(this, Interlocked.Increment(ref _nextId), connection, settings);
            lock (_sessions)
            {
                _sessions.Add(session);
            }

            session.Start(cancellationToken);
        }
    }

    private async Task StatsLoop(int intervalMs, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(intervalMs));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                Session[] open;
                lock (_sessions)
                {
                    open = [.. _sessions];
                }

                foreach (Session s in open)
                {
                    Line($"stats #{s.Id} {s.Connection.RemoteEndPoint}: in {s.In} out {s.Out}; {ToolTransports.Describe(s.Connection.Stats)}");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// End of an endpoint round (its thread, under its lock): the datagrams the round handed to sessions leave for
    /// the server in one sendmmsg per session instead of one send each.
    /// </summary>
    private void FlushDeliveries()
    {
        lock (_sessions)
        {
            foreach (Session session in _sessions)
            {
                session.FlushDeliveries();
            }
        }
    }

    private void Line(string text)
    {
        lock (_outputGate)
        {
            _output.WriteLine(text);
            _output.Flush();
        }
    }

    private sealed record Settings(ushort Port, uint? Service, NetEndpoint? Deliver, bool Echo, DccpTransportKind Kind, ushort UdpPort,
        NetAddress? Address, int Mtu, int Mark, int StatsMs);

    private sealed class Totals
    {
        public long Connections;
        public long In;
        public long InBytes;
        public long Out;
        public long ReplyDrops;
        public long DeliverErrors;

        public string Describe(List<DccpEndpoint> endpoints)
        {
            long dropped = 0;
            foreach (DccpEndpoint endpoint in endpoints)
            {
                dropped += endpoint.Drops.Total;
            }

            string drops = string.Join(", ", endpoints.Select(e => e.Drops.ToString()).Where(t => t.Length > 0));
            return string.Create(CultureInfo.InvariantCulture,
                $"totals: connections {Connections}, datagrams in {In} ({InBytes} bytes), replies out {Out}, reply drops {ReplyDrops}, deliver errors {DeliverErrors}, packets dropped {dropped}{(drops.Length > 0 ? " (" + drops + ")" : string.Empty)}");
        }
    }

    /// <summary>One accepted connection and, with --deliver, its own UDP socket toward the server.</summary>
    private sealed class Session(ListenTool tool, int id, DccpConnection connection, Settings settings)
    {
        private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Socket? _socket;
        private readonly Lock _deliverGate = new(); // the endpoint's thread and the closing session (uncontended otherwise)
        private PacketBatch? _deliveries; // datagrams for the server, sent at the end of the endpoint's round
        private NetEndpoint _deliverTo;
        private long _in;
        private long _out;
        private long _replyDrops;
        private long _deliverErrors;

        public int Id => id;

        public DccpConnection Connection => connection;

        public long In => Interlocked.Read(ref _in);

        public long Out => Interlocked.Read(ref _out);

        public Task Finished => _finished.Task;

        public void Start(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref tool._totals.Connections);
            string via = string.Empty;
            if (settings.Deliver is { } deliver)
            {
                _socket = new Socket(deliver.Address.Family, SocketType.Dgram, ProtocolType.Udp);
                SocketHelpers.SetMark(_socket, settings.Mark);

                // The server's replies queue here while RepliesLoop's thread waits for a CPU: the default 208 KiB
                // holds 166 of 232 bytes, 83 ms at 2000/s, and a datagram the kernel drops for lack of room is lost
                // silently (seen: 100-300 replies a run on a loaded 2-core machine). As large as the transports'.
                _socket.ReceiveBufferSize = 4 << 20;
                _socket.Connect(deliver.ToIPEndPoint());
                _deliverTo = deliver;
                _deliveries = new PacketBatch(64, Math.Max(connection.MaxDatagramSize, 1));
                via = $", delivering from udp {((IPEndPoint)_socket.LocalEndPoint!).Port} to {deliver}";
                new Thread(() => RepliesLoop(cancellationToken)) { IsBackground = true, Name = $"dccp-replies-{id}" }.Start();
            }

            tool.Line($"accepted #{id} {connection.RemoteEndPoint} -> port {connection.LocalPort}, service {connection.ServiceCode}, max datagram {connection.MaxDatagramSize}{via}");
            _ = Task.Run(() => DatagramsLoop(cancellationToken), CancellationToken.None);
        }

        public async Task CloseAsync(CancellationToken cancellationToken)
        {
            try
            {
                await connection.CloseAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                connection.Abort();
            }
        }

        private async Task DatagramsLoop(CancellationToken cancellationToken)
        {
            byte[] buffer = new byte[16];
            try
            {
                // Datagrams go to OnDatagram on the endpoint's thread as they arrive; ReceiveAsync only reports the end.
                connection.StartDelivery(OnDatagram);
                while (await connection.ReceiveAsync(buffer, CancellationToken.None) >= 0)
                {
                }
            }
            finally
            {
                DccpConnectionStats stats = connection.Stats;
                tool.Line(string.Create(CultureInfo.InvariantCulture,
                    $"closed #{id} {connection.RemoteEndPoint}: {connection.CloseReason ?? "?"}; in {In}, replies out {Out}, reply drops {_replyDrops}, deliver errors {DeliverErrors}; {ToolTransports.Describe(stats)}"));
                lock (tool._sessions)
                {
                    tool._sessions.Remove(this);
                }

                lock (_deliverGate)
                {
                    // The endpoint's thread takes the same lock to use the batch: it is never used after this.
                    FlushDeliveries();
                    _socket?.Dispose();
                    _deliveries?.Dispose();
                    _deliveries = null;
                }

                await connection.DisposeAsync();
                _finished.TrySetResult();
                _ = cancellationToken;
            }
        }

        private long DeliverErrors => Interlocked.Read(ref _deliverErrors);

        /// <summary>Sends the datagrams queued for the server (the endpoint's thread at the end of its round, or closing).</summary>
        public void FlushDeliveries()
        {
            lock (_deliverGate)
            {
                SendDeliveries();
            }
        }

        private void SendDeliveries()
        {
            if (_deliveries is not { Count: > 0 } batch || _socket is not { } socket)
            {
                return;
            }

            long failedBefore = batch.Failed;
            try
            {
                batch.Send((int)socket.Handle); // a refused datagram (e.g. ICMP port unreachable: no server yet) is counted
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            long failed = batch.Failed - failedBefore;
            if (failed > 0)
            {
                Interlocked.Add(ref _deliverErrors, failed);
                Interlocked.Add(ref tool._totals.DeliverErrors, failed);
            }
        }

        private void OnDatagram(ReadOnlySpan<byte> datagram)
        {
            Interlocked.Increment(ref _in);
            Interlocked.Increment(ref tool._totals.In);
            Interlocked.Add(ref tool._totals.InBytes, datagram.Length);
            if (settings.Deliver is not null)
            {
                lock (_deliverGate)
                {
                    if (_deliveries is { } batch)
                    {
                        if (batch.IsFull)
                        {
                            SendDeliveries();
                        }

                        batch.Add(datagram, _deliverTo.Address, _deliverTo.Port);
                    }
                }
            }
            else if (settings.Echo)
            {
                Reply(datagram);
            }
        }

        /// <summary>
        /// The server's replies, read on a thread of their own with blocking receives: an asynchronous receive would
        /// register the socket with .NET's epoll thread, which then wakes at every send that frees buffer space
        /// (edge-triggered EPOLLOUT) - measured at 0.5 us of CPU per delivered datagram, on the server's CPU.
        /// </summary>
        private void RepliesLoop(CancellationToken cancellationToken)
        {
            byte[] buffer = new byte[65536];
            Socket socket = _socket!;
            socket.ReceiveTimeout = 250; // to notice the end of the session and cancellation
            while (!cancellationToken.IsCancellationRequested && !_finished.Task.IsCompleted)
            {
                try
                {
                    int n = socket.Receive(buffer, SocketFlags.None);
                    Reply(buffer.AsSpan(0, n));
                }
                catch (SocketException)
                {
                    // A timeout, or ECONNREFUSED from an earlier send (the server was not up): not an end.
                    if (connection.State is DccpState.Closed or DccpState.TimeWait)
                    {
                        return;
                    }
                }
                catch (Exception e) when (e is ObjectDisposedException or DccpException)
                {
                    return; // the socket or the connection ended
                }
            }
        }

        private void Reply(ReadOnlySpan<byte> datagram)
        {
            bool queued;
            try
            {
                queued = connection.TrySend(datagram);
            }
            catch (ArgumentException)
            {
                queued = false; // larger than the connection's maximum datagram
            }
            catch (DccpException)
            {
                return;
            }

            if (queued)
            {
                Interlocked.Increment(ref _out);
                Interlocked.Increment(ref tool._totals.Out);
            }
            else
            {
                Interlocked.Increment(ref _replyDrops); // the window stayed closed while the send queue filled
                Interlocked.Increment(ref tool._totals.ReplyDrops);
            }
        }
    }
}
