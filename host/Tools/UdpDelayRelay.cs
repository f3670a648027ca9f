using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Net;

namespace VirtualStack.Host.Tools;

/// <summary>
/// A delay element for kernels without sch_netem (these machines have neither netem nor fq, etf or taprio, so no
/// qdisc can hold a packet for a given time): a UDP relay that receives on <see cref="Listen"/>, holds each datagram
/// for <see cref="DelayMs"/> (± <see cref="JitterMs"/>, uniform) and forwards it to <see cref="Target"/> from a socket
/// of its own per client, and relays the target's replies back to that client with the same delay. Each datagram,
/// either way, is dropped with probability <see cref="LossPercent"/>. A path whose far end is the relay has a round
/// trip 2 x delay longer. Delay, jitter and loss can change while it runs (<see cref="Set"/>).
/// </summary>
/// <remarks>
/// Each direction is a FIFO whose due times never decrease (a jittered datagram never overtakes the one before it,
/// unlike netem), sent by its own thread, which sleeps until the head is due: a datagram is never early and late by
/// less than a millisecond (the sleep's granularity) plus the scheduler's wake-up, and waiting costs no CPU. A copy per datagram is fine for a test
/// and bench tool; it is not on VS's packet path.
/// </remarks>
internal sealed class UdpDelayRelay : IDisposable
{
    public const int MaxClients = 256;
    private const int MaxDatagram = 65536;

    private readonly ConcurrentDictionary<EndPoint, Socket> _upstream = new();
    private readonly DelayLine _forward;
    private readonly DelayLine _back;
    private readonly List<Thread> _threads = [];
    private readonly CancellationTokenSource _stop = new();
    private Socket? _front;
    private volatile float _delayMs;
    private volatile float _jitterMs;
    private volatile float _lossPercent;

    public UdpDelayRelay(NetEndpoint listen, NetEndpoint target)
    {
        Listen = listen;
        Target = target;
        _forward = new DelayLine(this);
        _back = new DelayLine(this);
    }

    public NetEndpoint Listen { get; }

    public NetEndpoint Target { get; }

    public double DelayMs => _delayMs;

    public double JitterMs => _jitterMs;

    public double LossPercent => _lossPercent;

    /// <summary>Datagrams relayed to the target / back to clients, dropped (loss or send failure).</summary>
    public long Forwarded => _forward.Sent;

    public long Returned => _back.Sent;

    public long Dropped => _forward.Dropped + _back.Dropped;

    /// <summary>Changes the settings; null leaves one as it is. Any thread; applies to datagrams received from now on.</summary>
    public void Set(double? delayMs = null, double? jitterMs = null, double? lossPercent = null)
    {
        _delayMs = (float)(delayMs ?? _delayMs);
        _jitterMs = (float)(jitterMs ?? _jitterMs);
        _lossPercent = (float)(lossPercent ?? _lossPercent);
    }

    /// <summary>Binds the listening socket and starts the threads.</summary>
    public void Start()
    {
        _front = new Socket(Listen.Address.Family, SocketType.Dgram, ProtocolType.Udp);
        SocketBuffers.Enlarge(_front, receive: true);
        _front.Bind(Listen.ToIPEndPoint());
        Spawn("udp-delay front", ReceiveFront);
        Spawn("udp-delay forward", _forward.Run);
        Spawn("udp-delay back", _back.Run);
    }

    /// <summary>
    /// Applies one control line: <c>delay MS</c>, <c>jitter MS</c> or <c>loss PERCENT</c>. Returns what is set now, or
    /// throws <see cref="FormatException"/> for anything else.
    /// </summary>
    public string Apply(string line)
    {
        string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length != 2 || !double.TryParse(words[1].TrimEnd('%').Replace("ms", "", StringComparison.Ordinal),
                NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value < 0 || !double.IsFinite(value))
        {
            throw new FormatException($"'{line}': expected 'delay MS', 'jitter MS' or 'loss PERCENT'");
        }

        switch (words[0])
        {
            case "delay":
                Set(delayMs: value);
                break;
            case "jitter":
                Set(jitterMs: value);
                break;
            case "loss" when value <= 100:
                Set(lossPercent: value);
                break;
            default:
                throw new FormatException($"'{line}': expected 'delay MS', 'jitter MS' or 'loss PERCENT' (0-100)");
        }

        return Describe();
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"delay {DelayMs:0.###} ms, jitter {JitterMs:0.###} ms, loss {LossPercent:0.###} % each way");

    public void Dispose()
    {
        _stop.Cancel();
        _forward.Wake();
        _back.Wake();
        _front?.Dispose();
        foreach (Socket socket in _upstream.Values)
        {
            socket.Dispose();
        }

        foreach (Thread thread in _threads)
        {
            thread.Join(TimeSpan.FromSeconds(2));
        }

        _stop.Dispose();
    }

