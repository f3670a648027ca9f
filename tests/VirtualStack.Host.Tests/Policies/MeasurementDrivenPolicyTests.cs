using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Policies;

namespace VirtualStack.Host.Tests.Policies;

/// <summary>MeasurementDriven: thresholds, recovery thresholds and hold time (hysteresis), per-flow measurements.</summary>
public sealed class MeasurementDrivenPolicyTests(PolicyPlugins plugins) : IClassFixture<PolicyPlugins>
{
    private static readonly string[] Stacks = ["udpA", "udpB"];

    private readonly TestPolicyHost _host = new();

    private IDecisionPolicy Create(params (string Key, string Value)[] options) => plugins.Create("MeasurementDriven", Stacks, _host, options);

    private static int Choose(IDecisionPolicy policy, ushort sourcePort = 40000) =>
        policy.Choose(PolicyPlugins.Packet(sourcePort: sourcePort), new FlowContext(0, 0, 2));

    private static Measurement Loss(int stack, double loss, long at, MeasurementSource source = MeasurementSource.Controller) =>
        new(stack, Stacks[stack], source, new MeasurementValues(LossRatio: loss), at);

    [Fact]
    public void Loss_over_the_threshold_moves_flows_and_only_recovery_past_the_lower_threshold_after_the_hold_time_brings_them_back()
    {
        IDecisionPolicy policy = Create(("MaxLoss", "0.05"), ("RecoverLoss", "0.01"), ("HoldTime", "00:00:02"));
        Assert.Equal(0, Choose(policy));

        policy.Observe(Loss(0, 0.04, 1000));
        Assert.Equal(0, Choose(policy));

        policy.Observe(Loss(0, 0.08, 2000));
        Assert.Equal(1, Choose(policy));

        // Noise between the two thresholds is not a recovery.
        policy.Observe(Loss(0, 0.03, 5000));
        Assert.Equal(1, Choose(policy));

        // Good values, but too soon after going bad (hold time 2 s from t=2000).
        policy.Observe(Loss(0, 0.0, 3000));
        Assert.Equal(1, Choose(policy));

        policy.Observe(Loss(0, 0.005, 4000));
        Assert.Equal(0, Choose(policy));
        Assert.Contains(_host.Lines, l => l.Contains("udpA bad: loss 0.08 > 0.05", StringComparison.Ordinal));
        Assert.Contains(_host.Lines, l => l.Contains("udpA good again", StringComparison.Ordinal));
    }

    [Fact]
    public void Values_hovering_at_one_threshold_do_not_flap()
    {
        IDecisionPolicy policy = Create(("MaxRttMs", "100"), ("HoldTime", "00:00:00.001"));
        var seen = new List<int>();
        for (int i = 0; i < 100; i++)
        {
            double rtt = i % 2 == 0 ? 101 : 99;
            policy.Observe(new Measurement(0, "udpA", MeasurementSource.Stack, new MeasurementValues(RttMs: rtt), 1000 + (i * 100L)));
            seen.Add(Choose(policy));
        }

        // Bad at the first value over 100; 99 is not under the default recovery threshold (80 % of it).
        Assert.All(seen, s => Assert.Equal(1, s));
    }

    [Fact]
    public void When_every_stack_is_bad_flows_stay_where_they_are()
    {
        IDecisionPolicy policy = Create(("MaxLoss", "0.1"));
        policy.Observe(Loss(0, 0.5, 1000));
        Assert.Equal(1, Choose(policy));
        policy.Observe(Loss(1, 0.5, 1100));
        Assert.Equal(1, Choose(policy));
        Assert.Contains("udpA bad (loss 0.5 > 0.1), udpB bad", policy.Status, StringComparison.Ordinal);
    }

    [Fact]
    public void A_measurement_about_one_flow_moves_that_flow_only()
    {
        IDecisionPolicy policy = Create(("MinCwnd", "4"));
        FlowKey flow = PolicyPlugins.Packet(sourcePort: 5001).Flow;
        policy.Observe(new Measurement(0, "udpA", MeasurementSource.Stack, new MeasurementValues(CongestionWindow: 2), 1000, flow, 7));
        Assert.Equal(1, Choose(policy, 5001));
        Assert.Equal(0, Choose(policy, 5002));
        Assert.Contains(_host.Lines, l => l.StartsWith("flow 7: udpA bad: cwnd 2 < 4", StringComparison.Ordinal));
    }

    [Fact]
    public void The_hosts_own_throughput_samples_are_not_a_quality_signal_but_a_controllers_are()
    {
        IDecisionPolicy policy = Create(("MinThroughputMbps", "10"));
        var low = new MeasurementValues(ThroughputBitsPerSecond: 1e6);
        policy.Observe(new Measurement(0, "udpA", MeasurementSource.Stack, low, 1000));
        Assert.Equal(0, Choose(policy));
        policy.Observe(new Measurement(0, "udpA", MeasurementSource.Controller, low, 1100));
        Assert.Equal(1, Choose(policy));
    }

    [Theory]
    [InlineData(new string[0], "MaxLoss: no threshold set")]
    [InlineData(new[] { "MaxLoss", "1.5" }, "MaxLoss: '1.5' is not a number from 0 to 1")]
    [InlineData(new[] { "MaxLoss", "0.05", "RecoverLoss", "0.1" }, "RecoverLoss: 0.1 is on the bad side of its threshold 0.05")]
    [InlineData(new[] { "MaxRttMs", "50", "RecoverLoss", "0.1" }, "RecoverLoss: a recovery threshold without its threshold (MaxLoss)")]
    [InlineData(new[] { "MaxLoss", "0.05", "HoldTime", "later" }, "HoldTime: 'later' is not a positive time span")]
    [InlineData(new[] { "MaxLos", "0.05" }, "MaxLos: unknown option")]
    public void Bad_options_are_refused_naming_the_key(string[] pairs, string message)
    {
        var options = pairs.Chunk(2).Select(p => (p[0], p[1])).ToArray();
        string? problem = plugins.Validate("MeasurementDriven", Stacks, options);
        Assert.NotNull(problem);
        Assert.StartsWith(message, problem, StringComparison.Ordinal);
    }
}
