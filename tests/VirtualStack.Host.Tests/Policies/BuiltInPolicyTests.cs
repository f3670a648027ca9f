using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;

namespace VirtualStack.Host.Tests.Policies;

/// <summary>Static and TimedSwitch from the Policies plugin, and what the plugin registers.</summary>
public sealed class BuiltInPolicyTests(PolicyPlugins plugins) : IClassFixture<PolicyPlugins>
{
    private static readonly string[] Two = ["udpA", "udpB"];

    [Fact]
    public void The_plugin_provides_the_four_policies_and_says_so()
    {
        Assert.Empty(plugins.Catalog.Failures);
        foreach (string name in new[] { "Static", "TimedSwitch", "RuleBased", "MeasurementDriven" })
        {
            Assert.NotNull(plugins.Catalog.FindPolicy(name));
            Assert.NotNull(plugins.Catalog.FindPolicy(name.ToUpperInvariant()));
        }

        var plugin = Assert.Single(plugins.Catalog.Plugins);
        Assert.Equal("Policies", plugin.Name);
        Assert.Contains(plugin.Provides, p => p.StartsWith("policy TimedSwitch: ", StringComparison.Ordinal));
        // Type identity across the load context: the plugin's factory is the host's IPolicyFactory.
        Assert.NotEqual(typeof(PolicyPlugins).Assembly, plugins.Factory("Static").GetType().Assembly);
    }

    [Fact]
    public void Static_takes_the_first_stack_or_the_one_named()
    {
        var host = new TestPolicyHost();
        PacketInfo packet = PolicyPlugins.Packet();
        var flow = new FlowContext(0, 12345, 2);
        Assert.Equal(0, plugins.Create("Static", Two, host).Choose(packet, flow));
        Assert.Equal(1, plugins.Create("Static", Two, host, ("Stack", "UDPB")).Choose(packet, flow));
    }

    [Fact]
    public void Static_refuses_an_unknown_stack_or_option()
    {
        Assert.Contains("'udpC' is not one of the rule's stacks (udpA, udpB)", plugins.Validate("Static", Two, ("Stack", "udpC")), StringComparison.Ordinal);
        Assert.StartsWith("Stak: unknown option", plugins.Validate("Static", Two, ("Stak", "udpB")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(199, 0)]
    [InlineData(200, 1)]
    [InlineData(399, 1)]
    [InlineData(400, 0)]
    [InlineData(10_000, 0)]
    [InlineData(10_200, 1)]
    public void TimedSwitch_alternates_every_period_from_the_flows_first_packet(long sinceStart, int expected)
    {
        IDecisionPolicy policy = plugins.Create("TimedSwitch", Two, new TestPolicyHost(), ("Period", "00:00:00.2"));
        const long Created = 1_000_000;
        Assert.Equal(expected, policy.Choose(PolicyPlugins.Packet(), new FlowContext(Created, Created + sinceStart, 2)));
    }

    [Fact]
    public void TimedSwitch_cycles_through_three_stacks()
    {
        IDecisionPolicy policy = plugins.Create("TimedSwitch", ["a", "b", "c"], new TestPolicyHost(), ("Period", "00:00:01"));
        int[] seen = Enumerable.Range(0, 7).Select(s => policy.Choose(PolicyPlugins.Packet(), new FlowContext(0, s * 1000L, 3))).ToArray();
        Assert.Equal([0, 1, 2, 0, 1, 2, 0], seen);
    }

    [Theory]
    [InlineData(null, "Period: is missing")]
    [InlineData("soon", "Period: 'soon' is not a positive time span")]
    [InlineData("-00:00:01", "Period: '-00:00:01' is not a positive time span")]
    [InlineData("00:00:00", "Period: '00:00:00' is not a positive time span")]
    public void TimedSwitch_needs_a_positive_period(string? period, string message)
    {
        string? problem = period is null ? plugins.Validate("TimedSwitch", Two) : plugins.Validate("TimedSwitch", Two, ("Period", period));
        Assert.NotNull(problem);
        Assert.StartsWith(message, problem, StringComparison.Ordinal);
    }
}
