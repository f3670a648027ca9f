namespace VirtualStack.Contracts.Measurements;

/// <summary>
/// What is known about a path or a flow at one moment. Every value is optional: a stack or a controller reports
/// what it knows and leaves the rest null (a UDP socket knows no RTT; a DCCP connection knows RTT and window).
/// </summary>
/// <param name="LossRatio">Fraction of packets lost, from 0 to 1.</param>
/// <param name="RttMs">Round-trip time in milliseconds.</param>
/// <param name="CongestionWindow">Congestion window in packets.</param>
/// <param name="ThroughputBitsPerSecond">Throughput in bits per second.</param>
public readonly record struct MeasurementValues(
    double? LossRatio = null,
    double? RttMs = null,
    double? CongestionWindow = null,
    double? ThroughputBitsPerSecond = null)
{
    /// <summary>True when no value is set.</summary>
    public bool IsEmpty => LossRatio is null && RttMs is null && CongestionWindow is null && ThroughputBitsPerSecond is null;
}
