using VirtualStack.Contracts.Flows;

namespace VirtualStack.Host.Flows;

/// <summary>
/// The flows of one shard, keyed by flow id, in least-recently-used order. Only the shard thread touches it, so it
/// needs no lock; readers on other threads (management) go through <see cref="Snapshot"/> on that thread.
/// </summary>
internal sealed class FlowTable
{
    private readonly Dictionary<FlowKey, FlowEntry> _flows;
    private FlowEntry? _newest;
    private FlowEntry? _oldest;

    public FlowTable(int maxFlows)
    {
        MaxFlows = maxFlows;
        _flows = new Dictionary<FlowKey, FlowEntry>(Math.Min(maxFlows, 4096));
    }

    public int MaxFlows { get; }

    public int Count => _flows.Count;

    public long Created { get; private set; }

    public long Evicted { get; private set; }

    public long TimedOut { get; private set; }

    /// <summary>Raised (on the shard thread) when a flow leaves the table, after it was unlinked.</summary>
    public event Action<FlowEntry, FlowEndReason>? FlowEnded;

    public bool TryGet(in FlowKey key, out FlowEntry entry)
    {
        if (_flows.TryGetValue(key, out FlowEntry? found))
        {
            entry = found;
            return true;
        }

        entry = null!;
        return false;
    }

    /// <summary>Adds a new flow, evicting the least recently used one first when the table is full.</summary>
    public void Add(FlowEntry entry)
    {
        if (_flows.Count >= MaxFlows && _oldest is { } oldest)
        {
            Remove(oldest, FlowEndReason.Evicted);
            Evicted++;
        }

        _flows.Add(entry.Key, entry);
        LinkNewest(entry);
        Created++;
    }

    /// <summary>Marks the flow as just used.</summary>
    public void Touch(FlowEntry entry, long now)
    {
        entry.LastSeen = now;
        if (_newest == entry)
        {
            return;
        }

        Unlink(entry);
        LinkNewest(entry);
    }

    /// <summary>
    /// Removes flows idle for longer than their timeout. Walks from the least recently used end and stops at the
    /// first flow younger than the shortest timeout in use, so a sweep costs what it removes, not the table size.
    /// </summary>
    public int Sweep(long now, long shortestTimeoutMs)
    {
        int removed = 0;
        FlowEntry? entry = _oldest;
        while (entry is not null)
        {
            long idle = now - entry.LastSeen;
            if (idle < shortestTimeoutMs)
            {
                break;
            }

            FlowEntry? newer = entry.Newer;
            if (idle >= entry.IdleTimeoutMs)
            {
                Remove(entry, FlowEndReason.TimedOut);
                TimedOut++;
                removed++;
            }

            entry = newer;
        }

        return removed;
    }

    /// <summary>Removes every flow (shutdown).</summary>
    public void Clear()
    {
        while (_oldest is { } oldest)
        {
            Remove(oldest, FlowEndReason.Shutdown);
        }
    }

    public FlowEntry[] Snapshot()
    {
        var result = new FlowEntry[_flows.Count];
        int i = 0;
        for (FlowEntry? entry = _newest; entry is not null; entry = entry.Older)
        {
            result[i++] = entry;
        }

        return result;
    }

    public FlowEntry? FindById(long id)
    {
        for (FlowEntry? entry = _newest; entry is not null; entry = entry.Older)
        {
            if (entry.Id == id)
            {
                return entry;
            }
        }

        return null;
    }

    private void Remove(FlowEntry entry, FlowEndReason reason)
    {
        _flows.Remove(entry.Key);
        Unlink(entry);
        FlowEnded?.Invoke(entry, reason);
    }

    private void LinkNewest(FlowEntry entry)
    {
        entry.Older = _newest;
        entry.Newer = null;
        if (_newest is not null)
        {
            _newest.Newer = entry;
        }

        _newest = entry;
        _oldest ??= entry;
    }

    private void Unlink(FlowEntry entry)
    {
        if (entry.Newer is not null)
        {
            entry.Newer.Older = entry.Older;
        }
        else
        {
            _newest = entry.Older;
        }

        if (entry.Older is not null)
        {
            entry.Older.Newer = entry.Newer;
        }
        else
        {
            _oldest = entry.Newer;
        }

        entry.Newer = null;
        entry.Older = null;
    }
}

/// <summary>Why a flow left the table.</summary>
internal enum FlowEndReason
{
    TimedOut,
    Evicted,
    Shutdown,
}
