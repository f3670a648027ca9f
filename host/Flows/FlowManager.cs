using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Configuration;
using VirtualStack.Host.Pipeline;
using VirtualStack.Host.Rules;

namespace VirtualStack.Host.Flows;

/// <summary>
/// Gives each flow its entry and stack engine: finds the rule on the first packet, builds the engine, keeps the
/// table within its limits. Runs on the shard thread.
/// </summary>
internal sealed class FlowManager
{
    private readonly RuleSet _rules;
    private readonly FlowTimeouts _timeouts;
    private readonly IReplyWriter _replies;
    private readonly PipelineCounters _counters;
    private readonly int _holdPackets;
    private long _nextId;

    public FlowManager(RuleSet rules, FlowTimeouts timeouts, int maxFlows, IReplyWriter replies, PipelineCounters? counters = null,
        int holdPackets = FlowSettings.DefaultHoldPackets)
    {
        _rules = rules;
        _timeouts = timeouts;
        _replies = replies;
        _counters = counters ?? new PipelineCounters();
        _holdPackets = holdPackets;
        Table = new FlowTable(maxFlows);
        Table.FlowEnded += static (entry, _) => entry.Engine.Dispose();
        ShortestTimeoutMs = (long)Shortest(rules, timeouts).TotalMilliseconds;

        // Packets that cannot be parsed far enough for a flow of their own (fragments, malformed transport headers)
        // all travel on one engine of the default rule, when the default stack carries whole packets.
        if (rules.Default.Stacks[0].Carries == StackCarries.Packet)
        {
            Passthrough = new StackEngine(default, rules.Default, replies, _counters, _holdPackets);
        }
    }

    public FlowTable Table { get; }

    public RuleSet Rules => _rules;

    /// <summary>Engine for unparseable packets, or null when the default stack cannot carry them.</summary>
    public StackEngine? Passthrough { get; }

    public long ShortestTimeoutMs { get; }

    public FlowEntry GetOrCreate(in FlowKey key, long now)
    {
        if (Table.TryGet(key, out FlowEntry entry))
        {
            Table.Touch(entry, now);
            return entry;
        }

        Rule rule = _rules.Find(key);
        TimeSpan idle = rule.IdleTimeout ?? _timeouts.For(key.Protocol);
        entry = new FlowEntry(++_nextId, key, rule, now, (long)idle.TotalMilliseconds, new StackEngine(key, rule, _replies, _counters, _holdPackets));
        rule.FlowsCreated++;
        Table.Add(entry);
        return entry;
    }

    public int Sweep(long now) => Table.Sweep(now, ShortestTimeoutMs);

    private static TimeSpan Shortest(RuleSet rules, FlowTimeouts timeouts)
    {
        TimeSpan shortest = timeouts.Shortest;
        foreach (Rule rule in rules.Rules)
        {
            if (rule.IdleTimeout is { } idle && idle < shortest)
            {
                shortest = idle;
            }
        }

        return shortest;
    }
}
