using System.Text.Json.Nodes;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Host.Decision;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Management;
using VirtualStack.Host.Tests.Policies;
using VirtualStack.Host.Tests.Switching;

namespace VirtualStack.Host.Tests.Management;

/// <summary>
/// What vs switch, vs policy and vs measure do to a running pipeline (real stages on a shard loop, the real Policies
/// plugin): the effect on the flows, and that a refused command changes nothing.
/// </summary>
public sealed class ControlPlaneTests(PolicyPlugins plugins) : IClassFixture<PolicyPlugins>
{
    private static int Number(byte[] payload) => BitConverter.ToInt32(payload);

    private ControlPlane Control(PipelineHarness harness, List<string>? log = null) =>
        new(harness.Flows.Rules, harness.Flows, harness.Loop, harness.Runtimes, plugins.Catalog, (log ?? []).Add);

    [Fact]
    public async Task Switching_a_flow_moves_it_at_its_next_packet_until_the_policy_is_set_again()
    {
        await using var harness = new PipelineHarness(new ScriptedPolicy { Choice = 0 });
        await using ControlPlane control = Control(harness);
        await harness.Feed(PipelineHarness.Numbered(0, 5));
        long id = Assert.Single(harness.Flows.Table.Snapshot()).Id;

        JsonObject answer = await control.SwitchAsync(id.ToString(System.Globalization.CultureInfo.InvariantCulture), "UDPB");
        Assert.Equal("udpB", answer["stack"]!.GetValue<string>());
        Assert.Equal("udpA", answer["was"]!.GetValue<string>());
        Assert.Equal("notbuilt", answer["stack_state"]!.GetValue<string>());
        await harness.Feed(PipelineHarness.Numbered(5, 5));
        Assert.Equal(Enumerable.Range(5, 5), harness.B.Sent.Select(s => Number(s.Payload)));

        JsonObject replaced = await control.SetPolicyAsync("test", "Static", new Dictionary<string, string>());
        Assert.Equal("Static", replaced["policy"]!.GetValue<string>());
        Assert.Equal("Test", replaced["was"]!["policy"]!.GetValue<string>());
        await harness.Feed(PipelineHarness.Numbered(10, 5));
        Assert.Equal(Enumerable.Range(0, 5).Concat(Enumerable.Range(10, 5)), harness.A.Sent.Select(s => Number(s.Payload)));
    }

    [Fact]
    public async Task Switching_a_rule_moves_its_flows_and_new_ones()
    {
        await using var harness = new PipelineHarness(new ScriptedPolicy { Choice = 0 });
        await using ControlPlane control = Control(harness);
        await harness.Feed(PipelineHarness.Numbered(0, 3, sourcePort: 5000));

        JsonObject answer = await control.SwitchAsync("rule:test", "udpB");
        Assert.Equal(1, answer["flows"]!.GetValue<int>());
        await harness.Feed(PipelineHarness.Numbered(3, 3, sourcePort: 5000));
        await harness.Feed(PipelineHarness.Numbered(6, 3, sourcePort: 5001));
        Assert.Equal(Enumerable.Range(3, 6), harness.B.Sent.Select(s => Number(s.Payload)));
        Assert.Equal("udpB", harness.Policy.Stacks[harness.Policy.Binding.Forced]);
    }

    [Theory]
    [InlineData("99", "udpB", "no flow 99")]
    [InlineData("1", "udpC", "'udpC' is not a stack of rule test (udpA, udpB)")]
    [InlineData("nosuchrule", "udpB", "no rule 'nosuchrule' (rules: test)")]
    [InlineData("rule:test", "raw", "'raw' is not a stack of rule test")]
    [InlineData("flow:x", "udpB", "'x' is not a flow number")]
    public async Task A_bad_switch_is_refused_and_changes_nothing(string target, string stack, string message)
    {
        await using var harness = new PipelineHarness(new ScriptedPolicy { Choice = 0 });
        await using ControlPlane control = Control(harness);
        await harness.Feed(PipelineHarness.Numbered(0, 3));
        PolicyBinding before = harness.Policy.Binding;

        var error = await Assert.ThrowsAsync<ManagementException>(() => control.SwitchAsync(target, stack));
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);

