using System.Globalization;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;

namespace VirtualStack.Plugins.Policies;

/// <summary>
/// <c>TimedSwitch</c>: alternates the rule's stacks every <c>Period</c>, counted from each flow's first packet (the
/// reference experiment of the VirtualStack paper: UDP and DCCP, switching every 5 s).
/// </summary>
internal sealed class TimedSwitchPolicyFactory : IPolicyFactory
{
    public string Name => "TimedSwitch";

    public string Description => "alternates the rule's stacks every PolicyOptions.Period (e.g. 00:00:05), counted from the flow's first packet";

    public string? Validate(PolicyOptions options) => Options.Check(options, "Period", o => o.GetTimeSpan("Period", null));

    public IDecisionPolicy Create(PolicyOptions options, IPolicyHost host) =>
        new TimedSwitchPolicy(options.GetTimeSpan("Period", null), options.Stacks.Count);
}

internal sealed class TimedSwitchPolicy : IDecisionPolicy
{
    private readonly long _periodMs;
    private readonly int _stacks;

    public TimedSwitchPolicy(TimeSpan period, int stacks)
    {
        // A period under a millisecond cannot be told apart on the pipeline's millisecond clock.
        _periodMs = Math.Max(1, (long)period.TotalMilliseconds);
        _stacks = Math.Max(1, stacks);
    }

    public string? Status => string.Create(CultureInfo.InvariantCulture, $"every {_periodMs} ms over {_stacks} stacks");

    public int Choose(in PacketInfo packet, in FlowContext flow) =>
        (int)((Math.Max(0, flow.Now - flow.CreatedAt) / _periodMs) % _stacks);

    public void Observe(in Measurement measurement)
    {
    }
}
