using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;
using VirtualStack.Host.Decision;

namespace VirtualStack.Host.Tests.Switching;

/// <summary>The host's side of a policy: faults contained and reported, operator overrides, replacement epochs.</summary>
public sealed class RulePolicyTests
{
    private static readonly PacketInfo Packet = Policies.PolicyPlugins.Packet();

    private static RulePolicy Wrap(IDecisionPolicy policy) =>
        new("r", ["udpA", "udpB"], new PolicyBinding("Scripted", new Dictionary<string, string>(), policy, -1, 1, DateTimeOffset.UtcNow));

    [Fact]
    public void A_policy_that_throws_keeps_the_flow_where_it_is_and_is_counted_and_reported_once_per_period()
    {
        var policy = new ScriptedPolicy { Choice = 1, Throw = new InvalidOperationException("boom") };
        RulePolicy rule = Wrap(policy);
        var log = new List<string>();

        Assert.Equal(RulePolicy.KeepCurrent, rule.Choose(Packet, 0, 10_000));
        Assert.Equal(1, rule.Errors);
        Assert.Equal("InvalidOperationException: boom", rule.LastError);

        rule.ReportErrors(10_000, log.Add);
        Assert.Equal("rule r: policy Scripted failed 1 time(s) (1 in all; last: InvalidOperationException: boom); its flows stay on their current stacks", Assert.Single(log));

        rule.Choose(Packet, 0, 10_001);
        rule.ReportErrors(10_500, log.Add);
        rule.ReportErrors(19_999, log.Add);
        Assert.Single(log);
        rule.ReportErrors(20_000, log.Add);
        Assert.Equal(2, log.Count);
        Assert.StartsWith("rule r: policy Scripted failed 1 time(s) (2 in all;", log[1], StringComparison.Ordinal);
        rule.ReportErrors(40_000, log.Add);
        Assert.Equal(2, log.Count);

        policy.Throw = null;
        Assert.Equal(1, rule.Choose(Packet, 0, 40_001));
    }

    [Fact]
    public void A_policy_throwing_on_every_packet_is_not_asked_again_for_the_rest_of_that_second()
    {
        var policy = new ScriptedPolicy { Throw = new InvalidOperationException("always") };
        RulePolicy rule = Wrap(policy);
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(RulePolicy.KeepCurrent, rule.Choose(Packet, 0, 5_000 + (i % 1000)));
        }

        Assert.Equal(RulePolicy.MaxErrorsPerSecond, policy.Calls);
        Assert.Equal(RulePolicy.MaxErrorsPerSecond, rule.Errors);
        Assert.Equal(1000 - RulePolicy.MaxErrorsPerSecond, rule.SuspendedPackets);

        // The next second it is asked again.
        rule.Choose(Packet, 0, 6_000);
        Assert.Equal(RulePolicy.MaxErrorsPerSecond + 1, policy.Calls);
    }

    [Fact]
    public void A_policy_that_throws_while_taking_a_measurement_is_counted_and_the_caller_told()
    {
        RulePolicy rule = Wrap(new ThrowingObserver());
        var measurement = new Contracts.Measurements.Measurement(0, "udpA", Contracts.Measurements.MeasurementSource.Controller, new(LossRatio: 0.5), 1);
        Assert.Equal("NotSupportedException: no measurements here", rule.Observe(measurement));
        Assert.Equal(1, rule.Errors);
        Assert.Equal("Observe: NotSupportedException: no measurements here", rule.LastError);
    }

    [Fact]
    public void Out_of_range_answers_are_errors_and_Keep_is_not()
    {
        var policy = new ScriptedPolicy { Choice = 7 };
        RulePolicy rule = Wrap(policy);
        Assert.Equal(RulePolicy.KeepCurrent, rule.Choose(Packet, 0, 1));
        Assert.Equal(1, rule.Errors);
        Assert.Equal("chose stack 7; the rule has 2", rule.LastError);

        policy.Choice = PolicyChoice.Keep;
        Assert.Equal(RulePolicy.KeepCurrent, rule.Choose(Packet, 0, 2));
        Assert.Equal(1, rule.Errors);
    }

    [Fact]
    public void Forcing_overrides_the_policy_until_it_is_replaced_and_every_change_is_a_new_epoch()
    {
        var first = new ScriptedPolicy { Choice = 0 };
        RulePolicy rule = Wrap(first);
        long epoch = rule.Epoch;

        rule.Force(1);
        Assert.Equal(1, rule.Choose(Packet, 0, 1));
        Assert.Equal(0, first.Calls);
        Assert.Equal(epoch + 1, rule.Epoch);

        var second = new ScriptedPolicy { Choice = 0 };
        PolicyBinding old = rule.Replace(new PolicyBinding("Second", new Dictionary<string, string>(), second, 5, 0, DateTimeOffset.UtcNow));
        Assert.Same(first, old.Policy);
        Assert.Equal(-1, rule.Binding.Forced);
        Assert.Equal(epoch + 2, rule.Epoch);
        Assert.Equal(0, rule.Choose(Packet, 0, 2));
        Assert.Equal(1, second.Calls);
        Assert.Equal("Second", rule.Name);
    }

    private sealed class ThrowingObserver : IDecisionPolicy
    {
        public string? Status => throw new InvalidOperationException("no status either");

        public int Choose(in PacketInfo packet, in FlowContext flow) => 0;

        public void Observe(in Contracts.Measurements.Measurement measurement) => throw new NotSupportedException("no measurements here");
    }
}
