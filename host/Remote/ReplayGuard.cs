namespace VirtualStack.Host.Remote;

/// <summary>
/// Replay protection for authenticated messages: a message is fresh when its timestamp is within
/// <see cref="MaxSkew"/> of this host's clock, and new when no accepted message carried its nonce. A nonce is
/// remembered until its timestamp has left the window (<c>ts + MaxSkew</c>): after that the timestamp alone refuses a
/// replay, so memory stays bounded by the message rate times the window.
/// </summary>
internal sealed class ReplayGuard(TimeSpan maxSkew, int capacity = 100_000)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, long> _seen = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, long> _expiry = new();

    public TimeSpan MaxSkew { get; } = maxSkew;

    public int Remembered
    {
        get
        {
            lock (_gate)
            {
                return _seen.Count;
            }
        }
    }

    /// <summary>
    /// Accepts (and remembers the nonce) or says why not: <see cref="Refusal.Stale"/>, <see cref="Refusal.Replayed"/>
    /// or <see cref="Refusal.Busy"/>. Call only for messages whose MAC verified, or a forger could fill the memory.
    /// </summary>
    public Refusal? Check(long timestamp, string nonce, long now)
    {
        long skew = (long)MaxSkew.TotalMilliseconds;
        if (timestamp < now - skew || timestamp > now + skew)
        {
            return Refusal.Stale;
        }

        lock (_gate)
        {
            while (_expiry.TryPeek(out string? old, out long expires) && expires < now)
            {
                _expiry.Dequeue();
                _seen.Remove(old);
            }

            if (_seen.ContainsKey(nonce))
            {
                return Refusal.Replayed;
            }

            if (_seen.Count >= capacity)
            {
                return Refusal.Busy;
            }

            _seen[nonce] = timestamp + skew;
            _expiry.Enqueue(nonce, timestamp + skew);
            return null;
        }
    }
}
