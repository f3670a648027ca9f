using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Decision;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Metrics;
using VirtualStack.Host.Tests.Infrastructure;

namespace VirtualStack.Host.Tests.Switching;

/// <summary>
/// Switching on the real pipeline stages: nothing lost or reordered across many switches between cached stacks, each
/// switch timed, a first build timed and waited for (make before break), a failing policy contained, overrides.
/// </summary>
public sealed class SwitchingTests
{
    private static int Number(byte[] payload) => BitConverter.ToInt32(payload);

    [Fact]
    public async Task Switching_back_and_forth_between_cached_stacks_loses_and_reorders_nothing_and_times_every_switch()
    {
        var policy = new ScriptedPolicy();
        await using var harness = new PipelineHarness(policy);

        const int Rounds = 200;
        const int PerRound = 7;
        int sent = 0;
        for (int round = 0; round < Rounds; round++)
        {
            policy.Choice = round % 2;
            await harness.Feed(PipelineHarness.Numbered(sent, PerRound), batchSize: 4);
            sent += PerRound;
        }

        int[] onA = [.. harness.A.Sent.Select(s => Number(s.Payload))];
        int[] onB = [.. harness.B.Sent.Select(s => Number(s.Payload))];
        Assert.Equal(Enumerable.Range(0, sent), onA.Concat(onB).Order());
        Assert.Equal(onA.Order(), onA);
        Assert.Equal(onB.Order(), onB);
        Assert.Equal(Rounds / 2 * PerRound, onA.Length);
        Assert.Equal(0, harness.Counters.TotalDrops);

        FlowEntry flow = Assert.Single(harness.Flows.Table.Snapshot());
        Assert.Equal(Rounds - 1, flow.Engine.Switches);
        (SampleSummary delays, SwitchRecord[] recent) = flow.Engine.History!.Snapshot();
        Assert.Equal(Rounds - 1, delays.Count);
        Assert.Equal(SwitchHistory.Keep, recent.Length);
        Assert.All(recent, r => Assert.True(r.Cached));
        Assert.All(recent, r => Assert.Equal(1 - r.From, r.To));
        // A switch between cached stacks is one pointer change on the pipeline thread: microseconds, not milliseconds.
        Assert.True(delays.Median < 5_000, $"median switch delay {delays.Median} us");
        Assert.True(flow.Engine.Slots[0].Timings.Switches.Count >= Rounds / 2 - 1);
    }

    [Fact]
    public async Task The_policy_sees_each_flows_id_and_the_stack_carrying_it()
    {
        var policy = new ScriptedPolicy { Choice = 1 };
        await using var harness = new PipelineHarness(policy);
        int carried = 0;

        // One packet at a time, each carried before the next is decided: the decision stage runs ahead of the flow
        // router by the packets in flight, so CurrentStack is the stack that carried the flow's last routed packet.
        async Task Send(int number, ushort port)
        {
            await harness.Feed(PipelineHarness.Numbered(number, 1, sourcePort: port));
            carried++;
            for (int i = 0; i < 500 && await harness.OnLoop(() => harness.A.Sent.Count + harness.B.Sent.Count) < carried; i++)
            {
                await Task.Delay(10);
            }
        }

        for (int i = 0; i < 3; i++)
        {
            await Send(i, 5000);
        }

        for (int i = 3; i < 6; i++)
        {
            await Send(i, 5001);
        }

        policy.Choice = 0;
        await Send(6, 5000);
        await Send(7, 5000);

        FlowEntry[] flows = [.. harness.Flows.Table.Snapshot().OrderBy(f => f.Key.SourcePort)];
        Assert.Equal(2, flows.Length);
        long first = flows[0].Id;
        long second = flows[1].Id;
        Assert.NotEqual(first, second);
        Assert.True(first > 0 && second > 0);
        // Before its first packet a flow is on no stack (-1); then on the stack the policy chose (1); after the
        // policy moved it back, the next packet sees the stack that carried the one before it (0).
        Assert.Equal(
            [(first, -1), (first, 1), (first, 1), (second, -1), (second, 1), (second, 1), (first, 1), (first, 0)],
            policy.Contexts);
    }

