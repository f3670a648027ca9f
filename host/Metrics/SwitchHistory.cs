namespace VirtualStack.Host.Metrics;

/// <summary>
/// A flow's switches: every one counted with its delay (minimum, maximum, last), the last <see cref="Keep"/> kept in
/// full for <c>vs flows --json</c>. Written on the pipeline thread once per switch, read by management.
/// </summary>
internal sealed class SwitchHistory
{
    public const int Keep = 16;

    private readonly Lock _gate = new();
    private readonly SwitchRecord[] _recent = new SwitchRecord[Keep];
    private long _count;
    private double _min = double.MaxValue;
    private double _max;

    public void Add(in SwitchRecord record)
    {
        lock (_gate)
        {
            _recent[(int)(_count % Keep)] = record;
            _count++;
            _min = Math.Min(_min, record.DelayUs);
            _max = Math.Max(_max, record.DelayUs);
        }
    }

    /// <summary>All switches counted, min/median and p99 (recent)/max of their delays, and the recent ones oldest first.</summary>
    public (SampleSummary Delays, SwitchRecord[] Recent) Snapshot()
    {
        lock (_gate)
        {
            int n = (int)Math.Min(_count, Keep);
            var recent = new SwitchRecord[n];
            for (int i = 0; i < n; i++)
            {
                recent[i] = _recent[(int)((_count - n + i) % Keep)];
            }

            if (n == 0)
            {
                return (default, recent);
            }

            double[] delays = recent.Select(r => r.DelayUs).Order().ToArray();
            double median = n % 2 == 1 ? delays[n / 2] : (delays[(n / 2) - 1] + delays[n / 2]) / 2;
            double p99 = delays[Math.Max(0, (int)Math.Ceiling(0.99 * n) - 1)];
            return (new SampleSummary(_count, _min, median, _max, recent[^1].DelayUs) { P99 = p99 }, recent);
        }
    }
}

/// <summary>
/// One switch of a flow: from and to (indexes into its rule's stacks), the delay from the decision first wanting the
/// target to the first packet the target accepted, whether the target was already built (cached) when first wanted,
/// and when it happened (Unix milliseconds).
/// </summary>
internal readonly record struct SwitchRecord(int From, int To, double DelayUs, bool Cached, long AtUnixMs);
