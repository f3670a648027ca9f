namespace VirtualStack.Host.Demo;

/// <summary>
/// One server's arrivals (<c>udp-count --arrivals</c>), in arrival order: generator sequence numbers, the send times
/// the generator wrote into the datagrams and the arrival times (Unix ns).
/// </summary>
internal sealed record ServerArrivals(string Stack, long[] Sequence, long[] SentUnixNs, long[] UnixNs);

/// <summary>A switch as VS recorded it (<c>vs flows --json</c>, recent_switches): when the first packet went on the new stack.</summary>
internal sealed record SwitchEvent(long AtUnixMs, string From, string To, bool Cached, double DelayUs);

/// <summary>
/// What the servers saw around one switch, within <see cref="SwitchAnalysis.WindowMs"/> either side of it: the longest
/// time without a packet at either server (<see cref="GapMs"/>), the longest time the generator sent nothing in the
/// same window (<see cref="SendGapMs"/>: a gap of the sender's own, e.g. descheduled on a busy machine, shows in both),
/// the longest one-way delay, the generator's packets that reached neither server, and the emptiest 10 ms bucket
/// (both servers together) as a fraction of the steady mean. <see cref="FirstBuildMs"/>: the target's build time when
/// this switch had to build it (null for a switch to a cached stack). <see cref="Complete"/> is false for a switch
/// whose window reaches past the stream's start or end (e.g. one at the very end of the run): its figures are partial
/// and it counts for no target.
/// </summary>
internal sealed record SwitchMeasure(SwitchEvent Event, double AtSeconds, double GapMs, double SendGapMs, double MaxLatencyMs, long Lost,
    double MinBucketRatio, double? FirstBuildMs, bool Complete);

/// <summary>The same measures away from every switch (the steady part of the run): what the path does by itself.</summary>
internal sealed record SteadyMeasure(double MeanBucket, double MaxGapMs, double MaxSendGapMs, double MaxLatencyMs, long Lost, double MinBucketRatio);

/// <summary>Gbit/s at the IP level over 100 ms windows: mean and peak.</summary>
internal sealed record Throughput(string Stack, long Received, double? MeanGbps, double? PeakGbps);

/// <summary>
/// The demo's measurements from both servers' arrival logs and VS's switch records. All times are Unix time on the one
/// machine's clock (generator, VS and servers share it). The run's first and last 500 ms (start-up, the last packets)
/// are not "steady"; each switch owns the window of <see cref="WindowMs"/> either side of it.
/// </summary>
internal sealed class SwitchAnalysis
{
    public const int BucketMs = 10;
    private const int ThroughputWindowMs = 100;
    private const long EdgeMs = 500;

    private readonly IReadOnlyList<ServerArrivals> _servers;
    private readonly int _size;
    private readonly long[] _merged; // every arrival at any server, sorted (Unix ns)
    private readonly long[] _mergedSent; // the send time of each of them
    private readonly long[] _sent; // send times in sequence order (what the generator did)
    private readonly long _endMs;

    public SwitchAnalysis(IReadOnlyList<ServerArrivals> servers, long sent, int size, double periodSeconds)
    {
        _servers = servers;
        _size = size;
        Sent = sent;
        WindowMs = (long)Math.Min(500, periodSeconds * 1000 / 2);
        int total = servers.Sum(s => s.UnixNs.Length);
        _merged = new long[total];
        _mergedSent = new long[total];
        int at = 0;
        foreach (ServerArrivals s in servers)
        {
            s.UnixNs.CopyTo(_merged, at);
            s.SentUnixNs.CopyTo(_mergedSent, at);
            at += s.UnixNs.Length;
        }

        Array.Sort(_merged, _mergedSent);
        _sent = (long[])_mergedSent.Clone();
        Array.Sort(_sent);
        OriginMs = total > 0 ? _merged[0] / 1_000_000 / BucketMs * BucketMs : 0;
        _endMs = total > 0 ? _merged[^1] / 1_000_000 : 0;
        Buckets = servers.ToDictionary(s => s.Stack, s => Bucketize(s.UnixNs));
        Merged = Bucketize(_merged);
    }

    public long Sent { get; }

    /// <summary>Half the window each switch is measured in: 500 ms, or half the period when that is shorter.</summary>
    public long WindowMs { get; }

    /// <summary>Start of the first 10 ms bucket in which any server counted a packet: time 0 of the figure and of at_s.</summary>
    public long OriginMs { get; }

