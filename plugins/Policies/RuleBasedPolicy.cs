using System.Globalization;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;

namespace VirtualStack.Plugins.Policies;

/// <summary>Evaluates <c>RuleBased</c>'s conditions per packet, in order; the time windows are re-read once a second.</summary>
internal sealed class RuleBasedPolicy : ISenderAwarePolicy
{
    private const long TimeRefreshMs = 1000;

    private readonly PacketCondition[] _conditions;
    private readonly int _default;
    private readonly IReadOnlyList<string> _stacks;
    private readonly TimeProvider _time;
    private readonly bool _hasTimeWindows;

    // One bit per condition: set when its time window (if any) contains the local time. Written by whichever
    // pipeline thread refreshes it, read by all: a stale value for a moment only delays a time-of-day change.
    private ulong _activeWindows = ulong.MaxValue;
    private long _nextRefresh = long.MinValue;

    public RuleBasedPolicy(RuleBasedOptions options, IReadOnlyList<string> stacks, TimeProvider time)
    {
        _conditions = options.Conditions;
        _default = options.DefaultStack;
        _stacks = stacks;
        _time = time;
        _hasTimeWindows = Array.Exists(_conditions, c => c.Time is not null);
        SenderDetails = (Array.Exists(_conditions, c => c.Uid is not null) ? SenderDetails.Uid : SenderDetails.None) |
            (Array.Exists(_conditions, c => c.Cgroup is not null) ? SenderDetails.Uid | SenderDetails.Cgroup : SenderDetails.None);
    }

    /// <summary>Uid when a condition names one, cgroups too when one names a cgroup; nothing otherwise (no lookup cost).</summary>
    public SenderDetails SenderDetails { get; }

    public string? Status => string.Create(CultureInfo.InvariantCulture,
        $"{_conditions.Length} condition(s), default {(_default >= 0 ? _stacks[_default] : "keep")}");

    public int Choose(in PacketInfo packet, in FlowContext flow)
    {
        ulong active = ulong.MaxValue;
        if (_hasTimeWindows)
        {
            if (flow.Now >= Volatile.Read(ref _nextRefresh))
            {
                RefreshWindows(flow.Now);
            }

            active = Volatile.Read(ref _activeWindows);
        }

        PacketCondition[] conditions = _conditions;
        for (int i = 0; i < conditions.Length; i++)
        {
            if ((active & (1UL << i)) != 0 && conditions[i].Matches(packet, flow.Sender))
            {
                return conditions[i].Stack;
            }
        }

        return _default;
    }

    public void Observe(in Measurement measurement)
    {
    }

    /// <summary>Evaluates every time window against the local time now (once a second, not per packet).</summary>
    internal void RefreshWindows(long now)
    {
        TimeOnly local = TimeOnly.FromTimeSpan(_time.GetLocalNow().TimeOfDay);
        ulong active = 0;
        for (int i = 0; i < _conditions.Length; i++)
        {
            if (_conditions[i].Time is not { } window || window.Contains(local))
            {
                active |= 1UL << i;
            }
        }

        Volatile.Write(ref _activeWindows, active);
        Volatile.Write(ref _nextRefresh, now + TimeRefreshMs);
    }
}
