using System.Globalization;
using System.Text.Json.Nodes;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Decision;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Metrics;
using VirtualStack.Host.Plugins;
using VirtualStack.Host.Rules;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Management;

/// <summary>
/// What the management interfaces (local socket, remote controller) act on: the rules and their policies, the flow
/// table (reached on the shard thread), the stacks, the policy plugins. It also runs the once-a-second housekeeping
/// of the decision: reporting policy errors (rate limited) and sampling the flows for the policies and the metrics.
/// </summary>
internal sealed partial class ControlPlane : IAsyncDisposable
{
    private readonly TaskScheduler _loop;
    private readonly Timer _timer;
    private int _ticking;
    private long _lastSampleAt;

    public ControlPlane(RuleSet rules, FlowManager flows, TaskScheduler loop, IReadOnlyList<StackRuntime> stacks, PluginCatalog catalog, Action<string> log)
    {
        Rules = rules;
        Flows = flows;
        _loop = loop;
        Stacks = stacks;
        Catalog = catalog;
        Log = log;
        Policies = rules.Rules.Select(r => r.Policy).OfType<RulePolicy>().ToArray();
        _timer = new Timer(_ => _ = TickAsync());
    }

    public RuleSet Rules { get; }

    public FlowManager Flows { get; }

    public IReadOnlyList<StackRuntime> Stacks { get; }

    public PluginCatalog Catalog { get; }

    public Action<string> Log { get; }

    /// <summary>The configured rules' policies (the default rule has none to manage).</summary>
    public IReadOnlyList<RulePolicy> Policies { get; }

    public void Start() => _timer.Change(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

    /// <summary>Runs <paramref name="work"/> on the shard thread, where the flow table and the engines live.</summary>
    public Task<T> OnLoop<T>(Func<T> work) => Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.None, _loop);

