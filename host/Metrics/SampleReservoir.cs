namespace VirtualStack.Host.Metrics;

/// <summary>
/// Durations of one kind (build times, switch delays): count, minimum and maximum of all, and the last
/// <see cref="Capacity"/> values for the median. Written rarely (once per build or switch), read by management.
/// </summary>
internal sealed class SampleReservoir(int capacity)
{
    private readonly Lock _gate = new();
    private readonly double[] _recent = new double[capacity];
    private long _count;
    private double _min = double.MaxValue;
    private double _max;
    private double _last;

    public int Capacity => _recent.Length;

    public long Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    public void Add(double value)
    {
        lock (_gate)
        {
            _recent[(int)(_count % _recent.Length)] = value;
            _count++;
            _min = Math.Min(_min, value);
            _max = Math.Max(_max, value);
            _last = value;
        }
    }

    public SampleSummary Summarize()
    {
        double[] recent;
        SampleSummary summary;
        lock (_gate)
        {
            if (_count == 0)
            {
                return default;
            }

            recent = _recent.AsSpan(0, (int)Math.Min(_count, _recent.Length)).ToArray();
            summary = new SampleSummary(_count, _min, 0, _max, _last);
        }

        Array.Sort(recent);
        int n = recent.Length;
        double median = n % 2 == 1 ? recent[n / 2] : (recent[(n / 2) - 1] + recent[n / 2]) / 2;
        // Nearest rank: the smallest value at or above which lie 99 % of the recent values.
        double p99 = recent[Math.Max(0, (int)Math.Ceiling(0.99 * n) - 1)];
        return summary with { Median = median, P99 = p99 };
    }
}

/// <summary>Count, minimum, median and 99th percentile (of the recent values), maximum and last value; all 0 when empty.</summary>
internal readonly record struct SampleSummary(long Count, double Min, double Median, double Max, double Last)
{
    public double P99 { get; init; }
}