    private void Spawn(string name, Action body)
    {
        var thread = new Thread(() => body()) { IsBackground = true, Name = name };
        _threads.Add(thread);
        thread.Start();
    }

    private void ReceiveFront()
    {
        var buffer = new byte[MaxDatagram];
        EndPoint any = new IPEndPoint(Listen.Address.IsV4 ? IPAddress.Any : IPAddress.IPv6Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            EndPoint from = any;
            int length;
            try
            {
                length = _front!.ReceiveFrom(buffer, ref from);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                continue; // an ICMP error from a client that went away, or the end
            }

            if (Upstream(from) is { } upstream)
            {
                _forward.Add(buffer.AsSpan(0, length), upstream, Target.ToIPEndPoint());
            }
        }
    }

    // The client's own socket toward the target, so the target's replies tell which client they are for.
    private Socket? Upstream(EndPoint client)
    {
        if (_upstream.TryGetValue(client, out Socket? socket))
        {
            return socket;
        }

        if (_upstream.Count >= MaxClients)
        {
            return null;
        }

        socket = new Socket(Target.Address.Family, SocketType.Dgram, ProtocolType.Udp);
        SocketBuffers.Enlarge(socket, receive: true); // the target's replies to a burst arrive as a burst, like the front's
        socket.Bind(new IPEndPoint(Target.Address.IsV4 ? IPAddress.Any : IPAddress.IPv6Any, 0));
        socket.Connect(Target.ToIPEndPoint());
        _upstream[client] = socket;
        Spawn($"udp-delay client {client}", () => ReceiveUpstream(socket, client));
        return socket;
    }

    private void ReceiveUpstream(Socket socket, EndPoint client)
    {
        var buffer = new byte[MaxDatagram];
        while (!_stop.IsCancellationRequested)
        {
            int length;
            try
            {
                length = socket.Receive(buffer);
            }
            catch (SocketException)
            {
                continue; // ICMP port unreachable from a target that is not listening (yet)
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            _back.Add(buffer.AsSpan(0, length), _front!, client);
        }
    }

    /// <summary>One direction: datagrams waiting for their due time, in order, and the thread that sends them.</summary>
    private sealed class DelayLine(UdpDelayRelay relay)
    {
        private readonly Queue<Held> _queue = new();
        private readonly Lock _gate = new();
        private readonly SemaphoreSlim _signal = new(0);
        private long _lastDue;

        public long Sent;
        public long Dropped;

        public void Add(ReadOnlySpan<byte> datagram, Socket via, EndPoint to)
        {
            if (relay._lossPercent > 0 && Random.Shared.NextDouble() * 100 < relay._lossPercent)
            {
                Interlocked.Increment(ref Dropped);
                return;
            }

            double jitter = relay._jitterMs;
            double delayMs = Math.Max(0, relay._delayMs + (jitter > 0 ? (Random.Shared.NextDouble() * 2 - 1) * jitter : 0));
            long due = Stopwatch.GetTimestamp() + (long)(delayMs * Stopwatch.Frequency / 1000);
            lock (_gate)
            {
                // Never before the datagram ahead of it: a FIFO, no reordering.
                due = Math.Max(due, _lastDue);
                _lastDue = due;
                _queue.Enqueue(new Held(datagram.ToArray(), via, to, due));
            }

            _signal.Release();
        }

        public void Wake() => _signal.Release();

        public void Run()
        {
            while (!relay._stop.IsCancellationRequested)
            {
                _signal.Wait();
                Held held;
                lock (_gate)
                {
                    if (!_queue.TryDequeue(out held))
                    {
                        continue;
                    }
                }

                // Whole milliseconds, rounded up (Thread.Sleep would round down and send early), until due: late by
                // less than a millisecond plus the scheduler's wake-up, never early.
                for (long wait = held.Due - Stopwatch.GetTimestamp(); wait > 0; wait = held.Due - Stopwatch.GetTimestamp())
                {
                    Thread.Sleep((int)Math.Ceiling(wait * 1000.0 / Stopwatch.Frequency));
                }

                // Counted before the send: whoever receives the datagram (a test that then reads the counter) must
                // find it counted; counted after, the receiver could get there first.
                Interlocked.Increment(ref Sent);
                try
                {
                    held.Via.SendTo(held.Data, held.To);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    Interlocked.Decrement(ref Sent);
                    Interlocked.Increment(ref Dropped);
                }
            }
        }
    }

    private readonly record struct Held(byte[] Data, Socket Via, EndPoint To, long Due);
}
