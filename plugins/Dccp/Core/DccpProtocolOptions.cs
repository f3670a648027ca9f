namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>
/// Tunables of the protocol core. Defaults follow RFC 4340/4341 and the Linux implementation where the RFC leaves a
/// choice; tests shorten the timers.
/// </summary>
public sealed class DccpProtocolOptions
{
    /// <summary>First Request retransmission (§8.1.1: "about one second"), doubled each time up to 64 s.</summary>
    public TimeSpan RequestRetransmitTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a client keeps retransmitting Requests before giving up.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>First PARTOPEN Ack retransmission (§8.1.5: at least 200 ms), doubled each time.</summary>
    public TimeSpan PartOpenRetransmitTimeout { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Give up in PARTOPEN with Reset(Aborted) after this long (§8.1.5 suggests 8 minutes).</summary>
    public TimeSpan PartOpenTimeout { get; init; } = TimeSpan.FromMinutes(8);

    /// <summary>First Close/CloseReq retransmission, doubled each time (§8.3).</summary>
    public TimeSpan CloseRetransmitTimeout { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Give up waiting for the answer to Close/CloseReq after this long and drop the connection.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>TIMEWAIT length, 2 MSL (§8.3). RFC MSL is 2 minutes; Linux uses 60 s in all, as do we.</summary>
    public TimeSpan TimeWait { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A server connection still in RESPOND after this long is dropped (bounds half-open state in time).</summary>
    public TimeSpan RespondTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest an acknowledgement is delayed while fewer than Ack Ratio data packets arrived (RFC 4341 §6.1).</summary>
    public TimeSpan DelayedAckTimeout { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>CCID 2 minimum retransmission timeout (RFC 4341 §5 / RFC 6298; Linux uses 200 ms).</summary>
    public TimeSpan MinRto { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>CCID 2 RTO before any RTT sample.</summary>
    public TimeSpan InitialRto { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Our Sequence Window/local (§7.5.2) at connection start; CCID 2 raises it to 5 × cwnd as cwnd grows.</summary>
    public ulong SequenceWindow { get; init; } = 100;

    /// <summary>
    /// Datagrams queued for sending before Send blocks (or, in the stack, drops). 1024 rides out a peer that stops
    /// acknowledging for half a second at 2000 datagrams/s: 256 was overrun on a busy two-core CI machine, where the
    /// far side's process was not scheduled for ~130 ms. Slots hold their buffer once used, so memory follows the
    /// high-water mark, not this bound.
    /// </summary>
    public int SendQueueCapacity { get; init; } = 1024;

    /// <summary>Datagrams queued for the application before arriving data is dropped (and counted).</summary>
    public int ReceiveQueueCapacity { get; init; } = 4096;

    /// <summary>Largest CCID 2 congestion window in packets (also bounds the send history).</summary>
    public int MaxCongestionWindow { get; init; } = 1024;

    /// <summary>Syncs sent per second at most (§7.5.4 limits them to 8 per second).</summary>
    public int SyncsPerSecond { get; init; } = 8;

    /// <summary>Resets for unknown connections per second at most (answers to scans and floods).</summary>
    public int ResetsPerSecond { get; init; } = 100;

    /// <summary>Half-open (RESPOND) connections a listener holds at most; further Requests get Reset(Too Busy).</summary>
    public int MaxHalfOpen { get; init; } = 256;

    /// <summary>Connections opened but not yet accepted that a listener holds at most.</summary>
    public int AcceptBacklog { get; init; } = 128;

    /// <summary>
    /// An open connection whose peer answered nothing for this long while data was in flight is aborted ("peer not
    /// responding") instead of backing off for minutes: a tunnel (the Dccp stack) reconnects at once when the far
    /// end restarted. <see cref="TimeSpan.Zero"/> (the default) never gives up, as RFC 4340 does.
    /// </summary>
    public TimeSpan DeadPeerTimeout { get; init; }

    /// <summary>Shared defaults.</summary>
    public static DccpProtocolOptions Default { get; } = new();
}
