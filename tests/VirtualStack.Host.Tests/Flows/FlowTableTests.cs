using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Stacks;
using VirtualStack.Host.Tests.Infrastructure;

namespace VirtualStack.Host.Tests.Flows;

public sealed class FlowTableTests
{
    private static readonly StackRuntime Udp = new(0, "udp", "Test", new RecordingStack("udp"));
    private static readonly StackRuntime Raw = new(1, "raw", "Test", new RecordingStack("raw", Contracts.Stacks.StackCarries.Packet));

    private static FlowKey Key(int port) =>
        new(IpProtocols.Udp, NetAddress.Parse("10.200.0.1"), (ushort)port, NetAddress.Parse("10.201.0.2"), 7);

    [Fact]
    public void Evicts_the_least_recently_used_flow_when_full()
    {
        var manager = new FlowManager(TestRules.Single(Udp, Raw), FlowTimeouts.Default, maxFlows: 3, new RecordingReplyWriter());
        manager.GetOrCreate(Key(1), now: 0);
        manager.GetOrCreate(Key(2), now: 1);
        manager.GetOrCreate(Key(3), now: 2);
        manager.GetOrCreate(Key(1), now: 3); // 1 is used again: 2 is now the oldest

        manager.GetOrCreate(Key(4), now: 4);

        Assert.Equal(3, manager.Table.Count);
        Assert.False(manager.Table.TryGet(Key(2), out _));
        Assert.True(manager.Table.TryGet(Key(1), out _));
        Assert.Equal(1, manager.Table.Evicted);
        Assert.Equal(4, manager.Table.Created);
    }

    [Fact]
    public void Sweep_removes_only_flows_idle_past_their_timeout()
    {
        var timeouts = new FlowTimeouts(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(100), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        var manager = new FlowManager(TestRules.Single(Udp, Raw), timeouts, 100, new RecordingReplyWriter());
        var tcp = new FlowKey(IpProtocols.Tcp, NetAddress.Parse("10.200.0.1"), 1, NetAddress.Parse("10.201.0.2"), 80);
        manager.GetOrCreate(Key(1), now: 0);
        manager.GetOrCreate(tcp, now: 0);
        manager.GetOrCreate(Key(2), now: 8_000);

        int removed = manager.Sweep(now: 12_000);

        Assert.Equal(1, removed);
        Assert.False(manager.Table.TryGet(Key(1), out _));
        Assert.True(manager.Table.TryGet(tcp, out _)); // 12 s idle, TCP timeout is 100 s
        Assert.True(manager.Table.TryGet(Key(2), out _));
        Assert.Equal(1, manager.Table.TimedOut);
    }

    [Fact]
    public void A_flow_finds_its_rule_once_and_keeps_its_engine()
    {
        var manager = new FlowManager(TestRules.Single(Udp, Raw), FlowTimeouts.Default, 10, new RecordingReplyWriter());
        FlowEntry first = manager.GetOrCreate(Key(9), now: 0);
        FlowEntry again = manager.GetOrCreate(Key(9), now: 5);
        FlowEntry tcp = manager.GetOrCreate(new FlowKey(IpProtocols.Tcp, NetAddress.Parse("10.200.0.1"), 1, NetAddress.Parse("10.201.0.2"), 80), now: 5);

        Assert.Same(first, again);
        Assert.Same(first.Engine, again.Engine);
        Assert.Equal("test", first.Rule.Name);
        Assert.Equal("default", tcp.Rule.Name);
        Assert.Equal(5, first.LastSeen);
    }
}