    /// <summary>Packets per 10 ms bucket (Unix ms of the bucket start) at each stack's server.</summary>
    public IReadOnlyDictionary<string, Dictionary<long, long>> Buckets { get; }

    /// <summary>Packets per 10 ms bucket at both servers together.</summary>
    public Dictionary<long, long> Merged { get; }

    public long Received => _merged.Length;

    public SwitchMeasure[] Measure(IReadOnlyList<SwitchEvent> switches, IReadOnlyDictionary<string, double> buildMs, out SteadyMeasure steady)
    {
        long[] lostAt = LostArrivalEstimates();
        bool InWindow(long ms) => switches.Any(s => Math.Abs(ms - s.AtUnixMs) <= WindowMs);
        bool Steady(long ms) => ms >= OriginMs + EdgeMs && ms <= _endMs - EdgeMs;

        // Steady: buckets wholly in the steady part and outside every switch window.
        var steadyBuckets = new List<long>();
        for (long b = OriginMs; b + BucketMs <= _endMs; b += BucketMs)
        {
            if (Steady(b) && Steady(b + BucketMs) && !InWindow(b) && !InWindow(b + BucketMs))
            {
                steadyBuckets.Add(Merged.GetValueOrDefault(b));
            }
        }

        double mean = steadyBuckets.Count > 0 ? steadyBuckets.Average() : 0;
        double steadyGap = 0;
        for (int i = 1; i < _merged.Length; i++)
        {
            long ms = _merged[i] / 1_000_000;
            if (Steady(_merged[i - 1] / 1_000_000) && Steady(ms) && !InWindow(_merged[i - 1] / 1_000_000) && !InWindow(ms))
            {
                steadyGap = Math.Max(steadyGap, (_merged[i] - _merged[i - 1]) / 1e6);
            }
        }

        double steadySendGap = 0;
        for (int i = 1; i < _sent.Length; i++)
        {
            if (Steady(_sent[i - 1] / 1_000_000) && Steady(_sent[i] / 1_000_000) && !InWindow(_sent[i - 1] / 1_000_000) && !InWindow(_sent[i] / 1_000_000))
            {
                steadySendGap = Math.Max(steadySendGap, (_sent[i] - _sent[i - 1]) / 1e6);
            }
        }

        double steadyLatency = 0;
        for (int i = 0; i < _merged.Length; i++)
        {
            long ms = _merged[i] / 1_000_000;
            if (Steady(ms) && !InWindow(ms))
            {
                steadyLatency = Math.Max(steadyLatency, (_merged[i] - _mergedSent[i]) / 1e6);
            }
        }

        long steadyLost = lostAt.LongCount(ms => Steady(ms) && !InWindow(ms));
        steady = new SteadyMeasure(Math.Round(mean, 2), Math.Round(steadyGap, 3), Math.Round(steadySendGap, 3), Math.Round(steadyLatency, 3), steadyLost,
            mean > 0 && steadyBuckets.Count > 0 ? Math.Round(steadyBuckets.Min() / mean, 3) : 0);

        var measures = new SwitchMeasure[switches.Count];
        var built = new HashSet<string>();
        for (int i = 0; i < switches.Count; i++)
        {
            SwitchEvent s = switches[i];
            long from = s.AtUnixMs - WindowMs;
            long to = s.AtUnixMs + WindowMs;
            double minBucket = double.MaxValue;
            for (long b = (from + BucketMs - 1) / BucketMs * BucketMs; b + BucketMs <= to; b += BucketMs)
            {
                minBucket = Math.Min(minBucket, Merged.GetValueOrDefault(b));
            }

            double? firstBuild = !s.Cached && built.Add(s.To) && buildMs.TryGetValue(s.To, out double ms) ? ms : null;
            measures[i] = new SwitchMeasure(s, Math.Round((s.AtUnixMs - OriginMs) / 1000.0, 3),
                Math.Round(LongestGap(_merged, from, to), 3), Math.Round(LongestGap(_sent, from, to), 3), Math.Round(MaxLatency(from, to), 3),
                lostAt.LongCount(t => t >= from && t <= to),
                mean > 0 && minBucket != double.MaxValue ? Math.Round(minBucket / mean, 3) : 0, firstBuild,
                from >= OriginMs && to <= _endMs);
        }

        return measures;
    }

