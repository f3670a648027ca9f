using VirtualStack.Contracts.Policies;

namespace VirtualStack.Plugins.Policies;

/// <summary>
/// <c>MeasurementDriven</c>: the rule's stacks in order of preference; a stack whose measurements cross a threshold
/// (<c>MaxLoss</c>, <c>MaxRttMs</c>, <c>MinCwnd</c>, <c>MinThroughputMbps</c>) is bad and its flows move to the first
/// stack that is not; it is good again only once every measured value is back past its recovery threshold and it has
/// been bad for at least <c>HoldTime</c>: two thresholds and a minimum time, so a value hovering at a threshold cannot
/// make flows flap.
/// </summary>
internal sealed class MeasurementDrivenPolicyFactory : IPolicyFactory
{
    public string Name => "MeasurementDriven";

    public string Description =>
        "moves flows off a stack whose loss, RTT, congestion window or throughput crosses PolicyOptions thresholds; back only past the recovery thresholds and after HoldTime";

    public string? Validate(PolicyOptions options) =>
        Options.Check(options, Thresholds.Keys, o => Thresholds.Parse(o));

    public IDecisionPolicy Create(PolicyOptions options, IPolicyHost host) =>
        new MeasurementDrivenPolicy(Thresholds.Parse(options), options.Stacks, host);
}
