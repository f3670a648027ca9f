namespace VirtualStack.Host.Multipath;

/// <summary>
/// Whether one path of one flow may carry packets, decided from what the pipeline sees (link state, the stack flow,
/// sends) and what the receive thread sees (replies). Pure bookkeeping with the clock passed in (milliseconds), so
/// the rules are unit-tested without a network:
/// <list type="bullet">
/// <item>an up path goes down when its link is down, when its stack flow is not ready (faulted, being rebuilt), or
/// when it got no reply for <c>downAfterMs</c> since the first packet sent after its last reply while another path
/// did get replies in that time (a silent path while the far end answers elsewhere: the path, not the far end, is
/// broken);</item>
/// <item>an up path goes down at once when every send of a check interval failed after the stack had queued it
/// (<see cref="OnSends"/>: the kernel refused the datagrams, e.g. ENETUNREACH when the route vanished with
/// <c>ip link set down</c> before the link monitor's next poll, or <c>ip route del</c> on a link that stays up);</item>
/// <item>a down path comes back when its link is up and its stack flow ready, its sends no longer fail, and, if it
/// went down for silence or other paths answer, once a reply arrived on it after it went down (the probes sent on it
/// ask for one).</item>
/// </list>
/// </summary>
/// <remarks>
/// <see cref="Evaluate"/> and <see cref="OnSend"/> run on the pipeline thread; <see cref="OnReply"/> on a stack's
/// receive thread (one volatile write).
/// </remarks>
internal sealed class PathHealth
{
    private long _lastReply = long.MinValue;

    /// <summary>True while the path carries packets.</summary>
    public bool Up { get; private set; }

    /// <summary>Why the path is down (null while up).</summary>
    public string? Reason { get; private set; } = "not built yet";

    /// <summary>When the path last went down (or was created), in milliseconds.</summary>
    public long DownSince { get; private set; } = long.MinValue;

    /// <summary>When the path last came up.</summary>
    public long UpSince { get; private set; }

    /// <summary>The first packet sent after the last reply (0: none since).</summary>
    public long UnansweredSince { get; private set; }

    /// <summary>Times the path went down after having been up.</summary>
    public long Downs { get; private set; }

    /// <summary>Times the path came back after having been down.</summary>
    public long Recoveries { get; private set; }

    /// <summary>True once the path was up at least once (its first coming up is not a recovery).</summary>
    public bool EverUp { get; private set; }

    /// <summary>True when the path went down because it got no replies.</summary>
    public bool Silent { get; private set; }

    /// <summary>
    /// True from a check interval in which sends on the path failed and none got through until one in which sends got
    /// through and none failed (a probe, once the path is out).
    /// </summary>
    public bool SendsFail { get; private set; }

    /// <summary>Sends the kernel refused after the stack had queued them, over the path's life.</summary>
    public long SendFailures { get; private set; }

    public long LastReply => Volatile.Read(ref _lastReply);

    /// <summary>A reply arrived on the path at <paramref name="now"/>. Receive thread.</summary>
    public void OnReply(long now) => Volatile.Write(ref _lastReply, now);

    /// <summary>A packet went out on the path at <paramref name="now"/>.</summary>
    public void OnSend(long now)
    {
        if (UnansweredSince == 0 || LastReply >= UnansweredSince)
        {
            UnansweredSince = now;
        }
    }

    /// <summary>
    /// What the path's stack flow did with the sends of the last check interval: <paramref name="sent"/> went out,
    /// <paramref name="failed"/> were refused after <see cref="Contracts.Stacks.IStackFlow.Send"/> had accepted them
    /// (counted when the stack flushed). Only a clean verdict changes <see cref="SendsFail"/>: a full socket buffer
    /// refuses the tail of a batch whose head went out, a vanished route refuses everything.
    /// </summary>
    public void OnSends(long sent, long failed)
    {
        SendFailures += failed;
        if (failed > 0 && sent == 0)
        {
            SendsFail = true;
        }
        else if (sent > 0 && failed == 0)
        {
            SendsFail = false;
        }
    }

    /// <summary>True when the path answered within <paramref name="windowMs"/> before <paramref name="now"/>.</summary>
    public bool Answering(long now, long windowMs)
    {
        long last = LastReply;
        return last != long.MinValue && now - last < windowMs;
    }

    /// <summary>
    /// Re-decides the state. <paramref name="problem"/> is why the stack flow is not ready (null when it is).
    /// Returns true when <see cref="Up"/> changed.
    /// </summary>
    public bool Evaluate(long now, bool linkUp, string? problem, bool othersAnswer, long downAfterMs)
    {
        long lastReply = LastReply;
        if (Up)
        {
            string? reason = !linkUp ? "link down"
                : problem is not null ? problem
                : SendsFail ? "sends fail (refused by the kernel: no route?)"
                : othersAnswer && UnansweredSince != 0 && lastReply < UnansweredSince && now - UnansweredSince >= downAfterMs
                    ? $"no reply for {now - UnansweredSince} ms while other paths answer"
                    : null;
            if (reason is null)
            {
                return false;
            }

            Up = false;
            Silent = linkUp && problem is null && !SendsFail;
            Reason = reason;
            DownSince = now;
            Downs++;
            return true;
        }

        if (!linkUp || problem is not null || SendsFail)
        {
            Reason = !linkUp ? "link down" : problem ?? "sends fail (refused by the kernel: no route?)";
            return false;
        }

        if ((Silent || othersAnswer) && lastReply <= DownSince)
        {
            Reason = Silent ? Reason : "waiting for a reply to a probe";
            return false;
        }

        Up = true;
        Silent = false;
        Reason = null;
        UpSince = now;
        UnansweredSince = 0;
        if (EverUp)
        {
            Recoveries++;
        }

        EverUp = true;
        return true;
    }
}