    /// <summary>Per stack: packets received and Gbit/s over the 100 ms windows in which only that stack's server got packets.</summary>
    public Throughput[] PerStack()
    {
        var result = new Throughput[_servers.Count];
        for (int i = 0; i < _servers.Count; i++)
        {
            var gbps = new List<double>();
            foreach ((long start, long[] counts) in Windows())
            {
                bool alone = counts[i] > 0 && counts.Where((_, j) => j != i).All(c => c == 0);
                if (alone)
                {
                    gbps.Add(Gbps(counts[i], ThroughputWindowMs));
                }
            }

            result[i] = new Throughput(_servers[i].Stack, _servers[i].UnixNs.Length,
                gbps.Count > 0 ? Math.Round(gbps.Average(), 3) : null, gbps.Count > 0 ? Math.Round(gbps.Max(), 3) : null);
        }

        return result;
    }

    /// <summary>Both servers together, over the steady 100 ms windows: mean and peak Gbit/s.</summary>
    public (double Mean, double Peak) Overall()
    {
        var gbps = new List<double>();
        foreach ((long _, long[] counts) in Windows())
        {
            gbps.Add(Gbps(counts.Sum(), ThroughputWindowMs));
        }

        return gbps.Count > 0 ? (Math.Round(gbps.Average(), 3), Math.Round(gbps.Max(), 3)) : (0, 0);
    }

    private IEnumerable<(long Start, long[] Counts)> Windows()
    {
        for (long w = OriginMs + EdgeMs; w + ThroughputWindowMs <= _endMs - EdgeMs; w += ThroughputWindowMs)
        {
            var counts = new long[_servers.Count];
            for (int i = 0; i < _servers.Count; i++)
            {
                for (long b = w; b < w + ThroughputWindowMs; b += BucketMs)
                {
                    counts[i] += Buckets[_servers[i].Stack].GetValueOrDefault(b);
                }
            }

            yield return (w, counts);
        }
    }

    private double Gbps(long packets, int ms) => packets * (double)_size * 8 / (ms / 1000.0) / 1e9;

    /// <summary>The longest time between two consecutive times of <paramref name="sorted"/> within [from, to] (Unix ms), in ms.</summary>
    private static double LongestGap(long[] sorted, long fromMs, long toMs)
    {
        int lo = LowerBound(sorted, fromMs * 1_000_000);
        int hi = LowerBound(sorted, (toMs + 1) * 1_000_000);
        double longest = 0;
        for (int i = lo + 1; i < hi; i++)
        {
            longest = Math.Max(longest, (sorted[i] - sorted[i - 1]) / 1e6);
        }

        return longest;
    }

    /// <summary>The longest one-way delay (arrival - send) of the packets arriving within [from, to] (Unix ms), in ms.</summary>
    private double MaxLatency(long fromMs, long toMs)
    {
        int lo = LowerBound(_merged, fromMs * 1_000_000);
        int hi = LowerBound(_merged, (toMs + 1) * 1_000_000);
        double longest = 0;
        for (int i = lo; i < hi; i++)
        {
            longest = Math.Max(longest, (_merged[i] - _mergedSent[i]) / 1e6);
        }

        return longest;
    }

    private static int LowerBound(long[] sorted, long ns)
    {
        int i = Array.BinarySearch(sorted, ns);
        return i >= 0 ? i : ~i;
    }

    /// <summary>
    /// For every sequence number the generator sent that reached no server: when it would have arrived, estimated as the
    /// arrival of the closest earlier sequence number that did arrive (Unix ms). A lost packet belongs to a switch when
    /// this falls in the switch's window.
    /// </summary>
    private long[] LostArrivalEstimates()
    {
        if (Sent <= 0 || _merged.Length == 0)
        {
            return [];
        }

        var arrival = new long[Sent];
        foreach (ServerArrivals s in _servers)
        {
            for (int i = 0; i < s.Sequence.Length; i++)
            {
                long seq = s.Sequence[i];
                if (seq >= 0 && seq < Sent && arrival[seq] == 0)
                {
                    arrival[seq] = s.UnixNs[i];
                }
            }
        }

        var lost = new List<long>();
        long last = _merged[0];
        for (long seq = 0; seq < Sent; seq++)
        {
            if (arrival[seq] != 0)
            {
                last = arrival[seq];
            }
            else
            {
                lost.Add(last / 1_000_000);
            }
        }

        return [.. lost];
    }

    private static Dictionary<long, long> Bucketize(long[] unixNs)
    {
        var buckets = new Dictionary<long, long>();
        foreach (long ns in unixNs)
        {
            long bucket = ns / 1_000_000 / BucketMs * BucketMs;
            buckets[bucket] = buckets.GetValueOrDefault(bucket) + 1;
        }

        return buckets;
    }
}
