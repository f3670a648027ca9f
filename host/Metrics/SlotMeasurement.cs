using VirtualStack.Contracts.Measurements;

namespace VirtualStack.Host.Metrics;

/// <summary>What a stack reported about one flow at the sampler's last visit, and when (Environment.TickCount64).</summary>
internal sealed record SlotMeasurement(MeasurementValues Values, long At);
