using System.Numerics;

namespace VirtualStack.Host.Tools;

/// <summary>
/// A fixed-size log-linear histogram of nanosecond values (HDR-style): values below 64 ns have a bucket each, above
/// that every power of two is split into 64 equal buckets, so a reported percentile is within 1/128 (0.8 %) of a
/// value actually seen. 3,712 counters cover 0 ns to 2^63 ns; recording is an index computation and an increment,
/// with no allocation, so the counting server can record every datagram.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 6;
    private const int SubBuckets = 1 << SubBucketBits;
    private const int BucketCount = SubBuckets + ((63 - SubBucketBits) * SubBuckets);

    private readonly long[] _counts = new long[BucketCount];
    private double _sum;

    public long Count { get; private set; }

    /// <summary>Samples with a send time after the receive time (clock steps): counted, not recorded.</summary>
    public long Negative { get; private set; }

    public long Min { get; private set; } = long.MaxValue;

    public long Max { get; private set; }

    public double Mean => Count > 0 ? _sum / Count : 0;

    public void Record(long nanoseconds)
    {
        if (nanoseconds < 0)
        {
            Negative++;
            return;
        }

        _counts[Index(nanoseconds)]++;
        Count++;
        _sum += nanoseconds;
        if (nanoseconds < Min)
        {
            Min = nanoseconds;
        }

        if (nanoseconds > Max)
        {
            Max = nanoseconds;
        }
    }

    /// <summary>The value at quantile <paramref name="q"/> (0..1): the midpoint of the bucket holding the sample of rank ceil(q * Count), clamped to what was seen.</summary>
    public long Percentile(double q)
    {
        if (Count == 0)
        {
            return 0;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(q * Count));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                (long low, long width) = Bounds(i);
                return Math.Clamp(low + (width / 2), Min, Max);
            }
        }

        return Max;
    }

    public static int Index(long value)
    {
        if (value < SubBuckets)
        {
            return (int)value;
        }

        int exponent = 63 - BitOperations.LeadingZeroCount((ulong)value); // >= SubBucketBits
        int shift = exponent - SubBucketBits;
        int mantissa = (int)(value >> shift); // SubBuckets .. 2 * SubBuckets - 1
        return SubBuckets + (shift * SubBuckets) + (mantissa - SubBuckets);
    }

    /// <summary>Lowest value and width of bucket <paramref name="index"/>.</summary>
    public static (long Low, long Width) Bounds(int index)
    {
        if (index < SubBuckets)
        {
            return (index, 1);
        }

        int shift = (index - SubBuckets) / SubBuckets;
        long mantissa = SubBuckets + ((index - SubBuckets) % SubBuckets);
        return (mantissa << shift, 1L << shift);
    }
}
