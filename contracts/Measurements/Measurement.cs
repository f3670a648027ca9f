using VirtualStack.Contracts.Flows;

namespace VirtualStack.Contracts.Measurements;

/// <summary>
/// One measurement handed to a rule's policy: about one of the rule's stacks as a whole (the path it takes), or
/// about one flow on that stack when <see cref="HasFlow"/> is true.
/// </summary>
public readonly struct Measurement
{
    /// <summary>Creates a measurement about a whole stack.</summary>
    public Measurement(int stack, string stackName, MeasurementSource source, MeasurementValues values, long timestamp)
    {
        Stack = stack;
        StackName = stackName;
        Source = source;
        Values = values;
        Timestamp = timestamp;
    }

    /// <summary>Creates a measurement about one flow on a stack.</summary>
    public Measurement(int stack, string stackName, MeasurementSource source, MeasurementValues values, long timestamp, FlowKey flow, long flowId)
        : this(stack, stackName, source, values, timestamp)
    {
        HasFlow = true;
        Flow = flow;
        FlowId = flowId;
    }

    /// <summary>Index of the stack in the rule's stack list (the same numbering <see cref="Policies.IDecisionPolicy.Choose"/> returns).</summary>
    public int Stack { get; }

    /// <summary>The configured name of that stack.</summary>
    public string StackName { get; }

    /// <summary>Who reported it.</summary>
    public MeasurementSource Source { get; }

    /// <summary>The values; unknown ones are null.</summary>
    public MeasurementValues Values { get; }

    /// <summary>When it was taken, in milliseconds of <see cref="Environment.TickCount64"/> (the clock of <see cref="Policies.FlowContext.Now"/>).</summary>
    public long Timestamp { get; }

    /// <summary>True when the measurement is about one flow (<see cref="Flow"/>), false when about the whole stack.</summary>
    public bool HasFlow { get; }

    /// <summary>The flow, when <see cref="HasFlow"/>.</summary>
    public FlowKey Flow { get; }

    /// <summary>The host's number for the flow (as <c>vs flows</c> shows it), when <see cref="HasFlow"/>; else 0.</summary>
    public long FlowId { get; }
}
