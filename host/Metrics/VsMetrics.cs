using System.Diagnostics.Metrics;
using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Decision;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Pipeline;
using VirtualStack.Host.Remote;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Metrics;

/// <summary>
/// The daemon's counters as System.Diagnostics.Metrics instruments on a <see cref="Meter"/> named "VirtualStack", so
/// that dotnet-counters (<c>dotnet-counters monitor -n vs --counters VirtualStack</c>) and any OpenTelemetry exporter
/// see them. Every instrument is observable: nothing is recorded on the packet path, the values are read when a
/// listener collects. Per-flow series come from the control plane's last sample (once a second) and are limited to
/// the <see cref="MaxFlowSeries"/> most recently active flows, so that a table of 100,000 flows does not become
/// 100,000 series per collection.
/// </summary>
internal sealed class VsMetrics : IDisposable
{
    public const string MeterName = "VirtualStack";

    public const string MeterVersion = "1.0";

    public const int MaxFlowSeries = 1000;

    private static readonly DropReason[] Reasons = Enum.GetValues<DropReason>().Where(r => r != DropReason.None).ToArray();

    private readonly Meter _meter = new(MeterName, MeterVersion);
    private readonly PipelineCounters _counters;
    private readonly IReadOnlyList<StackRuntime> _stacks;
    private readonly Func<FlowEntry[]> _flows;
    private readonly IReadOnlyList<RulePolicy> _policies;
    private readonly Func<RefusalLog?> _refusals;
    private readonly Func<long> _activeFlows;

    public VsMetrics(PipelineCounters counters, IReadOnlyList<StackRuntime> stacks, Func<FlowEntry[]> flows, Func<long> activeFlows,
        IReadOnlyList<RulePolicy> policies, Func<RefusalLog?> refusals)
    {
        _counters = counters;
        _stacks = stacks;
        _flows = flows;
        _activeFlows = activeFlows;
        _policies = policies;
        _refusals = refusals;

        _meter.CreateObservableCounter("virtualstack.packets", Packets, "{packet}", "Packets read from the VNIC (direction=in) and carried by a stack (direction=sent)");
        _meter.CreateObservableCounter("virtualstack.bytes", Bytes, "By", "Bytes read from the VNIC and carried");
        _meter.CreateObservableCounter("virtualstack.drops", Drops, "{packet}", "Packets dropped, by reason");
        _meter.CreateObservableUpDownCounter("virtualstack.flows.active", () => _activeFlows(), "{flow}", "Flows in the flow table");

        _meter.CreateObservableCounter("virtualstack.stack.packets", StackPackets, "{packet}", "Packets per stack, sent and received");
        _meter.CreateObservableCounter("virtualstack.stack.bytes", StackBytes, "By", "Bytes per stack, sent and received");
        _meter.CreateObservableCounter("virtualstack.stack.drops", StackDrops, "{packet}", "Packets a stack could not send");
        _meter.CreateObservableCounter("virtualstack.stack.flows_opened", StackOpened, "{flow}", "Flow state built on the stack");
        _meter.CreateObservableCounter("virtualstack.stack.switches", StackSwitches, "{switch}", "Switches of a flow onto the stack");

        _meter.CreateObservableCounter("virtualstack.flow.packets", () => PerFlow(e => e.Packets), "{packet}", "Packets of a flow from the application");
        _meter.CreateObservableCounter("virtualstack.flow.bytes", () => PerFlow(e => e.Bytes), "By", "Bytes of a flow from the application");
        _meter.CreateObservableCounter("virtualstack.flow.replies", () => PerFlow(e => Interlocked.Read(ref e.Engine.RepliesDelivered)), "{packet}", "Replies written back to the application");
        _meter.CreateObservableCounter("virtualstack.flow.drops", FlowDrops, "{packet}", "Packets of a flow dropped, by reason");
        _meter.CreateObservableCounter("virtualstack.flow.switches", () => PerFlow(e => e.Engine.Switches), "{switch}", "Times the flow changed stacks");
        _meter.CreateObservableGauge("virtualstack.flow.stack", CurrentStack, "{index}", "Index of the stack carrying the flow in its rule (tag stack: its name)");
        _meter.CreateObservableGauge("virtualstack.flow.rtt", () => Measured(v => v.RttMs), "ms", "Round-trip time a stack measured for the flow (DCCP)");
        _meter.CreateObservableGauge("virtualstack.flow.cwnd", () => Measured(v => v.CongestionWindow), "{packet}", "Congestion window a stack reported for the flow (DCCP CCID 2)");
        _meter.CreateObservableGauge("virtualstack.flow.loss", () => Measured(v => v.LossRatio), "1", "Loss ratio a stack reported for the flow");

        _meter.CreateObservableCounter("virtualstack.policy.errors", PolicyErrors, "{error}", "Times a rule's policy threw or chose a stack the rule does not have");
        _meter.CreateObservableCounter("virtualstack.management.refusals", Refusals, "{message}", "Remote management messages refused, by reason");
    }

