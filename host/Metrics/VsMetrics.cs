namespace VirtualStack.Host.Metrics;

/// <summary>The daemon's metrics: a <see cref="System.Diagnostics.Metrics.Meter"/> named "VirtualStack".</summary>
internal sealed class VsMetrics
{
    public const string MeterName = "VirtualStack";

    public const string MeterVersion = "1.0";
}
