using VirtualStack.Contracts.Packets;

namespace VirtualStack.Host.Decision;

/// <summary>
/// Alternates a rule's stacks every <see cref="Period"/>, counted from the flow's first packet: the reference
/// experiment of the VirtualStack paper (UDP and DCCP, switching every 5 s).
/// </summary>
internal sealed class TimedSwitchPolicy : IFlowPolicy
{
    private readonly long _periodMs;
    private readonly int _stacks;

    public TimedSwitchPolicy(TimeSpan period, int stacks)
    {
        Period = period;
        _periodMs = Math.Max(1, (long)period.TotalMilliseconds);
        _stacks = Math.Max(1, stacks);
    }

    public string Name => "TimedSwitch";

    public TimeSpan Period { get; }

    public int Choose(in PacketInfo info, long flowCreatedAt, long now) =>
        (int)(((now - flowCreatedAt) / _periodMs) % _stacks);
}
