namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>Why a received packet was discarded, or what went wrong on the way out. Every drop is counted under one.</summary>
public enum DccpDropReason
{
    /// <summary>Shorter than its header (Step 1).</summary>
    Truncated,
    /// <summary>Reserved packet type 10-15 (§5.1).</summary>
    ReservedType,
    /// <summary>X=0 where 48-bit sequence numbers are required, or short sequence numbers not allowed (§7.6).</summary>
    ShortSequenceNumber,
    /// <summary>Data Offset out of range (Step 1).</summary>
    BadDataOffset,
    /// <summary>Checksum Coverage past the end of the packet, or below Minimum Checksum Coverage (§9.2).</summary>
    BadChecksumCoverage,
    /// <summary>Wrong checksum (§9.1).</summary>
    BadChecksum,
    /// <summary>Option list malformed or an option invalid (§5.8).</summary>
    BadOption,
    /// <summary>No connection and no listener for the port pair (Step 2/3); a Reset(No Connection) was sent unless it was a Reset.</summary>
    NoConnection,
    /// <summary>Arrived in TIMEWAIT (Step 2).</summary>
    TimeWait,
    /// <summary>Request with a Service Code the listener does not accept (§8.1.2).</summary>
    BadServiceCode,
    /// <summary>Request refused because the listener's half-open or accept queue is full.</summary>
    ListenerBusy,
    /// <summary>Sequence number outside the validity window (§7.5.3, Step 6).</summary>
    SequenceOutOfWindow,
    /// <summary>Acknowledgement number outside the validity window (§7.5.3, Step 6).</summary>
    AckOutOfWindow,
    /// <summary>A Reset that failed the window checks: a forged or stale Reset never changes state (§7.5.3).</summary>
    ResetOutOfWindow,
    /// <summary>Sync or SyncAck with an invalid acknowledgement number (Step 5).</summary>
    SyncInvalid,
    /// <summary>Packet type not expected in this state (Steps 4 and 7).</summary>
    UnexpectedType,
    /// <summary>Data packet already received (network duplicate).</summary>
    Duplicate,
    /// <summary>The receive queue was full: the application is not reading.</summary>
    ReceiveQueueFull,
    /// <summary>A Data Checksum option did not match the data (§9.3).</summary>
    BadDataChecksum,
    /// <summary>Syncs not sent because of the rate limit (§7.5.4).</summary>
    SyncRateLimited,
    /// <summary>Resets not sent because of the rate limit.</summary>
    ResetRateLimited,
}

/// <summary>Counters of <see cref="DccpDropReason"/>. Written under the owner's lock, read anywhere (torn reads harmless).</summary>
public sealed class DccpDropCounters
{
    private static readonly DccpDropReason[] Reasons = Enum.GetValues<DccpDropReason>();
    private readonly long[] _counts = new long[Reasons.Length];

    /// <summary>Counts one drop.</summary>
    public void Increment(DccpDropReason reason) => Interlocked.Increment(ref _counts[(int)reason]);

    /// <summary>How many drops of <paramref name="reason"/>.</summary>
    public long this[DccpDropReason reason] => Volatile.Read(ref _counts[(int)reason]);

    /// <summary>Sum over all reasons.</summary>
    public long Total
    {
        get
        {
            long total = 0;
            foreach (long count in _counts)
            {
                total += count;
            }

            return total;
        }
    }

    /// <summary>Non-zero counters as "reason=count" pairs (for logs and test messages; allocates).</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        foreach (DccpDropReason reason in Reasons)
        {
            long count = this[reason];
            if (count != 0)
            {
                parts.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{reason}={count}"));
            }
        }

        return string.Join(' ', parts);
    }
}