    public Meter Meter => _meter;

    private IEnumerable<Measurement<long>> Packets() =>
    [
        new(Volatile.Read(ref _counters.PacketsIn), Tag("direction", "in")),
        new(Volatile.Read(ref _counters.PacketsSent), Tag("direction", "sent")),
        new(Interlocked.Read(ref _counters.RepliesWritten), Tag("direction", "replied")),
    ];

    private IEnumerable<Measurement<long>> Bytes() =>
    [
        new(Volatile.Read(ref _counters.BytesIn), Tag("direction", "in")),
        new(Volatile.Read(ref _counters.BytesSent), Tag("direction", "sent")),
    ];

    private IEnumerable<Measurement<long>> Drops()
    {
        foreach (DropReason reason in Reasons)
        {
            yield return new(_counters.Drops(reason), Tag("reason", SnakeCase(reason.ToString())));
        }
    }

    private IEnumerable<Measurement<long>> StackPackets()
    {
        foreach (StackRuntime s in _stacks)
        {
            yield return new(Volatile.Read(ref s.PacketsSent), Tag("stack", s.Name), Tag("direction", "sent"));
            yield return new(Interlocked.Read(ref s.PacketsReceived), Tag("stack", s.Name), Tag("direction", "received"));
        }
    }

    private IEnumerable<Measurement<long>> StackBytes()
    {
        foreach (StackRuntime s in _stacks)
        {
            yield return new(Volatile.Read(ref s.BytesSent), Tag("stack", s.Name), Tag("direction", "sent"));
            yield return new(Interlocked.Read(ref s.BytesReceived), Tag("stack", s.Name), Tag("direction", "received"));
        }
    }

    private IEnumerable<Measurement<long>> StackDrops() => _stacks.Select(s => new Measurement<long>(Volatile.Read(ref s.Drops), Tag("stack", s.Name)));

    private IEnumerable<Measurement<long>> StackOpened() => _stacks.Select(s => new Measurement<long>(Interlocked.Read(ref s.FlowsOpened), Tag("stack", s.Name)));

    private IEnumerable<Measurement<long>> StackSwitches() => _stacks.Select(s => new Measurement<long>(StackTimings.For(s).Switches.Count, Tag("stack", s.Name)));

    private IEnumerable<FlowEntry> RecentFlows() => _flows().Take(MaxFlowSeries);

    private IEnumerable<Measurement<long>> PerFlow(Func<FlowEntry, long> value) =>
        RecentFlows().Select(e => new Measurement<long>(value(e), FlowTags(e)));

    private IEnumerable<Measurement<long>> FlowDrops()
    {
        foreach (FlowEntry e in RecentFlows())
        {
            if (e.DropsByReason is not { } drops)
            {
                continue;
            }

            for (int reason = 1; reason < drops.Length; reason++)
            {
                long count = Volatile.Read(ref drops[reason]);
                if (count > 0)
                {
                    yield return new(count, [.. FlowTags(e), Tag("reason", SnakeCase(((DropReason)reason).ToString()))]);
                }
            }
        }
    }

    private IEnumerable<Measurement<int>> CurrentStack()
    {
        foreach (FlowEntry e in RecentFlows())
        {
            int active = e.Engine.Active;
            if (active >= 0)
            {
                yield return new(active, [.. FlowTags(e), Tag("stack", e.Engine.Slots[active].Runtime.Name)]);
            }
        }
    }

    private IEnumerable<Measurement<double>> Measured(Func<Contracts.Measurements.MeasurementValues, double?> pick)
    {
        foreach (FlowEntry e in RecentFlows())
        {
            foreach (StackSlot slot in e.Engine.Slots)
            {
                if (slot.Measured is { } m && pick(m.Values) is { } value)
                {
                    yield return new(value, [.. FlowTags(e), Tag("stack", slot.Runtime.Name)]);
                }
            }
        }
    }

    private IEnumerable<Measurement<long>> PolicyErrors() =>
        _policies.Select(p => new Measurement<long>(p.Errors, Tag("rule", p.Rule), Tag("policy", p.Name)));

    private IEnumerable<Measurement<long>> Refusals()
    {
        if (_refusals() is not { } log)
        {
            yield break;
        }

        foreach (Refusal reason in Enum.GetValues<Refusal>())
        {
            yield return new(log.Total(reason), Tag("reason", RefusalLog.Name(reason)));
        }
    }

    private static KeyValuePair<string, object?>[] FlowTags(FlowEntry e) =>
        [Tag("flow.id", e.Id), Tag("flow", e.Engine.KeyText), Tag("rule", e.Rule.Name)];

    private static KeyValuePair<string, object?> Tag(string key, object? value) => new(key, value);

    private static string SnakeCase(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    public void Dispose() => _meter.Dispose();
}
