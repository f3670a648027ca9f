using VirtualStack.Contracts.Measurements;

namespace VirtualStack.Contracts.Stacks;

/// <summary>
/// Optional: an <see cref="IStackFlow"/> that knows the state of its path (a DCCP connection knows its RTT,
/// congestion window and loss) implements this too. The host samples it about once a second, on the pipeline
/// thread (never concurrently with <see cref="IStackFlow.Send"/>), hands the values to the rule's policy as a
/// <see cref="MeasurementSource.Stack"/> measurement and publishes them as metrics.
/// </summary>
public interface IMeasuredFlow
{
    /// <summary>Returns true and the current values, or false when the flow has nothing to report yet.</summary>
    bool TryMeasure(out MeasurementValues values);
}
