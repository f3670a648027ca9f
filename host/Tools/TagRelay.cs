using System.Globalization;
using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Net;
using VirtualStack.Host.Multipath;

namespace VirtualStack.Host.Tools;

/// <summary>
/// <c>vs relay</c>: the far side of a multipath rule's Udp paths in front of an unchanged UDP server. It receives on
/// one socket per path address; with <see cref="Dedup"/> each datagram must carry a <see cref="SequenceTag"/>: the tag
/// is stripped, a copy already delivered (same flow id and sequence, from any path) or one older than the window is
/// dropped and counted, and the rest goes to <see cref="Deliver"/> from a socket of the flow's own. The server's
/// replies to that socket go back tagged (the flow id, the relay's own reply sequence) on every path the flow was
/// heard on lately, so each VS path keeps seeing answers (its health depends on them) and VS delivers each reply
/// once. Without <see cref="Dedup"/> it is a plain relay: each source is a flow, payloads and replies unchanged.
/// </summary>
/// <remarks>
/// One thread per relay address and one per flow (its replies), blocking receives: the relay is a far-side tool for a
/// few loss-critical flows, and blocking sockets keep .NET's epoll thread out (see ListenTool's replies loop). The
/// per-datagram path allocates nothing: the buffers and the received-address object are per thread.
/// </remarks>
internal sealed class TagRelay
{
    private const int MaxDatagram = 65536;
    private const int PollMs = 250;

    private readonly Lock _flowsGate = new();
    private readonly Dictionary<uint, RelayFlow> _byId = [];
    private readonly Dictionary<SocketAddress, RelayFlow> _bySource = [];
    private Socket[] _sockets = [];
    private CancellationToken _stop;

    public required IReadOnlyList<NetEndpoint> Listen { get; init; }

    public required NetEndpoint Deliver { get; init; }

    public bool Dedup { get; init; }

    public int Window { get; init; } = DuplicateWindow.DefaultSize;

