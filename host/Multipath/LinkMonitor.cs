using System.Collections.Concurrent;

namespace VirtualStack.Host.Multipath;

/// <summary>The link state of one egress interface, as the <see cref="LinkMonitor"/> last read it.</summary>
internal sealed class LinkState(string device)
{
    private volatile bool _up = true;

    public string Device { get; } = device;

    public bool Up
    {
        get => _up;
        set => _up = value;
    }

    /// <summary>The operstate text last read (for vs flows).</summary>
    public volatile string State = "unknown";
}

/// <summary>
/// Watches the operstate of the paths' egress interfaces (<c>/sys/class/net/DEV/operstate</c>, which belongs to the
/// network namespace VS runs in) every <see cref="PeriodMs"/> ms on a timer thread, so a link that goes down takes its
/// paths out within that period plus one check of the flow (10 ms). The packet path only reads a volatile flag.
/// </summary>
internal sealed class LinkMonitor : IDisposable
{
    public const int PeriodMs = 50;

    private readonly ConcurrentDictionary<string, LinkState> _links = new(StringComparer.Ordinal);
    private readonly Action<string> _log;
    private readonly Timer _timer;
    private int _polling;

    public LinkMonitor(Action<string> log)
    {
        _log = log;
        _timer = new Timer(_ => Poll(), null, PeriodMs, PeriodMs);
    }

    /// <summary>The state of <paramref name="device"/>, read once now and then every period.</summary>
    public LinkState Watch(string device)
    {
        LinkState link = _links.GetOrAdd(device, d => new LinkState(d));
        Read(link, logChange: false);
        if (!link.Up)
        {
            _log($"multipath: interface {device} is {link.State}: its paths stay out until it is up");
        }

        return link;
    }

    public void Dispose() => _timer.Dispose();

    private void Poll()
    {
        if (Interlocked.Exchange(ref _polling, 1) != 0)
        {
            return;
        }

        try
        {
            foreach (LinkState link in _links.Values)
            {
                Read(link, logChange: true);
            }
        }
        finally
        {
            Volatile.Write(ref _polling, 0);
        }
    }

    private void Read(LinkState link, bool logChange)
    {
        string state;
        try
        {
            state = File.ReadAllText($"/sys/class/net/{link.Device}/operstate").Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            state = "absent";
        }

        // "unknown" is what devices without carrier reporting (tun, lo) say while they work.
        bool up = state is "up" or "unknown";
        link.State = state;
        if (up != link.Up)
        {
            link.Up = up;
            if (logChange)
            {
                _log($"multipath: interface {link.Device} is {state}");
            }
        }
    }
}
