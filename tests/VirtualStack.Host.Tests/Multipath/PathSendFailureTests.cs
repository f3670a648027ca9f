using VirtualStack.Host.Multipath;

namespace VirtualStack.Host.Tests.Multipath;

/// <summary>Send failures as a path-down signal (<see cref="PathHealth.OnSends"/>): the rules without a network.</summary>
public sealed class PathSendFailureTests
{
    private const long DownAfter = 300;

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