    /// <summary>A flow that brings nothing for this long is forgotten (its socket toward the server closed).</summary>
    public TimeSpan Idle { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Replies go on the paths heard from within this long of the flow's newest datagram.</summary>
    public TimeSpan ReplyPathAge { get; init; } = TimeSpan.FromSeconds(1);

    public Action<string> Log { get; init; } = _ => { };

    public RelayTotals Totals { get; } = new();

    /// <summary>The addresses bound, in <see cref="Listen"/>'s order (a port 0 there is the one the kernel picked), once ready.</summary>
    public IReadOnlyList<IPEndPoint> Bound { get; private set; } = [];

    /// <summary>Binds the relay addresses, calls <paramref name="ready"/>, relays until <paramref name="cancel"/>.</summary>
    public void Run(CancellationToken cancel, Action? ready = null)
    {
        _stop = cancel;
        var sockets = new List<Socket>(Listen.Count);
        var threads = new List<Thread>();
        try
        {
            foreach (NetEndpoint endpoint in Listen)
            {
                var socket = new Socket(endpoint.Address.Family, SocketType.Dgram, ProtocolType.Udp);
                sockets.Add(socket);
                SocketBuffers.Enlarge(socket, receive: true);
                socket.Bind(endpoint.ToIPEndPoint());
                socket.ReceiveTimeout = PollMs;
            }

            _sockets = [.. sockets];
            Bound = [.. sockets.Select(s => (IPEndPoint)s.LocalEndPoint!)];
            ready?.Invoke();
            for (int i = 0; i < _sockets.Length; i++)
            {
                int index = i;
                var thread = new Thread(() => ReceiveLoop(index)) { IsBackground = true, Name = $"relay-in-{i}" };
                threads.Add(thread);
                thread.Start();
            }

            while (!cancel.WaitHandle.WaitOne(1000))
            {
                Expire(Environment.TickCount64 - (long)Idle.TotalMilliseconds);
            }

            foreach (Thread thread in threads)
            {
                thread.Join();
            }
        }
        finally
        {
            Expire(long.MaxValue);
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    private void ReceiveLoop(int index)
    {
        Socket socket = _sockets[index];
        byte[] buffer = GC.AllocateUninitializedArray<byte>(MaxDatagram);
        var from = new SocketAddress(socket.AddressFamily);
        while (!_stop.IsCancellationRequested)
        {
            int length;
            try
            {
                length = socket.ReceiveFrom(buffer, SocketFlags.None, from);
            }
            catch (SocketException)
            {
                continue; // the poll timeout (to notice the stop), or an error reported for an earlier send
            }

            Interlocked.Increment(ref Totals.In);
            long now = Environment.TickCount64;
            ReadOnlySpan<byte> datagram = buffer.AsSpan(0, length);
            RelayFlow flow;
            if (Dedup)
            {
                if (!SequenceTag.TryRead(datagram, out uint id, out ulong sequence))
                {
                    Interlocked.Increment(ref Totals.Untagged);
                    continue;
                }

                flow = FlowById(id);
                WindowVerdict verdict;
                bool newPath;
                lock (flow.Gate)
                {
                    newPath = flow.NotePath(index, from, now);
                    verdict = flow.Window!.Check(sequence);
                }

                if (newPath)
                {
                    PathLog(flow, index, from);
                }

                if (verdict != WindowVerdict.New)
                {
                    if (verdict == WindowVerdict.Duplicate)
                    {
                        Interlocked.Increment(ref Totals.Duplicates);
                    }
                    else
                    {
                        Interlocked.Increment(ref Totals.TooOld);
                    }
                    continue;
                }

                datagram = datagram[SequenceTag.Size..];
            }
            else
            {
                flow = FlowBySource(from);
                bool newPath;
                lock (flow.Gate)
                {
                    newPath = flow.NotePath(index, from, now);
                }

                if (newPath)
                {
                    PathLog(flow, index, from);
                }
            }

            Interlocked.Increment(ref flow.In);
            try
            {
                flow.Upstream.Send(datagram);
                Interlocked.Increment(ref flow.Delivered);
                Interlocked.Increment(ref Totals.Delivered);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                Interlocked.Increment(ref Totals.DeliverErrors); // no server yet (ICMP port unreachable), or the flow just expired
            }
        }
    }

    private RelayFlow FlowById(uint id)
    {
        lock (_flowsGate)
        {
            if (!_byId.TryGetValue(id, out RelayFlow? flow))
            {
                flow = Open(id, $"flow {id:x8}");
                _byId[id] = flow;
            }

            return flow;
        }
    }

    private RelayFlow FlowBySource(SocketAddress from)
    {
        lock (_flowsGate)
        {
            if (!_bySource.TryGetValue(from, out RelayFlow? flow))
            {
                var key = new SocketAddress(from.Family, from.Size);
                from.Buffer.Span[..from.Size].CopyTo(key.Buffer.Span);
                flow = Open(0, $"flow from {Describe(from)}");
                _bySource[key] = flow;
            }

            return flow;
        }
    }

    /// <summary>A new flow (under the flows lock): its socket toward the server and its replies thread.</summary>
    private RelayFlow Open(uint id, string name)
    {
        var upstream = new Socket(Deliver.Address.Family, SocketType.Dgram, ProtocolType.Udp);
        upstream.Connect(Deliver.ToIPEndPoint());
        upstream.ReceiveTimeout = PollMs;
        SocketBuffers.Enlarge(upstream, receive: true);
        var flow = new RelayFlow(id, name, upstream, Dedup ? new DuplicateWindow(Window) : null)
        {
            // Replies are numbered from the clock (microseconds), not from 1: after a restart of the relay, or a flow
            // forgotten while VS's lives on, VS's reply window has seen sequences up to the old count, and replies
            // numbered from 1 again would all look old there. At under a million replies a second this stays ahead.
            ReplySequence = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000,
        };
        Interlocked.Increment(ref Totals.Flows);
        Log($"{name}: new, delivering from udp {((IPEndPoint)upstream.LocalEndPoint!).Port} to {Deliver}");
        new Thread(() => RepliesLoop(flow)) { IsBackground = true, Name = "relay-replies" }.Start();
        return flow;
    }

    private void RepliesLoop(RelayFlow flow)
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(SequenceTag.Size + MaxDatagram);
        long freshMs = (long)ReplyPathAge.TotalMilliseconds;
        while (!_stop.IsCancellationRequested && !flow.IsDisposed)
        {
            int length;
            try
            {
                length = flow.Upstream.Receive(buffer.AsSpan(SequenceTag.Size), SocketFlags.None);
            }
            catch (SocketException)
            {
                continue; // the poll timeout, or ECONNREFUSED from a datagram sent before the server was up
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref Totals.Replies);
            int copies;
            lock (flow.Gate)
            {
                ReadOnlySpan<byte> reply;
                if (Dedup)
                {
                    // Every copy of this reply carries the same sequence: VS hands the application the first one.
                    flow.ReplySequence++;
                    SequenceTag.Write(buffer, flow.Id, flow.ReplySequence);
                    reply = buffer.AsSpan(0, SequenceTag.Size + length);
                }
                else
                {
                    reply = buffer.AsSpan(SequenceTag.Size, length);
                }

                copies = flow.SendBack(reply, _sockets, freshMs, ref Totals.ReplyErrors);
            }

            Interlocked.Add(ref Totals.ReplyCopies, copies);
        }
    }

    /// <summary>Forgets the flows last heard from before <paramref name="before"/> (every flow: long.MaxValue).</summary>
    private void Expire(long before)
    {
        var expired = new List<RelayFlow>();
        lock (_flowsGate)
        {
            foreach ((uint id, RelayFlow flow) in _byId)
            {
                if (Seen(flow) < before)
                {
                    expired.Add(flow);
                    _byId.Remove(id);
                }
            }

            foreach ((SocketAddress source, RelayFlow flow) in _bySource)
            {
                if (Seen(flow) < before)
                {
                    expired.Add(flow);
                    _bySource.Remove(source);
                }
            }
        }

        foreach (RelayFlow flow in expired)
        {
            flow.Dispose();
            DuplicateWindow? window = flow.Window;
            string dropped = window is null ? string.Empty : $", duplicates {window.Duplicates}, too old {window.TooOld}";
            Log(string.Create(CultureInfo.InvariantCulture,
                $"{flow.Name}: closed; paths {flow.PathCount}, in {Interlocked.Read(ref flow.In)}, delivered {Interlocked.Read(ref flow.Delivered)}{dropped}"));
        }

        static long Seen(RelayFlow flow)
        {
            lock (flow.Gate)
            {
                return flow.LastSeenMs;
            }
        }
    }

    private void PathLog(RelayFlow flow, int index, SocketAddress from) =>
        Log($"{flow.Name}: path from {Describe(from)} to {Bound[index]}");

    private static string Describe(SocketAddress address)
    {
        try
        {
            return new IPEndPoint(address.Family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0).Create(address).ToString() ?? "?";
        }
        catch (ArgumentException)
        {
            return "?";
        }
    }
}

/// <summary>What <see cref="TagRelay"/> did, over all flows.</summary>
internal sealed class RelayTotals
{
    public long Flows;
    public long In;
    public long Delivered;
    public long Duplicates;
    public long TooOld;
    public long Untagged;
    public long DeliverErrors;
    public long Replies;
    public long ReplyCopies;
    public long ReplyErrors;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"totals: flows {Flows}, datagrams in {In}, delivered {Delivered}, duplicates {Duplicates}, too old {TooOld}, untagged {Untagged}, deliver errors {DeliverErrors}, replies {Replies}, reply copies out {ReplyCopies}, reply errors {ReplyErrors}");
}
