using System.Globalization;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;

namespace VirtualStack.Plugins.Policies;

/// <summary>
/// Keeps a health state per stack (the rule's path on it) and, for flows a measurement names, per flow; a packet goes
/// to the first healthy stack in rule order. <see cref="Choose"/> reads one volatile int (and, once some flow has a
/// state of its own, a copy-on-write map): all the work happens in <see cref="Observe"/>, off the packet path.
/// </summary>
internal sealed class MeasurementDrivenPolicy : IDecisionPolicy
{
    private readonly Thresholds _thresholds;
    private readonly IReadOnlyList<string> _stacks;
    private readonly IPolicyHost _host;
    private readonly long _holdMs;
    private readonly Lock _gate = new();
    private readonly Health _rule;
    private readonly Dictionary<FlowKey, Health> _flows = [];

    private volatile int _choice;
    // Replaced as a whole when a flow's choice changes, so the packet path reads it without a lock.
    private volatile Dictionary<FlowKey, int>? _flowChoices;

    public MeasurementDrivenPolicy(Thresholds thresholds, IReadOnlyList<string> stacks, IPolicyHost host)
    {
        _thresholds = thresholds;
        _stacks = stacks;
        _host = host;
        _holdMs = (long)thresholds.HoldTime.TotalMilliseconds;
        _rule = new Health(stacks.Count);
    }

    public string? Status
    {
        get
        {
            lock (_gate)
            {
                string bad = string.Join(", ", Enumerable.Range(0, _stacks.Count)
                    .Where(i => _rule.Bad[i])
                    .Select(i => $"{_stacks[i]} bad ({_rule.Reason[i]})"));
                int flows = _flowChoices?.Count ?? 0;
                return string.Create(CultureInfo.InvariantCulture,
                    $"on {_stacks[_choice]}{(bad.Length > 0 ? "; " + bad : "; all good")}{(flows > 0 ? $"; {flows} flow(s) with their own choice" : "")}");
            }
        }
    }

    public int Choose(in PacketInfo packet, in FlowContext flow)
    {
        Dictionary<FlowKey, int>? perFlow = _flowChoices;
        if (perFlow is not null && perFlow.TryGetValue(packet.Flow, out int own))
        {
            return own;
        }

        return _choice;
    }

    public void Observe(in Measurement measurement)
    {
        if ((uint)measurement.Stack >= (uint)_stacks.Count || measurement.Values.IsEmpty)
        {
            return;
        }

        // The host's own samples of a stack measure what the rule sends there, not what the path could carry:
        // throughput only counts as a quality signal when a controller or an operator reports it.
        bool throughputCounts = measurement.Source != MeasurementSource.Stack;
        lock (_gate)
        {
            Health health = _rule;
            if (measurement.HasFlow && !_flows.TryGetValue(measurement.Flow, out health!))
            {
                Prune(measurement.Timestamp);
                _flows[measurement.Flow] = health = new Health(_stacks.Count);
            }

            bool changed = health.Update(measurement, _thresholds, throughputCounts, _holdMs, out string? change);
            if (!changed)
            {
                return;
            }

            // Recompute everything: a flow's choice depends on the rule's health as well as its own.
            int before = _choice;
            _choice = _rule.FirstHealthy(null, before);
            Dictionary<FlowKey, int>? perFlow = null;
            if (_flows.Count > 0)
            {
                perFlow = new Dictionary<FlowKey, int>(_flows.Count);
                foreach ((FlowKey key, Health flowHealth) in _flows)
                {
                    perFlow[key] = _rule.FirstHealthy(flowHealth, _choice);
                }
            }

            _flowChoices = perFlow;
            if (changed)
            {
                string who = measurement.HasFlow ? string.Create(CultureInfo.InvariantCulture, $"flow {measurement.FlowId}: ") : "";
                int now = measurement.HasFlow && perFlow is not null ? perFlow[measurement.Flow] : _choice;
                Log($"{who}{change}; {(measurement.HasFlow ? "it goes" : "flows go")} to {_stacks[now]}");
            }
        }
    }

    /// <summary>Forgets flows no measurement has named for a minute, once there are many (flows end; keys do not).</summary>
    private void Prune(long now)
    {
        const int Many = 4096;
        const long ForgetAfterMs = 60_000;
        if (_flows.Count < Many)
        {
            return;
        }

        foreach ((FlowKey key, Health health) in _flows.ToArray())
        {
            if (now - health.LastUpdate > ForgetAfterMs)
            {
                _flows.Remove(key);
            }
        }
    }

    private void Log(string message) => _host.Log(message);

    /// <summary>Health of each stack, for the rule or for one flow.</summary>
    private sealed class Health(int stacks)
    {
        public bool[] Bad { get; } = new bool[stacks];

        public string?[] Reason { get; } = new string?[stacks];

        private readonly long[] _changedAt = new long[stacks];
        private readonly MeasurementValues[] _last = new MeasurementValues[stacks];

        public long LastUpdate { get; private set; }

        /// <summary>Merges the new values with what was known, applies the thresholds; true when the stack's state changed.</summary>
        public bool Update(in Measurement m, Thresholds thresholds, bool throughputCounts, long holdMs, out string? change)
        {
            int s = m.Stack;
            LastUpdate = m.Timestamp;
            MeasurementValues known = _last[s];
            MeasurementValues v = m.Values;
            MeasurementValues merged = new(
                v.LossRatio ?? known.LossRatio, v.RttMs ?? known.RttMs, v.CongestionWindow ?? known.CongestionWindow,
                throughputCounts ? v.ThroughputBitsPerSecond ?? known.ThroughputBitsPerSecond : known.ThroughputBitsPerSecond);
            _last[s] = merged;
            change = null;
            if (!Bad[s])
            {
                if (thresholds.Crossed(merged, throughputCounts) is { } reason)
                {
                    Bad[s] = true;
                    Reason[s] = reason;
                    _changedAt[s] = m.Timestamp;
                    change = $"{m.StackName} bad: {reason}";
                    return true;
                }

                return false;
            }

            if (thresholds.Recovered(merged, throughputCounts) && m.Timestamp - _changedAt[s] >= holdMs)
            {
                Bad[s] = false;
                Reason[s] = null;
                _changedAt[s] = m.Timestamp;
                change = $"{m.StackName} good again";
                return true;
            }

            // Still bad: keep the newest reason for vs status.
            Reason[s] = thresholds.Crossed(merged, throughputCounts) ?? Reason[s];
            return false;
        }

        /// <summary>
        /// The first stack in rule order that is healthy here and, for a flow, in <paramref name="flow"/>'s own
        /// state too; when every stack is bad, <paramref name="current"/> (moving would not help).
        /// </summary>
        public int FirstHealthy(Health? flow, int current)
        {
            for (int i = 0; i < Bad.Length; i++)
            {
                if (!Bad[i] && (flow is null || !flow.Bad[i]))
                {
                    return i;
                }
            }

            return current;
        }
    }
}
