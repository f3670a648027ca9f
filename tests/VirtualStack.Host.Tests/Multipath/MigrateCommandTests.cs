using System.Globalization;
using System.Text.Json.Nodes;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Management;
using VirtualStack.Host.Tests.Policies;
using VirtualStack.Host.Tests.Switching;

namespace VirtualStack.Host.Tests.Multipath;

/// <summary>vs migrate on a running pipeline (real stages on a shard loop): the flow moves make before break, a bad command changes nothing.</summary>
public sealed class MigrateCommandTests(PolicyPlugins plugins) : IClassFixture<PolicyPlugins>
{
    private const string NewFarEnd = "10.202.0.2:9402";

    private ControlPlane Control(PipelineHarness harness, List<string>? log = null) =>
        new(harness.Flows.Rules, harness.Flows, harness.Loop, harness.Runtimes, plugins.Catalog, (log ?? []).Add);

    [Fact]
    public async Task A_migrated_flow_gets_a_new_stack_flow_to_the_new_far_end_and_loses_nothing()
    {
        await using var harness = new PipelineHarness(new ScriptedPolicy { Choice = 0 });
        await using ControlPlane control = Control(harness);
        await harness.Feed(PipelineHarness.Numbered(0, 5));
        FlowEntry flow = Assert.Single(harness.Flows.Table.Snapshot());
        IStackFlow? before = flow.Engine.Slots[0].StackFlow;

        JsonObject answer = await control.MigrateAsync(flow.Id.ToString(CultureInfo.InvariantCulture), NewFarEnd, null);
        Assert.Equal(NewFarEnd, answer["to"]!.GetValue<string>());
        await harness.Feed(PipelineHarness.Numbered(5, 5));

        Assert.Equal(NewFarEnd, harness.A.Opened[^1].Remote.ToString());
        Assert.Equal(NewFarEnd, flow.Engine.Slots[0].Remote.ToString());
        Assert.NotSame(before, flow.Engine.Slots[0].StackFlow);
        Assert.Equal(10, harness.A.Sent.Count);
        Assert.Equal(1, flow.Engine.Migrations);
    }

    [Fact]
    public async Task The_old_stack_flow_carries_the_flow_until_the_new_one_is_built()
    {
        await using var harness = new PipelineHarness(new ScriptedPolicy { Choice = 0 });
        await using ControlPlane control = Control(harness);
        await harness.Feed(PipelineHarness.Numbered(0, 3));
        FlowEntry flow = Assert.Single(harness.Flows.Table.Snapshot());
        IStackFlow? before = flow.Engine.Slots[0].StackFlow;
        string oldRemote = flow.Engine.Slots[0].Remote.ToString();

        harness.A.OpenGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await control.MigrateAsync($"flow:{flow.Id}", NewFarEnd, null);
        await harness.Feed(PipelineHarness.Numbered(3, 3));
        Assert.Same(before, flow.Engine.Slots[0].StackFlow);
        Assert.Equal(oldRemote, flow.Engine.Slots[0].Remote.ToString());
        Assert.Equal(6, harness.A.Sent.Count);

        harness.A.OpenGate.SetResult();
        await WaitAsync(() => !ReferenceEquals(before, flow.Engine.Slots[0].StackFlow));
        await harness.Feed(PipelineHarness.Numbered(6, 3));
        Assert.Equal(NewFarEnd, flow.Engine.Slots[0].Remote.ToString());
        Assert.Equal(9, harness.A.Sent.Count);
    }

    [Fact]
    public async Task Migrating_a_rule_moves_its_flows_and_new_ones()
    {
        await using var harness = new PipelineHarness(new ScriptedPolicy { Choice = 0 });
        await using ControlPlane control = Control(harness);
        await harness.Feed(PipelineHarness.Numbered(0, 2, sourcePort: 5000));

        JsonObject answer = await control.MigrateAsync("rule:test", NewFarEnd, null);
        Assert.Equal(1, answer["flows"]!.GetValue<int>());
        await harness.Feed(PipelineHarness.Numbered(2, 2, sourcePort: 5001));

        Assert.All(harness.Flows.Table.Snapshot(), f => Assert.Equal(NewFarEnd, f.Engine.Slots[0].Remote.ToString()));
    }

    [Fact]
    public async Task Migrating_one_stack_leaves_the_rules_other_stacks_where_they_were()
    {
        await using var harness = new PipelineHarness(new ScriptedPolicy { Choice = 0 });
        await using ControlPlane control = Control(harness);
        await harness.Feed(PipelineHarness.Numbered(0, 2));
        FlowEntry flow = Assert.Single(harness.Flows.Table.Snapshot());
        string remoteA = flow.Engine.Slots[0].Remote.ToString();

        await control.MigrateAsync(flow.Id.ToString(CultureInfo.InvariantCulture), NewFarEnd, null, stack: "udpB");
        await control.SwitchAsync(flow.Id.ToString(CultureInfo.InvariantCulture), "udpB");
        await harness.Feed(PipelineHarness.Numbered(2, 2));

        Assert.Equal(remoteA, flow.Engine.Slots[0].Remote.ToString());
        Assert.Equal(NewFarEnd, flow.Engine.Slots[1].Remote.ToString());
        Assert.Equal(2, harness.B.Sent.Count);
        var error = await Assert.ThrowsAsync<ManagementException>(() => control.MigrateAsync("test", NewFarEnd, null, stack: "udpC"));
        Assert.StartsWith("'udpC' is not a stack of rule test", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("99", NewFarEnd, null, "no flow 99")]
    [InlineData("1", "10.202.0.2", null, "'10.202.0.2' is not an address and port")]
    [InlineData("nosuchrule", NewFarEnd, null, "no rule 'nosuchrule'")]
    [InlineData("test", NewFarEnd, "radio", "rule test has no Paths")]
    [InlineData("1", NewFarEnd, "radio", "flow 1: rule test has no Paths")]
    public async Task A_bad_migrate_is_refused_and_changes_nothing(string target, string to, string? path, string message)
    {
        await using var harness = new PipelineHarness(new ScriptedPolicy { Choice = 0 });
        await using ControlPlane control = Control(harness);
        await harness.Feed(PipelineHarness.Numbered(0, 3));
        FlowEntry flow = Assert.Single(harness.Flows.Table.Snapshot());
        string remote = flow.Engine.Slots[0].Remote.ToString();

        var error = await Assert.ThrowsAsync<ManagementException>(() => control.MigrateAsync(target, to, path));
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);

        await harness.Feed(PipelineHarness.Numbered(3, 3));
        Assert.Equal(remote, flow.Engine.Slots[0].Remote.ToString());
        Assert.Single(harness.A.Opened);
        Assert.Equal(0, flow.Engine.Migrations);
    }

    private static async Task WaitAsync(Func<bool> done)
    {
        for (int i = 0; i < 500 && !done(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(done());
    }
}
