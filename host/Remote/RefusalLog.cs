using System.Globalization;
using System.Text;

namespace VirtualStack.Host.Remote;

/// <summary>
/// Counts refusals by reason and logs them without letting a flood of bad messages flood the log: the first refusal
/// of a period is logged with its sender and reason, the rest of that period as one summary line when it ends.
/// </summary>
internal sealed class RefusalLog(Action<string> log, long periodMs = 10_000)
{
    private readonly Lock _gate = new();
    private readonly long[] _total = new long[Enum.GetValues<Refusal>().Length];
    private readonly long[] _pending = new long[Enum.GetValues<Refusal>().Length];
    private long _lastLogged = long.MinValue;

    public long Total(Refusal reason) => Volatile.Read(ref _total[(int)reason]);

    public long All => _total.Sum();

    public void Refused(Refusal reason, string peer, long now)
    {
        Interlocked.Increment(ref _total[(int)reason]);
        lock (_gate)
        {
            if (_lastLogged != long.MinValue && now - _lastLogged < periodMs)
            {
                _pending[(int)reason]++;
                return;
            }

            _lastLogged = now;
        }

        log($"remote management: refused a message from {peer}: {Name(reason)} ({Explain(reason)})");
    }

    /// <summary>Logs the refusals held back during the period that ended (called once a second).</summary>
    public void Flush(long now)
    {
        string? line = null;
        lock (_gate)
        {
            if (_pending.All(p => p == 0) || now - _lastLogged < periodMs)
            {
                return;
            }

            var text = new StringBuilder();
            long count = 0;
            for (int i = 0; i < _pending.Length; i++)
            {
                if (_pending[i] > 0)
                {
                    text.Append(CultureInfo.InvariantCulture, $"{(text.Length > 0 ? ", " : "")}{Name((Refusal)i)} {_pending[i]}");
                    count += _pending[i];
                    _pending[i] = 0;
                }
            }

            _lastLogged = now;
            line = string.Create(CultureInfo.InvariantCulture, $"remote management: {count} more refusal(s) in the last {periodMs / 1000} s: {text}");
        }

        log(line);
    }

    /// <summary>The reason as status and the protocol name it: snake_case.</summary>
    public static string Name(Refusal reason) => reason switch
    {
        Refusal.Malformed => "malformed",
        Refusal.TooLarge => "too_large",
        Refusal.BadMac => "bad_mac",
        Refusal.Stale => "stale",
        Refusal.Replayed => "replayed",
        Refusal.Busy => "busy",
        Refusal.TooManyConnections => "too_many_connections",
        _ => reason.ToString().ToLowerInvariant(),
    };

    public static string Explain(Refusal reason) => reason switch
    {
        Refusal.Malformed => "not a message of the protocol: one JSON object per line with v, ts, nonce, body, mac",
        Refusal.TooLarge => "longer than 64 KiB",
        Refusal.BadMac => "the MAC does not verify: a wrong key, or the message was changed",
        Refusal.Stale => "the timestamp is too far from this host's clock",
        Refusal.Replayed => "the nonce was used before",
        Refusal.Busy => "too many messages in the replay window",
        Refusal.TooManyConnections => "too many connections at once",
        _ => "refused",
    };
}
