namespace VirtualStack.Host.Tests.Metrics;

/// <summary>
/// Tests that listen to the process-wide switch meter (<c>SwitchMetrics.Meter</c>) run alone, after the parallel ones:
/// while a listener is enabled, every pipeline of every test records each switch into it on its own loop thread. That
/// put the listener's allocations into a parallel allocation test's measurement (SwitchAllocationTests: 0.2 B/packet,
/// both times while VsMetricsTests ran) and other tests' records into the listener's lists.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SwitchMeterCollection
{
    public const string Name = "switch meter listeners";
}
