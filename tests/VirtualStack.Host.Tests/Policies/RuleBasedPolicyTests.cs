using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;

namespace VirtualStack.Host.Tests.Policies;

/// <summary>RuleBased: each field of a condition, their order, the default, time of day, and what it refuses.</summary>
public sealed class RuleBasedPolicyTests(PolicyPlugins plugins) : IClassFixture<PolicyPlugins>
{
    private static readonly string[] Stacks = ["udpA", "udpB", "raw"];
    private static readonly FlowContext Flow = new(0, 1000, 3);

    private int Choose(PacketInfo packet, params (string Key, string Value)[] options) =>
        plugins.Create("RuleBased", Stacks, new TestPolicyHost(), options).Choose(packet, Flow);

    [Fact]
    public void Each_field_matches_on_its_own()
    {
        Assert.Equal(1, Choose(PolicyPlugins.Packet(protocol: IpProtocols.Udp), ("When:0:Stack", "udpB"), ("When:0:Protocol", "udp"), ("Default", "udpA")));
        Assert.Equal(0, Choose(PolicyPlugins.Packet(protocol: IpProtocols.Tcp), ("When:0:Stack", "udpB"), ("When:0:Protocol", "udp"), ("Default", "udpA")));

        (string, string)[] source = [("When:0:Stack", "udpB"), ("When:0:Source", "10.200.0.0/24"), ("Default", "udpA")];
        Assert.Equal(1, Choose(PolicyPlugins.Packet(source: "10.200.0.77"), source));
        Assert.Equal(0, Choose(PolicyPlugins.Packet(source: "10.200.1.77"), source));

        (string, string)[] destination = [("When:0:Stack", "udpB"), ("When:0:Destination", "10.201.0.2"), ("Default", "udpA")];
        Assert.Equal(1, Choose(PolicyPlugins.Packet(destination: "10.201.0.2"), destination));
        Assert.Equal(0, Choose(PolicyPlugins.Packet(destination: "10.201.0.3"), destination));

        (string, string)[] ports = [("When:0:Stack", "udpB"), ("When:0:SourcePort", "5000-5999"), ("When:0:DestinationPort", "9000"), ("Default", "udpA")];
        Assert.Equal(1, Choose(PolicyPlugins.Packet(sourcePort: 5000, destinationPort: 9000), ports));
        Assert.Equal(1, Choose(PolicyPlugins.Packet(sourcePort: 5999, destinationPort: 9000), ports));
        Assert.Equal(0, Choose(PolicyPlugins.Packet(sourcePort: 6000, destinationPort: 9000), ports));
        Assert.Equal(0, Choose(PolicyPlugins.Packet(sourcePort: 5000, destinationPort: 9001), ports));

        (string, string)[] size = [("When:0:Stack", "udpB"), ("When:0:MinSize", "100"), ("When:0:MaxSize", "200"), ("Default", "udpA")];
        Assert.Equal(1, Choose(PolicyPlugins.Packet(length: 100), size));
        Assert.Equal(1, Choose(PolicyPlugins.Packet(length: 200), size));
        Assert.Equal(0, Choose(PolicyPlugins.Packet(length: 99), size));
        Assert.Equal(0, Choose(PolicyPlugins.Packet(length: 1500), size));

        (string, string)[] dscp = [("When:0:Stack", "udpB"), ("When:0:Dscp", "46"), ("Default", "udpA")];
        Assert.Equal(1, Choose(PolicyPlugins.Packet(dscp: 46), dscp));
        Assert.Equal(0, Choose(PolicyPlugins.Packet(dscp: 0), dscp));
    }

    [Fact]
    public void The_first_matching_condition_wins_and_no_match_keeps_the_flow_where_it_is()
    {
        (string, string)[] options =
        [
            ("When:0:Stack", "raw"), ("When:0:Dscp", "40-47"),
            ("When:1:Stack", "udpB"), ("When:1:MaxSize", "576"),
        ];
        Assert.Equal(2, Choose(PolicyPlugins.Packet(dscp: 46, length: 100), options));
        Assert.Equal(1, Choose(PolicyPlugins.Packet(dscp: 0, length: 100), options));
        Assert.Equal(PolicyChoice.Keep, Choose(PolicyPlugins.Packet(dscp: 0, length: 1500), options));
    }

    [Fact]
    public void Time_of_day_windows_follow_the_clock_including_past_midnight()
    {
        var time = new ManualTime(new DateTimeOffset(2025, 1, 1, 12, 0, 0, TimeSpan.Zero));
        IDecisionPolicy policy = plugins.Create("RuleBased", Stacks, new TestPolicyHost(time),
            ("When:0:Stack", "udpB"), ("When:0:Time", "22:00-06:00"), ("When:1:Stack", "raw"), ("When:1:Time", "08:00-18:00"), ("Default", "udpA"));
        PacketInfo packet = PolicyPlugins.Packet();
        long now = 1_000_000;

        int At(int hour, int minute)
        {
            time.Now = new DateTimeOffset(2025, 1, 1, hour, minute, 0, TimeSpan.Zero);
            // The windows are re-read at most once a second of the pipeline's clock.
            now += 1000;
            return policy.Choose(packet, new FlowContext(0, now, 3));
        }

        Assert.Equal(2, At(12, 0));
        Assert.Equal(2, At(8, 0));
        Assert.Equal(0, At(18, 0));
        Assert.Equal(0, At(21, 59));
        Assert.Equal(1, At(22, 0));
        Assert.Equal(1, At(3, 30));
        Assert.Equal(0, At(6, 0));
    }

