using System.Diagnostics.Metrics;

namespace VirtualStack.Host.Metrics;

/// <summary>
/// The two measurements recorded as they happen rather than observed: each switch's delay and each build's time.
/// One process-wide meter named "VirtualStack" (the daemon's observable instruments live on another meter of the
/// same name, see <see cref="VsMetrics"/>): listeners select meters by name, so both are seen together.
/// </summary>
internal static class SwitchMetrics
{
    public static readonly Meter Meter = new(VsMetrics.MeterName, VsMetrics.MeterVersion);

    private static readonly Histogram<double> SwitchDelay = Meter.CreateHistogram<double>(
        "virtualstack.switch.delay", "us", "Time from the decision wanting a stack to the first packet sent on it");

    private static readonly Histogram<double> BuildTime = Meter.CreateHistogram<double>(
        "virtualstack.stack.build_time", "ms", "Time to build a flow's stack (connection set-up)");

    /// <summary>Called on the pipeline thread once per switch (not per packet); tags as separate arguments do not allocate.</summary>
    public static void RecordSwitch(double delayUs, string stack, bool cached)
    {
        if (SwitchDelay.Enabled)
        {
            SwitchDelay.Record(delayUs, new KeyValuePair<string, object?>("stack", stack), new KeyValuePair<string, object?>("cached", cached ? "true" : "false"));
        }
    }

    public static void RecordBuild(double milliseconds, string stack)
    {
        if (BuildTime.Enabled)
        {
            BuildTime.Record(milliseconds, new KeyValuePair<string, object?>("stack", stack));
        }
    }
}
