namespace VirtualStack.Contracts.Measurements;

/// <summary>Who reported a measurement.</summary>
public enum MeasurementSource
{
    /// <summary>A stack, about its own flows (sampled by the host about once a second).</summary>
    Stack,
    /// <summary>The core network's controller, over the remote management interface.</summary>
    Controller,
    /// <summary>An operator, over the local management socket (<c>vs measure</c>).</summary>
    Operator,
}
