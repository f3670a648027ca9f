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

    // Send failures as a path-down signal (PathHealth.OnSends).
    [Fact]
    public void A_check_interval_in_which_every_send_failed_takes_the_path_out_at_once()
    {
        var health = Up();
        health.OnSends(sent: 0, failed: 3);
        Assert.True(health.Evaluate(1010, linkUp: true, null, othersAnswer: true, DownAfter));
        Assert.False(health.Up);
        Assert.False(health.Silent);
        Assert.StartsWith("sends fail", health.Reason, StringComparison.Ordinal);
        Assert.Equal(3, health.SendFailures);
    }

    [Fact]
    public void Failures_beside_sends_that_got_through_are_congestion_not_a_dead_path()
    {
        // A full socket buffer refuses the tail of a batch whose head went out.
        var health = Up();
        health.OnSends(sent: 40, failed: 24);
        Assert.False(health.Evaluate(1010, true, null, othersAnswer: true, DownAfter));
        Assert.True(health.Up);
        Assert.Equal(24, health.SendFailures);
    }

    [Fact]
    public void A_quiet_interval_keeps_the_verdict_of_the_last_one_that_sent()
    {
        var health = Up();
        health.OnSends(0, 2);
        health.OnSends(0, 0);
        Assert.True(health.SendsFail);
        health.OnSends(5, 0);
        Assert.False(health.SendsFail);
    }

    [Fact]
    public void Without_answers_elsewhere_the_path_comes_back_once_a_probe_is_sent_without_failure()
    {
        var health = Up();
        health.OnSends(0, 1);
        Assert.True(health.Evaluate(1010, true, null, othersAnswer: false, DownAfter));
        health.OnSends(0, 1);
        Assert.False(health.Evaluate(1110, true, null, othersAnswer: false, DownAfter));
        Assert.StartsWith("sends fail", health.Reason, StringComparison.Ordinal);
        health.OnSends(1, 0);
        Assert.True(health.Evaluate(1210, true, null, othersAnswer: false, DownAfter));
        Assert.Equal((1L, 1L), (health.Downs, health.Recoveries));
    }

    [Fact]
    public void While_another_path_answers_it_comes_back_only_with_a_reply_after_it_went_out()
    {
        var health = Up();
        health.OnSends(0, 1);
        Assert.True(health.Evaluate(1010, true, null, othersAnswer: true, DownAfter));
        health.OnSends(1, 0);
        Assert.False(health.Evaluate(1110, true, null, othersAnswer: true, DownAfter));
        health.OnReply(1115);
        Assert.True(health.Evaluate(1120, true, null, othersAnswer: true, DownAfter));
        Assert.True(health.Up);
    }

    [Fact]
    public void A_reply_does_not_bring_back_a_path_whose_sends_still_fail()
    {
        var health = Up();
        health.OnSends(0, 1);
        Assert.True(health.Evaluate(1010, true, null, othersAnswer: true, DownAfter));
        health.OnReply(1050); // late: sent before the route vanished
        health.OnSends(0, 1);
        Assert.False(health.Evaluate(1110, true, null, othersAnswer: true, DownAfter));
    }

    private static PathHealth Up()
    {
        var health = new PathHealth();
        health.Evaluate(900, true, null, false, DownAfter);
        return health;
    }
}
