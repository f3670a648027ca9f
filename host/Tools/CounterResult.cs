using System.Buffers.Binary;
using System.Diagnostics;

namespace VirtualStack.Host.Tools;

/// <summary>What a counting server saw.</summary>
internal sealed class CounterResult(int bucketMs, int warmupMs)
{
    private readonly Dictionary<long, long> _buckets = [];
    private long _expected;
    private long _firstTicks = -1;
    private long _lastTicks = -1;
    private long _firstNs = -1;

    public int BucketMs { get; } = bucketMs;

    public long Packets { get; private set; }

    public long Bytes { get; private set; }

    /// <summary>Datagrams whose sequence number was lower than one already seen.</summary>
    public long Reordered { get; private set; }

    /// <summary>Highest sequence number seen plus one: with one generator, <c>MaxSequence - Packets</c> were lost.</summary>
    public long MaxSequence => _expected;

    public long FirstMs => _firstNs < 0 ? -1 : _firstNs / 1_000_000;

    public long LastMs { get; private set; } = -1;

    /// <summary>Seconds from the first to the last datagram (monotonic clock).</summary>
    public double ActiveSeconds => _firstTicks < 0 ? 0 : (double)(_lastTicks - _firstTicks) / Stopwatch.Frequency;

    /// <summary>One-way latency of the datagrams received after the warm-up, from the generator's send time.</summary>
    public LatencyHistogram Latency { get; } = new();

    /// <summary>When set, every datagram's sequence number and arrival time is written to it.</summary>
    public ArrivalLog? Arrivals { get; init; }

    /// <summary>Packets per bucket, keyed by bucket start in Unix milliseconds.</summary>
    public IReadOnlyDictionary<long, long> Buckets => _buckets;

    /// <summary>Counts one datagram received at <paramref name="nowNs"/> (Unix ns) and <paramref name="nowTicks"/> (Stopwatch).</summary>
    public void Add(ReadOnlySpan<byte> datagram, long nowNs, long nowTicks)
    {
        Packets++;
        Bytes += datagram.Length;
        if (_firstNs < 0)
        {
            _firstNs = nowNs;
            _firstTicks = nowTicks;
        }

        _lastTicks = nowTicks;
        long nowMs = nowNs / 1_000_000;
        LastMs = nowMs;
        long bucket = nowMs / BucketMs * BucketMs;
        // A new key only once per bucket (every 10 ms by default), not per datagram.
        _buckets[bucket] = _buckets.TryGetValue(bucket, out long count) ? count + 1 : 1;
        if (datagram.Length < UdpGenerator.HeaderLength)
        {
            return;
        }

        long sequence = BinaryPrimitives.ReadInt64BigEndian(datagram);
        Arrivals?.Record(sequence, BinaryPrimitives.ReadInt64BigEndian(datagram[8..]), nowNs);
        if (sequence < _expected)
        {
            Reordered++;
        }
        else
        {
            _expected = sequence + 1;
        }

        if (nowNs - _firstNs >= warmupMs * 1_000_000L)
        {
            Latency.Record(nowNs - BinaryPrimitives.ReadInt64BigEndian(datagram[8..]));
        }
    }
}