    [Fact]
    public async Task A_new_flows_packets_before_its_first_stack_is_ready_are_held_and_sent_first_once_it_is()
    {
        var policy = new ScriptedPolicy { Choice = 1 };
        var gated = new RecordingStack("udpB") { OpenGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var harness = new PipelineHarness(policy, second: gated);

        // A new flow has no stack to stay on while its first one is built: its packets wait, copied.
        await harness.Feed(PipelineHarness.Numbered(0, 5));
        await Task.Delay(50);
        Assert.Empty(gated.Sent);
        int flushesBefore = gated.Flushes;
        gated.OpenGate.SetResult();

        // They leave when the build completes, without waiting for the flow's next packet (there may be none).
        await WaitUntil(() => harness.OnLoop(() => gated.Sent.Count == 5));
        Assert.True(await harness.OnLoop(() => gated.Flushes > flushesBefore), "the held packets were queued but never flushed");
        await harness.Feed(PipelineHarness.Numbered(5, 5));

        Assert.Equal(Enumerable.Range(0, 10), gated.Sent.Select(s => Number(s.Payload)));
        Assert.Equal(0, harness.Counters.TotalDrops);
        Assert.Equal(5, harness.Counters.Held);
        Assert.Equal(10, harness.Counters.PacketsSent);
        FlowEntry flow = Assert.Single(harness.Flows.Table.Snapshot());
        Assert.Null(flow.DropsByReason);
        Assert.Equal(5, flow.Engine.HeldTotal);
        Assert.Equal(1, flow.Engine.Active);
    }

    [Fact]
    public async Task A_new_flow_holds_at_most_HoldPackets_and_drops_the_rest_as_not_ready()
    {
        var policy = new ScriptedPolicy { Choice = 1 };
        var gated = new RecordingStack("udpB") { OpenGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var harness = new PipelineHarness(policy, second: gated, holdPackets: 3);

        await harness.Feed(PipelineHarness.Numbered(0, 5));
        gated.OpenGate.SetResult();
        await WaitUntil(() => harness.OnLoop(() => gated.Sent.Count == 3));
        await harness.Feed(PipelineHarness.Numbered(5, 2));

        Assert.Equal([0, 1, 2, 5, 6], gated.Sent.Select(s => Number(s.Payload)));
        Assert.Equal(2, harness.Counters.Drops(DropReason.StackNotReady));
        FlowEntry flow = Assert.Single(harness.Flows.Table.Snapshot());
        Assert.Equal(2, Assert.IsType<long[]>(flow.DropsByReason)[(int)DropReason.StackNotReady]);
    }

    [Fact]
    public async Task With_HoldPackets_0_a_new_flows_packets_before_its_first_stack_is_ready_are_dropped_and_counted_on_the_flow()
    {
        var policy = new ScriptedPolicy { Choice = 1 };
        var gated = new RecordingStack("udpB") { OpenGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var harness = new PipelineHarness(policy, second: gated, holdPackets: 0);

        await harness.Feed(PipelineHarness.Numbered(0, 5));
        await Task.Delay(50);
        gated.OpenGate.SetResult();
        await Task.Delay(50);
        await harness.Feed(PipelineHarness.Numbered(5, 5));

        Assert.Equal(Enumerable.Range(5, 5), gated.Sent.Select(s => Number(s.Payload)));
        FlowEntry flow = Assert.Single(harness.Flows.Table.Snapshot());
        long[] drops = Assert.IsType<long[]>(flow.DropsByReason);
        Assert.Equal(5, drops[(int)DropReason.StackNotReady]);
        Assert.Equal(5, drops.Sum());
        Assert.Equal(5, harness.Counters.Drops(DropReason.StackNotReady));
    }

    [Fact]
    public async Task Held_packets_of_a_flow_whose_first_build_fails_are_dropped_and_counted()
    {
        var policy = new ScriptedPolicy { Choice = 1 };
        var gated = new RecordingStack("udpB") { OpenGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var harness = new PipelineHarness(policy, second: gated);

        await harness.Feed(PipelineHarness.Numbered(0, 4));
        gated.OpenGate.SetException(new IOException("no answer"));
        await WaitUntil(() => harness.OnLoop(() => harness.Counters.Drops(DropReason.StackNotReady) == 4));

        Assert.Empty(gated.Sent);
        Assert.Equal(4, harness.Counters.Held);
        FlowEntry flow = Assert.Single(harness.Flows.Table.Snapshot());
        Assert.Equal(4, Assert.IsType<long[]>(flow.DropsByReason)[(int)DropReason.StackNotReady]);
        Assert.Equal(SlotState.Failed, flow.Engine.Slots[1].State);
    }

    private static async Task WaitUntil(Func<Task<bool>> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "timed out waiting");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task A_switch_to_a_stack_still_being_built_waits_for_it_and_its_delay_includes_the_build()
    {
        var policy = new ScriptedPolicy();
        var gated = new RecordingStack("udpB") { OpenGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var harness = new PipelineHarness(policy, second: gated);

        await harness.Feed(PipelineHarness.Numbered(0, 10));
        policy.Choice = 1;
        await harness.Feed(PipelineHarness.Numbered(10, 10));
        await Task.Delay(150);
        gated.OpenGate.SetResult();
        await Task.Delay(50);
        await harness.Feed(PipelineHarness.Numbered(20, 10));

        Assert.Equal(Enumerable.Range(0, 20), harness.A.Sent.Select(s => Number(s.Payload)));
        Assert.Equal(Enumerable.Range(20, 10), gated.Sent.Select(s => Number(s.Payload)));
        FlowEntry flow = Assert.Single(harness.Flows.Table.Snapshot());
        SwitchRecord record = Assert.Single(flow.Engine.History!.Snapshot().Recent);
        Assert.False(record.Cached);
        Assert.True(record.DelayUs >= 150_000, $"delay {record.DelayUs} us must include the 150 ms build");
        Assert.True(flow.Engine.Slots[1].BuildTime >= TimeSpan.FromMilliseconds(150));
        Assert.Equal(1, flow.Engine.Slots[1].Builds);
    }

    [Fact]
    public async Task A_policy_that_starts_throwing_leaves_the_flow_on_its_current_stack()
    {
        var policy = new ScriptedPolicy { Choice = 1 };
        await using var harness = new PipelineHarness(policy);

        await harness.Feed(PipelineHarness.Numbered(0, 10));
        policy.Throw = new InvalidOperationException("policy bug");
        await harness.Feed(PipelineHarness.Numbered(10, 500));

        Assert.Empty(harness.A.Sent);
        Assert.Equal(Enumerable.Range(0, 510), harness.B.Sent.Select(s => Number(s.Payload)));
        Assert.Equal(0, harness.Counters.TotalDrops);
        Assert.True(harness.Policy.Errors >= 1);
        Assert.Equal("InvalidOperationException: policy bug", harness.Policy.LastError);
    }

    [Fact]
    public async Task A_new_flow_whose_policy_throws_takes_the_first_stack()
    {
        var policy = new ScriptedPolicy { Throw = new InvalidOperationException("from the start") };
        await using var harness = new PipelineHarness(policy);
        await harness.Feed(PipelineHarness.Numbered(0, 5));
        Assert.Equal(5, harness.A.Sent.Count);
        Assert.Equal(0, harness.Counters.TotalDrops);
    }

    [Fact]
    public async Task A_flow_override_wins_over_the_policy_until_the_policy_is_set_again()
    {
        var policy = new ScriptedPolicy { Choice = 0 };
        await using var harness = new PipelineHarness(policy);
        await harness.Feed(PipelineHarness.Numbered(0, 5));
        FlowEntry flow = Assert.Single(harness.Flows.Table.Snapshot());

        await harness.OnLoop(() =>
        {
            flow.Engine.Force(1);
            return 0;
        });
        Assert.Equal(1, flow.Engine.Forced);
        await harness.Feed(PipelineHarness.Numbered(5, 5));
        Assert.Equal(5, harness.B.Sent.Count);

        harness.Policy.Replace(harness.Policy.Binding with { Policy = new ScriptedPolicy { Choice = 0 } });
        Assert.Equal(-1, flow.Engine.Forced);
        await harness.Feed(PipelineHarness.Numbered(10, 5));
        Assert.Equal(Enumerable.Range(0, 5).Concat(Enumerable.Range(10, 5)), harness.A.Sent.Select(s => Number(s.Payload)));
        Assert.Equal(2, flow.Engine.Switches);
    }
}