    [Fact]
    public void The_sending_process_uid_and_cgroup_match_when_the_host_knows_the_sender()
    {
        var root = new FlowSender(0, 10, ["/", "/process_api/x"]);
        var nobody = new FlowSender(65534, 11, ["/vs-test/app", "/"]);
        IDecisionPolicy byUid = plugins.Create("RuleBased", Stacks, new TestPolicyHost(), ("When:0:Stack", "udpB"), ("When:0:Uid", "65534"), ("Default", "udpA"));
        Assert.Equal(SenderDetails.Uid, Assert.IsAssignableFrom<ISenderAwarePolicy>(byUid).SenderDetails);
        Assert.Equal(1, byUid.Choose(PolicyPlugins.Packet(), new FlowContext(0, 1, 3, 7, 0, nobody)));
        Assert.Equal(0, byUid.Choose(PolicyPlugins.Packet(), new FlowContext(0, 1, 3, 7, 0, root)));
        // Where the kernel does not tell (no socket found), a sender condition does not match.
        Assert.Equal(0, byUid.Choose(PolicyPlugins.Packet(), new FlowContext(0, 1, 3, 7, 0, null)));

        IDecisionPolicy byRange = plugins.Create("RuleBased", Stacks, new TestPolicyHost(), ("When:0:Stack", "raw"), ("When:0:Uid", "1000-65534"));
        Assert.Equal(2, byRange.Choose(PolicyPlugins.Packet(), new FlowContext(0, 1, 3, 7, 1, nobody)));
        Assert.Equal(PolicyChoice.Keep, byRange.Choose(PolicyPlugins.Packet(), new FlowContext(0, 1, 3, 7, 1, root)));

        IDecisionPolicy byName = plugins.Create("RuleBased", Stacks, new TestPolicyHost(), ("When:0:Stack", "udpB"), ("When:0:Uid", "root"), ("Default", "udpA"));
        Assert.Equal(1, byName.Choose(PolicyPlugins.Packet(), new FlowContext(0, 1, 3, 7, 0, root)));

        IDecisionPolicy byCgroup = plugins.Create("RuleBased", Stacks, new TestPolicyHost(), ("When:0:Stack", "udpB"), ("When:0:Cgroup", "/vs-test"), ("Default", "udpA"));
        Assert.Equal(SenderDetails.Uid | SenderDetails.Cgroup, ((ISenderAwarePolicy)byCgroup).SenderDetails);
        Assert.Equal(1, byCgroup.Choose(PolicyPlugins.Packet(), new FlowContext(0, 1, 3, 7, 0, nobody)));
        Assert.Equal(0, byCgroup.Choose(PolicyPlugins.Packet(), new FlowContext(0, 1, 3, 7, 0, root)));
        Assert.False(new FlowSender(0, 1, ["/vs-testing"]).InCgroup("/vs-test"));
        Assert.True(new FlowSender(0, 1, ["/vs-test"]).InCgroup("/vs-test/"));

        // A policy without sender conditions costs no lookup.
        IDecisionPolicy plain = plugins.Create("RuleBased", Stacks, new TestPolicyHost(), ("When:0:Stack", "udpB"), ("When:0:Dscp", "46"));
        Assert.Equal(SenderDetails.None, ((ISenderAwarePolicy)plain).SenderDetails);
    }

    [Theory]
    [InlineData("Uid", "nosuchuser-here", "When:0:Uid: 'nosuchuser-here' is not a uid, a range like 1000-1999, or a user of this machine")]
    [InlineData("Uid", "9-3", "When:0:Uid: '9-3': the range is empty")]
    [InlineData("Cgroup", "vs-test", "When:0:Cgroup: 'vs-test' is not a control group path")]
    [InlineData("Process", "1", "When:0:Process: unknown field")]
    public void Bad_sender_fields_are_refused_naming_the_key(string key, string value, string message)
    {
        string? problem = plugins.Validate("RuleBased", Stacks, ("When:0:Stack", "udpB"), ($"When:0:{key}", value));
        Assert.NotNull(problem);
        Assert.StartsWith(message, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("When:0:Stack", "udpC", "When:0:Stack: 'udpC' is not one of the rule's stacks")]
    [InlineData("When:0:SourcePort", "9-3", "When:0:SourcePort: '9-3' is not a number or a range")]
    [InlineData("When:0:Dscp", "64", "When:0:Dscp: '64' is not a number or a range like 10-20 within 0-63")]
    [InlineData("When:0:Source", "10.300.0.0/24", "When:0:Source: '10.300.0.0/24' is not an address or prefix")]
    [InlineData("When:0:Protocol", "sctpish", "When:0:Protocol: 'sctpish' is not a protocol")]
    [InlineData("When:0:Time", "25:00-26:00", "When:0:Time: '25:00-26:00' is not a daily window")]
    [InlineData("When:0:Colour", "blue", "When:0:Colour: unknown field")]
    [InlineData("When:x:Stack", "udpA", "When:x:Stack: expected When:<n>:<field>")]
    [InlineData("Otherwise", "udpA", "Otherwise: unknown option (known: When, Default)")]
    public void Bad_options_are_refused_naming_the_key(string key, string value, string message)
    {
        var options = new List<(string, string)> { ("When:0:Stack", "udpB") };
        options.RemoveAll(o => o.Item1 == key);
        options.Add((key, value));
        string? problem = plugins.Validate("RuleBased", Stacks, [.. options]);
        Assert.NotNull(problem);
        Assert.StartsWith(message, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_condition_needs_a_stack_and_the_policy_needs_something_to_do()
    {
        Assert.StartsWith("When:0:Stack: is missing", plugins.Validate("RuleBased", Stacks, ("When:0:Dscp", "46")), StringComparison.Ordinal);
        Assert.StartsWith("When: no condition and no Default", plugins.Validate("RuleBased", Stacks), StringComparison.Ordinal);
    }
}
