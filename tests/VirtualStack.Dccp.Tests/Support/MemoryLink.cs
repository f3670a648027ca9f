using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Core;

namespace VirtualStack.Dccp.Tests.Support;

/// <summary>
/// Two sans-IO endpoints joined by a simulated link with a virtual clock: fixed one-way delay, optional jitter
/// (reordering) and a loss filter. Fully deterministic for a given seed, and fast (no real time passes).
/// </summary>
internal sealed class MemoryLink
{
    public static readonly NetAddress AddressA = NetAddress.Parse("10.200.0.1");
    public static readonly NetAddress AddressB = NetAddress.Parse("10.200.0.2");

    private readonly PriorityQueue<(byte[] Packet, NetAddress From, NetAddress To), (long At, long Order)> _inFlight = new();
    private readonly Random _random;
    private long _order;

    public MemoryLink(DccpProtocolOptions? options = null, int seed = 1, int mtu = 1500)
    {
        _random = new Random(seed);
        options ??= FastOptions;
        var issRandom = new Random(seed + 1000);
        A = new DccpDemux(new Output(this, AddressA), AddressA, mtu - 20, options, () => (ulong)issRandom.NextInt64(1L << 48), new Random(seed + 1));
        B = new DccpDemux(new Output(this, AddressB), AddressB, mtu - 20, options, () => (ulong)issRandom.NextInt64(1L << 48), new Random(seed + 2));
    }

    /// <summary>Timers short enough that tests of timeouts stay fast in virtual time too.</summary>
    public static DccpProtocolOptions FastOptions { get; } = new()
    {
        TimeWait = TimeSpan.FromSeconds(2),
        ConnectTimeout = TimeSpan.FromSeconds(20),
    };

    public DccpDemux A { get; }

    public DccpDemux B { get; }

    /// <summary>Virtual time, microseconds.</summary>
    public long Now { get; private set; } = 1_000_000;

    public long OneWayDelayUs { get; set; } = 10_000;

    public long JitterUs { get; set; }

    /// <summary>Return true to drop a packet (inspect it with DccpPacket.TryParse).</summary>
    public Func<byte[], NetAddress, bool>? Loss { get; set; }

    public List<(byte[] Packet, NetAddress From)> Sent { get; } = [];

    public bool Record { get; set; }

    public long Delivered { get; private set; }

    public long Dropped { get; private set; }

    public Random Random => _random;

    /// <summary>Injects a packet as if it arrived now from the other side.</summary>
    public void Inject(DccpDemux to, byte[] packet)
    {
        NetAddress destination = ReferenceEquals(to, A) ? AddressA : AddressB;
        NetAddress source = ReferenceEquals(to, A) ? AddressB : AddressA;
        to.OnDatagram(packet, source, destination, Now);
    }

    /// <summary>Runs packets and timers until <paramref name="until"/> says stop or the time limit passes.</summary>
    public bool RunUntil(Func<bool> until, TimeSpan limit)
    {
        long end = Now + (long)limit.TotalMicroseconds;
        while (!until())
        {
            long next = Math.Min(A.NextDeadline, B.NextDeadline);
            if (_inFlight.TryPeek(out _, out var at))
            {
                next = Math.Min(next, at.At);
            }

            if (next > end)
            {
                Now = end;
                return until();
            }

            Now = Math.Max(Now, next);
            while (_inFlight.TryPeek(out var item, out var when) && when.At <= Now)
            {
                _inFlight.Dequeue();
                DccpDemux target = item.To == AddressA ? A : B;
                Delivered++;
                target.OnDatagram(item.Packet, item.From, item.To, Now);
            }

            A.OnTimer(Now);
            B.OnTimer(Now);
        }

        return true;
    }

    /// <summary>Advances virtual time by <paramref name="span"/>, processing everything due.</summary>
    public void Run(TimeSpan span) => RunUntil(() => false, span);

    private void Transmit(ReadOnlySpan<byte> packet, NetAddress from, NetAddress to)
    {
        byte[] copy = packet.ToArray();
        if (Record)
        {
            Sent.Add((copy, from));
        }

        if (Loss?.Invoke(copy, from) == true)
        {
            Dropped++;
            return;
        }

        long delay = OneWayDelayUs + (JitterUs > 0 ? _random.NextInt64(JitterUs) : 0);
        _inFlight.Enqueue((copy, from, to), (Now + delay, _order++));
    }

    private sealed class Output(MemoryLink link, NetAddress self) : IDccpPacketOutput
    {
        public void Send(ReadOnlySpan<byte> packet, NetAddress destination) => link.Transmit(packet, self, destination);
    }
}

/// <summary>Collects connections a listener completes.</summary>
internal sealed class AcceptQueue : IDccpAcceptSink
{
    public List<DccpConnectionCore> Accepted { get; } = [];

    public int Limit { get; set; } = int.MaxValue;

    public bool CanAccept => Accepted.Count < Limit;

    public void OnOpen(DccpConnectionCore connection) => Accepted.Add(connection);
}
