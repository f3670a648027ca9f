namespace VirtualStack.Host.Remote;

/// <summary>Why a remote message was refused. Every refusal is counted under one of these (vs status, metrics).</summary>
internal enum Refusal
{
    /// <summary>Not one JSON line of the envelope's shape (or a field of the wrong type or size).</summary>
    Malformed,
    /// <summary>Longer than the limit of one message.</summary>
    TooLarge,
    /// <summary>The MAC does not verify: a wrong key, or the message was changed on the way.</summary>
    BadMac,
    /// <summary>The timestamp is further from this host's clock than MaxSkew.</summary>
    Stale,
    /// <summary>The nonce was already used by an accepted message (a replay).</summary>
    Replayed,
    /// <summary>Too many nonces are in the replay window to remember one more (a flood).</summary>
    Busy,
    /// <summary>Too many connections at once.</summary>
    TooManyConnections,
}