        Assert.Same(before, harness.Policy.Binding);
        FlowEntry flow = Assert.Single(harness.Flows.Table.Snapshot());
        Assert.Equal(-1, flow.Engine.Forced);
        await harness.Feed(PipelineHarness.Numbered(3, 3));
        Assert.Equal(6, harness.A.Sent.Count);
    }

    [Theory]
    [InlineData("test", "NoSuchPolicy", "Period", "1", "no plugin in")]
    [InlineData("test", "TimedSwitch", "Period", "soon", "TimedSwitch: Period: 'soon' is not a positive time span")]
    [InlineData("test", "TimedSwitch", "Perod", "00:00:01", "TimedSwitch: Perod: unknown option")]
    [InlineData("test", "RuleBased", "When:0:Process", "1000", "RuleBased: When:0:Process: unknown field")]
    [InlineData("other", "Static", "Stack", "udpA", "no rule 'other'")]
    public async Task A_bad_policy_is_refused_and_changes_nothing(string rule, string policy, string key, string value, string message)
    {
        await using var harness = new PipelineHarness(new ScriptedPolicy { Choice = 1 });
        await using ControlPlane control = Control(harness);
        await control.SwitchAsync("test", "udpA");
        PolicyBinding before = harness.Policy.Binding;

        var error = await Assert.ThrowsAsync<ManagementException>(() =>
            control.SetPolicyAsync(rule, policy, new Dictionary<string, string> { [key] = value }));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);

        // Same binding object: same policy, same override, same epoch.
        Assert.Same(before, harness.Policy.Binding);
        await harness.Feed(PipelineHarness.Numbered(0, 3));
        Assert.Equal(3, harness.A.Sent.Count);
    }

    [Fact]
    public async Task A_valid_policy_replaces_the_old_one_at_run_time()
    {
        await using var harness = new PipelineHarness(new ScriptedPolicy { Choice = 0 });
        var log = new List<string>();
        await using ControlPlane control = Control(harness, log);
        await harness.Feed(PipelineHarness.Numbered(0, 3));

        await control.SetPolicyAsync("test", "RuleBased", new Dictionary<string, string> { ["When:0:Stack"] = "udpB", ["When:0:DestinationPort"] = "9000" });
        await harness.Feed(PipelineHarness.Numbered(3, 3));

        Assert.Equal(3, harness.A.Sent.Count);
        Assert.Equal(Enumerable.Range(3, 3), harness.B.Sent.Select(s => Number(s.Payload)));
        Assert.Contains(log, l => l.StartsWith("rule test: policy RuleBased When:0:DestinationPort=9000 When:0:Stack=udpB replaces Test", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Measurements_reach_the_policies_of_the_rules_that_have_the_stack()
    {
        var policy = new ScriptedPolicy();
        await using var harness = new PipelineHarness(policy);
        await using ControlPlane control = Control(harness);
        await harness.Feed(PipelineHarness.Numbered(0, 3));
        long id = Assert.Single(harness.Flows.Table.Snapshot()).Id;

        await control.MeasureAsync("udpB", null, null, new MeasurementValues(LossRatio: 0.25, RttMs: 40), MeasurementSource.Controller);
        await control.MeasureAsync("udpA", "test", id, new MeasurementValues(CongestionWindow: 3), MeasurementSource.Operator);

        Assert.Equal(2, policy.Observed.Count);
        Measurement stack = policy.Observed[0];
        Assert.Equal(1, stack.Stack);
        Assert.Equal("udpB", stack.StackName);
        Assert.False(stack.HasFlow);
        Assert.Equal(MeasurementSource.Controller, stack.Source);
        Assert.Equal(new MeasurementValues(0.25, 40), stack.Values);
        Measurement flow = policy.Observed[1];
        Assert.True(flow.HasFlow);
        Assert.Equal(id, flow.FlowId);
        Assert.Equal(0, flow.Stack);

        await Assert.ThrowsAsync<ManagementException>(() => control.MeasureAsync("raw", null, null, new MeasurementValues(LossRatio: 0.1), MeasurementSource.Operator));
        await Assert.ThrowsAsync<ManagementException>(() => control.MeasureAsync("udpA", null, null, new MeasurementValues(LossRatio: 2), MeasurementSource.Operator));
        await Assert.ThrowsAsync<ManagementException>(() => control.MeasureAsync("udpA", null, null, default, MeasurementSource.Operator));
        Assert.Equal(2, policy.Observed.Count);
    }
}
