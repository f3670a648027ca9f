using System.Globalization;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Policies;

namespace VirtualStack.Plugins.Policies;

/// <summary>
/// <c>MeasurementDriven</c>'s options: for each signal a threshold that makes a stack bad and a recovery threshold
/// (on the good side of it) that it must come back past, plus the minimum time a stack stays bad.
/// </summary>
internal sealed record Thresholds(
    double? MaxLoss, double? RecoverLoss,
    double? MaxRttMs, double? RecoverRttMs,
    double? MinCwnd, double? RecoverCwnd,
    double? MinThroughputBps, double? RecoverThroughputBps,
    TimeSpan HoldTime)
{
    public static readonly string[] Keys =
    [
        "MaxLoss", "RecoverLoss", "MaxRttMs", "RecoverRttMs", "MinCwnd", "RecoverCwnd",
        "MinThroughputMbps", "RecoverThroughputMbps", "HoldTime",
    ];

    public static Thresholds Parse(PolicyOptions o)
    {
        double? maxLoss = Optional(o, "MaxLoss", 0, 1);
        double? maxRtt = Optional(o, "MaxRttMs", 0, 3_600_000);
        double? minCwnd = Optional(o, "MinCwnd", 0, 1e9);
        double? minThroughput = Optional(o, "MinThroughputMbps", 0, 1e6) * 1e6;
        if (maxLoss is null && maxRtt is null && minCwnd is null && minThroughput is null)
        {
            throw new FormatException("MaxLoss: no threshold set (give at least one of MaxLoss, MaxRttMs, MinCwnd, MinThroughputMbps)");
        }

        // Recovery defaults sit well inside the good side, so that noise around a threshold is not a recovery.
        double? recoverLoss = Recovery(o, "RecoverLoss", maxLoss, maxLoss / 2, below: true, 0, 1);
        double? recoverRtt = Recovery(o, "RecoverRttMs", maxRtt, maxRtt * 0.8, below: true, 0, 3_600_000);
        double? recoverCwnd = Recovery(o, "RecoverCwnd", minCwnd, minCwnd * 1.25, below: false, 0, 1e9);
        double? recoverThroughput = Recovery(o, "RecoverThroughputMbps", minThroughput / 1e6, minThroughput / 1e6 * 1.25, below: false, 0, 1e6) * 1e6;
        TimeSpan hold = o.GetTimeSpan("HoldTime", TimeSpan.FromSeconds(2));
        return new Thresholds(maxLoss, recoverLoss, maxRtt, recoverRtt, minCwnd, recoverCwnd, minThroughput, recoverThroughput, hold);
    }

    /// <summary>The first threshold the values cross, as text ("loss 0.12 > 0.05"), or null when none.</summary>
    public string? Crossed(in MeasurementValues v, bool throughputCounts)
    {
        if (v.LossRatio is { } loss && MaxLoss is { } maxLoss && loss > maxLoss)
        {
            return Text($"loss {loss:0.###} > {maxLoss:0.###}");
        }

        if (v.RttMs is { } rtt && MaxRttMs is { } maxRtt && rtt > maxRtt)
        {
            return Text($"rtt {rtt:0.#} ms > {maxRtt:0.#} ms");
        }

        if (v.CongestionWindow is { } cwnd && MinCwnd is { } minCwnd && cwnd < minCwnd)
        {
            return Text($"cwnd {cwnd:0.#} < {minCwnd:0.#}");
        }

        if (throughputCounts && v.ThroughputBitsPerSecond is { } bps && MinThroughputBps is { } minBps && bps < minBps)
        {
            return Text($"throughput {bps / 1e6:0.###} Mbit/s < {minBps / 1e6:0.###} Mbit/s");
        }

        return null;
    }

    /// <summary>True when every known value is back past its recovery threshold.</summary>
    public bool Recovered(in MeasurementValues v, bool throughputCounts) =>
        (v.LossRatio is not { } loss || RecoverLoss is not { } rl || loss <= rl) &&
        (v.RttMs is not { } rtt || RecoverRttMs is not { } rr || rtt <= rr) &&
        (v.CongestionWindow is not { } cwnd || RecoverCwnd is not { } rc || cwnd >= rc) &&
        (!throughputCounts || v.ThroughputBitsPerSecond is not { } bps || RecoverThroughputBps is not { } rt || bps >= rt);

    private static double? Optional(PolicyOptions o, string key, double min, double max) =>
        o.Get(key) is null ? null : o.GetDouble(key, 0, min, max);

    private static double? Recovery(PolicyOptions o, string key, double? threshold, double? fallback, bool below, double min, double max)
    {
        if (o.Get(key) is null)
        {
            return fallback;
        }

        if (threshold is null)
        {
            throw new FormatException($"{key}: a recovery threshold without its threshold ({key.Replace("Recover", below ? "Max" : "Min", StringComparison.Ordinal)})");
        }

        double value = o.GetDouble(key, 0, min, max);
        if (below ? value > threshold : value < threshold)
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                $"{key}: {value} is on the bad side of its threshold {threshold}; recovery must be {(below ? "at most" : "at least")} the threshold"));
        }

        return value;
    }

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
