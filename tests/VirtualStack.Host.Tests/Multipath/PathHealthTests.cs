using VirtualStack.Host.Multipath;

namespace VirtualStack.Host.Tests.Multipath;

public sealed class PathHealthTests
{
    private const long DownAfter = 300;

    [Fact]
    public void A_ready_path_with_its_link_up_comes_up_and_that_is_not_a_recovery()
    {
        var health = new PathHealth();
        Assert.True(health.Evaluate(1000, linkUp: true, problem: null, othersAnswer: false, DownAfter));
        Assert.True(health.Up);
        Assert.Equal(0, health.Recoveries);
    }

    [Fact]
    public void Link_down_takes_the_path_out_at_once_and_link_up_brings_it_back_when_no_path_answers()
    {
        var health = Up();
        Assert.True(health.Evaluate(2000, linkUp: false, null, othersAnswer: false, DownAfter));
        Assert.False(health.Up);
        Assert.Equal("link down", health.Reason);
        Assert.False(health.Evaluate(2010, linkUp: false, null, false, DownAfter));
        Assert.True(health.Evaluate(2500, linkUp: true, null, othersAnswer: false, DownAfter));
        Assert.Equal((1L, 1L), (health.Downs, health.Recoveries));
    }

    [Fact]
    public void A_path_that_stays_silent_while_another_answers_goes_down_after_the_window_only()
    {
        var health = Up();
        health.OnSend(1000);
        health.OnSend(1100);
        Assert.False(health.Evaluate(1299, true, null, othersAnswer: true, DownAfter));
        Assert.True(health.Evaluate(1300, true, null, othersAnswer: true, DownAfter));
        Assert.True(health.Silent);
        Assert.Contains("no reply for 300 ms", health.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Silence_is_not_failure_when_no_path_answers_one_way_traffic()
    {
        var health = Up();
        health.OnSend(1000);
        Assert.False(health.Evaluate(5000, true, null, othersAnswer: false, DownAfter));
        Assert.True(health.Up);
    }

    [Fact]
    public void A_reply_resets_the_silence_window()
    {
        var health = Up();
        health.OnSend(1000);
        health.OnReply(1250);
        health.OnSend(1260);
        Assert.False(health.Evaluate(1500, true, null, othersAnswer: true, DownAfter));
        Assert.True(health.Evaluate(1560, true, null, othersAnswer: true, DownAfter));
    }

    [Fact]
    public void A_silent_path_comes_back_only_with_a_reply_after_it_went_down()
    {
        var health = Up();
        health.OnSend(1000);
        Assert.True(health.Evaluate(1400, true, null, true, DownAfter));
        Assert.False(health.Evaluate(1500, true, null, othersAnswer: false, DownAfter));
        health.OnReply(1390);
        Assert.False(health.Evaluate(1600, true, null, true, DownAfter));
        health.OnReply(1650);
        Assert.True(health.Evaluate(1660, true, null, true, DownAfter));
        Assert.Equal(1, health.Recoveries);
    }

    [Fact]
    public void A_stack_fault_takes_the_path_out_with_the_stacks_reason()
    {
        var health = Up();
        Assert.True(health.Evaluate(2000, true, "DCCP reset", false, DownAfter));
        Assert.Equal("DCCP reset", health.Reason);
        Assert.True(health.Evaluate(2600, true, null, false, DownAfter));
    }

    private static PathHealth Up()
    {
        var health = new PathHealth();
        health.Evaluate(900, true, null, false, DownAfter);
        return health;
    }
}