    /// <summary>The rule named <paramref name="name"/> (case-insensitive) with its policy, or null.</summary>
    public RulePolicy? FindPolicy(string name) =>
        Policies.FirstOrDefault(p => p.Rule.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// <c>vs switch TARGET STACK</c>: a flow (its number, or <c>flow:N</c>) or every flow of a rule (its name, or
    /// <c>rule:NAME</c>) onto one of the rule's stacks, overriding the policy until it is set again. Everything is
    /// checked before anything changes.
    /// </summary>
    public async Task<JsonObject> SwitchAsync(string target, string stack, string who = "an operator")
    {
        if (string.IsNullOrWhiteSpace(target) || string.IsNullOrWhiteSpace(stack))
        {
            throw new ManagementException("switch needs a target (a flow number or a rule name) and a stack");
        }

        if (IsFlowTarget(target, out long id, out string name))
        {
            return await SwitchFlowAsync(id, stack, who);
        }

        RulePolicy policy = FindPolicy(name) ?? throw new ManagementException(UnknownRule(name));
        int index = StackIndex(policy, stack);
        string? was = policy.Binding.Forced >= 0 ? policy.Stacks[policy.Binding.Forced] : null;
        int flows = await OnLoop(() => Flows.Table.Snapshot().Count(f => ReferenceEquals(f.Rule.Policy, policy)));
        policy.Force(index);
        Log($"rule {policy.Rule}: every flow forced onto {policy.Stacks[index]} by {who} (policy {policy.Name} overridden until it is set again)");
        return new JsonObject
        {
            ["rule"] = policy.Rule,
            ["stack"] = policy.Stacks[index],
            ["was_forced"] = was,
            ["policy"] = policy.Name,
            ["flows"] = flows,
            ["note"] = "every flow of the rule, new ones too, moves at its next packet (once the stack is built); vs policy ends the override",
        };
    }

    private async Task<JsonObject> SwitchFlowAsync(long id, string stack, string who)
    {
        // Found, checked and forced in one visit to the shard thread: the flow cannot end in between.
        (JsonObject? answer, string? problem) = await OnLoop(() =>
        {
            FlowEntry? flow = Flows.Table.FindById(id);
            if (flow is null)
            {
                return ((JsonObject?)null, $"no flow {id} (it may have ended; vs flows lists the flows)");
            }

            if (flow.Rule.Multipath is not null)
            {
                return (null, $"flow {id}: {MultipathHasNoPolicy(flow.Rule)}");
            }

            if (flow.Rule.Policy is not RulePolicy policy)
            {
                return (null, $"flow {id} belongs to the default rule, which has only its one stack ({flow.Rule.Stacks[0].Name})");
            }

            int index = IndexOf(policy, stack);
            if (index < 0)
            {
                return (null, NotAStackOf(policy, stack));
            }

            StackEngine engine = flow.Engine;
            string? was = engine.Active >= 0 ? engine.Slots[engine.Active].Runtime.Name : null;
            engine.Force(index);
            StackSlot slot = engine.Slots[index];
            return (new JsonObject
            {
                ["flow"] = id,
                ["key"] = flow.Key.ToString(),
                ["rule"] = policy.Rule,
                ["stack"] = policy.Stacks[index],
                ["was"] = was,
                ["stack_state"] = slot.State.ToString().ToLowerInvariant(),
                ["note"] = slot.State == SlotState.Ready
                    ? "the stack is cached: the flow moves at its next packet; vs policy ends the override"
                    : "the stack is built at the flow's next packet; the flow stays where it is until it is ready; vs policy ends the override",
            }, (string?)null);
        });
        if (problem is not null)
        {
            throw new ManagementException(problem);
        }

        Log($"flow {id}: forced onto {answer!["stack"]} by {who}");
        return answer!;
    }

    /// <summary>
    /// <c>vs policy RULE NAME [key=value ...]</c>: replaces a rule's policy at run time. The new policy is checked and
    /// created before the old one is touched; a refusal changes nothing. Accepting ends the operator's overrides.
    /// </summary>
    public async Task<JsonObject> SetPolicyAsync(string rule, string policyName, IReadOnlyDictionary<string, string> options, string who = "an operator")
    {
        if (string.IsNullOrWhiteSpace(rule) || string.IsNullOrWhiteSpace(policyName))
        {
            throw new ManagementException("policy needs a rule and a policy name");
        }

        RulePolicy policy = FindPolicy(rule) ?? throw new ManagementException(UnknownRule(rule));
        PolicyBinding next = PolicyResolver.TryCreate(Catalog, policy.Rule, policy.Stacks, policyName, options, Log, policy.NextEpoch, out string? problem)
            ?? throw new ManagementException($"rule {policy.Rule}: {problem}; nothing changed");
        PolicyBinding old = policy.Replace(next);

        // The pipeline may be inside the old policy right now: dispose it only after a round trip through the shard.
        await OnLoop(() => 0);
        (old.Policy as IDisposable)?.Dispose();
        Log($"rule {policy.Rule}: policy {next.Name} {Describe(next.Options)} replaces {old.Name} {Describe(old.Options)}".TrimEnd() + $" (by {who})");
        return new JsonObject
        {
            ["rule"] = policy.Rule,
            ["policy"] = next.Name,
            ["options"] = ToJson(next.Options),
            ["was"] = new JsonObject
            {
                ["policy"] = old.Name,
                ["options"] = ToJson(old.Options),
                ["forced"] = old.Forced >= 0 ? policy.Stacks[old.Forced] : null,
            },
            ["state"] = policy.PolicyStatus(),
            ["note"] = "operator overrides of the rule and its flows are cleared",
        };
    }

    /// <summary>
    /// Hands a measurement about a stack (optionally about one flow on it, or for one rule only) to every rule
    /// policy that has that stack. Values: loss ratio, RTT in ms, congestion window in packets, throughput in bit/s.
    /// </summary>
    public async Task<JsonObject> MeasureAsync(string stack, string? rule, long? flowId, MeasurementValues values, MeasurementSource source)
    {
        if (values.IsEmpty)
        {
            throw new ManagementException("measure needs at least one value (loss, rtt_ms, cwnd, throughput_bps)");
        }

        if (values.LossRatio is < 0 or > 1 || values.RttMs < 0 || values.CongestionWindow < 0 || values.ThroughputBitsPerSecond < 0 ||
            !IsFinite(values.LossRatio) || !IsFinite(values.RttMs) || !IsFinite(values.CongestionWindow) || !IsFinite(values.ThroughputBitsPerSecond))
        {
            throw new ManagementException("measure: loss is a ratio from 0 to 1; rtt_ms, cwnd and throughput_bps are not negative");
        }

        long now = Environment.TickCount64;
        var targets = new List<(RulePolicy Policy, Measurement Measurement)>();
        if (flowId is { } id)
        {
            var found = await OnLoop(() => Flows.Table.FindById(id) is { } f ? (f.Key, f.Rule.Policy as RulePolicy) : ((Contracts.Flows.FlowKey, RulePolicy?)?)null);
            if (found is not { } flow)
            {
                throw new ManagementException($"no flow {id} (it may have ended; vs flows lists the flows)");
            }

            if (flow.Item2 is not { } policy || (rule is not null && !policy.Rule.Equals(rule, StringComparison.OrdinalIgnoreCase)))
            {
                throw new ManagementException($"flow {id} is not a flow of {(rule is null ? "a configured rule" : $"rule {rule}")}");
            }

            int index = StackIndex(policy, stack);
            targets.Add((policy, new Measurement(index, policy.Stacks[index], source, values, now, flow.Item1, id)));
        }
        else
        {
            IEnumerable<RulePolicy> candidates = rule is null ? Policies : [FindPolicy(rule) ?? throw new ManagementException(UnknownRule(rule))];
            foreach (RulePolicy policy in candidates)
            {
                int index = IndexOf(policy, stack);
                if (index >= 0)
                {
                    targets.Add((policy, new Measurement(index, policy.Stacks[index], source, values, now)));
                }
                else if (rule is not null)
                {
                    throw new ManagementException(NotAStackOf(policy, stack));
                }
            }

            if (targets.Count == 0)
            {
                throw new ManagementException($"no rule has a stack '{stack}' (rules: {string.Join("; ", Policies.Select(p => $"{p.Rule}: {string.Join(", ", p.Stacks)}"))})");
            }
        }

        var delivered = new JsonArray();
        foreach ((RulePolicy policy, Measurement measurement) in targets)
        {
            string? error = policy.Observe(measurement);
            delivered.Add(new JsonObject
            {
                ["rule"] = policy.Rule,
                ["policy"] = policy.Name,
                ["error"] = error,
                ["state"] = policy.PolicyStatus(),
            });
        }

        return new JsonObject { ["stack"] = stack, ["flow"] = flowId, ["delivered"] = delivered };
    }

    /// <summary>The flow table as the last sample saw it (newest first); what metrics read between samples.</summary>
    public FlowEntry[] LastFlows { get; private set; } = [];

    /// <summary>Once a second: policy errors are logged (rate limited), then the flows are sampled.</summary>
    internal async Task TickAsync()
    {
        if (Interlocked.Exchange(ref _ticking, 1) != 0)
        {
            return;
        }

        try
        {
            long now = Environment.TickCount64;
            foreach (RulePolicy policy in Policies)
            {
                policy.ReportErrors(now, Log);
            }

            await SampleAsync();
        }
        catch (Exception e) when (e is TaskCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // The shard is stopping: nothing to sample any more.
        }
        finally
        {
            Volatile.Write(ref _ticking, 0);
        }
    }

    /// <summary>
    /// Samples every flow on the shard thread (where the stacks may be called): the bytes each rule sent on each of
    /// its stacks since the last sample, and what stacks that measure their flows (<see cref="IMeasuredFlow"/>, e.g.
    /// DCCP's RTT and window) report; then hands both to the rules' policies as <see cref="MeasurementSource.Stack"/>
    /// measurements, off the shard thread.
    /// </summary>
    public async Task SampleAsync()
    {
        Sample sample = await OnLoop(TakeSample);
        LastFlows = sample.Flows;
        if (sample.Seconds > 0)
        {
            foreach (((RulePolicy policy, int stack), long bytes) in sample.Bytes)
            {
                var values = new MeasurementValues(ThroughputBitsPerSecond: bytes * 8 / sample.Seconds);
                policy.Observe(new Measurement(stack, policy.Stacks[stack], MeasurementSource.Stack, values, sample.At));
            }
        }

        foreach ((RulePolicy policy, Measurement measurement) in sample.PerFlow)
        {
            policy.Observe(measurement);
        }
    }

    private Sample TakeSample()
    {
        long now = Environment.TickCount64;
        double seconds = _lastSampleAt == 0 ? 0 : (now - _lastSampleAt) / 1000.0;
        _lastSampleAt = now;
        FlowEntry[] flows = Flows.Table.Snapshot();
        var bytes = new Dictionary<(RulePolicy, int), long>();
        var perFlow = new List<(RulePolicy, Measurement)>();
        foreach (FlowEntry flow in flows)
        {
            var policy = flow.Rule.Policy as RulePolicy;
            IReadOnlyList<StackSlot> slots = flow.Engine.Slots;
            for (int i = 0; i < slots.Count; i++)
            {
                StackSlot slot = slots[i];
                if (slot.StackFlow is not { } stackFlow)
                {
                    continue;
                }

                long sent = stackFlow.Stats.BytesSent;
                long delta = Math.Max(0, sent - slot.SampledBytes);
                slot.SampledBytes = sent;
                if (policy is not null)
                {
                    bytes[(policy, i)] = bytes.GetValueOrDefault((policy, i)) + delta;
                }

                if (stackFlow is IMeasuredFlow measured && TryMeasure(measured, out MeasurementValues values))
                {
                    slot.Measured = new SlotMeasurement(values, now);
                    if (policy is not null)
                    {
                        perFlow.Add((policy, new Measurement(i, slot.Runtime.Name, MeasurementSource.Stack, values, now, flow.Key, flow.Id)));
                    }
                }
            }
        }

        return new Sample(flows, now, seconds, bytes, perFlow);
    }

    private static bool TryMeasure(IMeasuredFlow flow, out MeasurementValues values)
    {
        try
        {
            return flow.TryMeasure(out values) && !values.IsEmpty;
        }
        catch (Exception)
        {
            // A stack's measurement is advisory: one that fails is skipped, the data path is not its business.
            values = default;
            return false;
        }
    }

    private sealed record Sample(
        FlowEntry[] Flows, long At, double Seconds, Dictionary<(RulePolicy, int), long> Bytes, List<(RulePolicy, Measurement)> PerFlow);

    private static bool IsFinite(double? value) => value is not { } v || double.IsFinite(v);

    private static int IndexOf(RulePolicy policy, string stack)
    {
        for (int i = 0; i < policy.Stacks.Count; i++)
        {
            if (policy.Stacks[i].Equals(stack, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    private static int StackIndex(RulePolicy policy, string stack) =>
        IndexOf(policy, stack) is var index and >= 0 ? index : throw new ManagementException(NotAStackOf(policy, stack));

    private static string NotAStackOf(RulePolicy policy, string stack) =>
        $"'{stack}' is not a stack of rule {policy.Rule} ({string.Join(", ", policy.Stacks)})";

    /// <summary>
    /// A command's target: a flow (its number, or <c>flow:N</c>; true, with <paramref name="flowId"/>) or a rule (its
    /// name, or <c>rule:NAME</c>; false, with <paramref name="name"/>). Shared by vs switch and vs migrate.
    /// </summary>
    private static bool IsFlowTarget(string target, out long flowId, out string name)
    {
        bool isRule = target.StartsWith("rule:", StringComparison.OrdinalIgnoreCase);
        bool isFlow = target.StartsWith("flow:", StringComparison.OrdinalIgnoreCase);
        name = isRule || isFlow ? target[5..] : target;
        flowId = 0;
        if (!isFlow && (isRule || name.Length == 0 || !name.All(char.IsAsciiDigit)))
        {
            return false;
        }

        return long.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out flowId)
            ? true
            : throw new ManagementException($"'{name}' is not a flow number (vs flows lists them)");
    }

    private string UnknownRule(string name) =>
        Rules.Rules.FirstOrDefault(r => r.Multipath is not null && r.Name.Equals(name, StringComparison.OrdinalIgnoreCase)) is { } multipath
            ? MultipathHasNoPolicy(multipath)
            : $"no rule '{name}' (rules: {(Policies.Count == 0 ? "none" : string.Join(", ", Policies.Select(p => p.Rule)))})";

    private static string MultipathHasNoPolicy(Rule rule) =>
        $"rule {rule.Name} has paths: its scheduler ({rule.Multipath!.Scheduler}) picks the path of every packet, there is no stack or policy to set (vs migrate RULE ADDRESS --path NAME moves a path)";

    private static string Describe(IReadOnlyDictionary<string, string> options) =>
        string.Join(' ', options.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}={o.Value}"));

    internal static JsonObject ToJson(IReadOnlyDictionary<string, string> options)
    {
        var json = new JsonObject();
        foreach ((string key, string value) in options.OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            json[key] = value;
        }

        return json;
    }

    public async ValueTask DisposeAsync()
    {
        await _timer.DisposeAsync();
        long now = Environment.TickCount64;
        foreach (RulePolicy policy in Policies)
        {
            policy.ReportErrors(now, Log);
        }
    }
}
