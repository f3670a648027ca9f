using System.Net;
using System.Net.Sockets;

namespace VirtualStack.Host.Tools;

/// <summary>
/// One flow through <see cref="TagRelay"/>: its socket toward the unchanged server (the server's replies map back to
/// the flow by the socket they arrive on), its duplicate window (with --dedup), and the paths it arrives on - the
/// relay address it came to and the source it came from - so replies can go back on them. Everything but the
/// counters is used under <see cref="Gate"/>: several receive threads (one per relay address) and the flow's reply
/// thread touch it.
/// </summary>
internal sealed class RelayFlow(uint id, string name, Socket upstream, Multipath.DuplicateWindow? window) : IDisposable
{
    /// <summary>Paths remembered per flow: a new one beyond this replaces the one heard from longest ago.</summary>
    public const int MaxPaths = 8;

    private readonly Path[] _paths = new Path[MaxPaths];
    private int _pathCount;
    private int _disposed;

    public Lock Gate { get; } = new();

    /// <summary>The tag's flow id (0 without --dedup).</summary>
    public uint Id { get; } = id;

    /// <summary>How the flow is named in the log.</summary>
    public string Name { get; } = name;

    public Socket Upstream { get; } = upstream;

    public Multipath.DuplicateWindow? Window { get; } = window;

    /// <summary>When any path last brought a datagram (milliseconds; under the gate).</summary>
    public long LastSeenMs { get; private set; }

    /// <summary>The sequence of the last tagged reply (under the gate).</summary>
    public ulong ReplySequence { get; set; }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public long In;
    public long Delivered;

    public int PathCount => _pathCount;

    /// <summary>
    /// A datagram came to relay socket <paramref name="listenIndex"/> from <paramref name="from"/>: refreshes that path, or
    /// adds it (copying the address: the caller reuses its buffer). True when the path is new. Under the gate.
    /// </summary>
    public bool NotePath(int listenIndex, SocketAddress from, long now)
    {
        LastSeenMs = now;
        int oldest = 0;
        for (int i = 0; i < _pathCount; i++)
        {
            Path path = _paths[i];
            if (path.ListenIndex == listenIndex && path.Source.Equals(from))
            {
                path.LastSeenMs = now;
                return false;
            }

            if (path.LastSeenMs < _paths[oldest].LastSeenMs)
            {
                oldest = i;
            }
        }

        var source = new SocketAddress(from.Family, from.Size);
        from.Buffer.Span[..from.Size].CopyTo(source.Buffer.Span);
        _paths[_pathCount < MaxPaths ? _pathCount++ : oldest] = new Path(listenIndex, source) { LastSeenMs = now };
        return true;
    }

    /// <summary>
    /// Sends <paramref name="datagram"/> back on every path heard from within <paramref name="freshMs"/> of the flow's
    /// newest datagram, through the relay socket that path arrives on. Returns the copies sent. Under the gate.
    /// </summary>
    public int SendBack(ReadOnlySpan<byte> datagram, Socket[] sockets, long freshMs, ref long errors)
    {
        int sent = 0;
        for (int i = 0; i < _pathCount; i++)
        {
            Path path = _paths[i];
            if (LastSeenMs - path.LastSeenMs > freshMs)
            {
                continue;
            }

            try
            {
                sockets[path.ListenIndex].SendTo(datagram, SocketFlags.None, path.Source);
                sent++;
            }
            catch (SocketException)
            {
                Interlocked.Increment(ref errors);
            }
        }

        return sent;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Upstream.Dispose();
        }
    }

    private sealed class Path(int listenIndex, SocketAddress source)
    {
        public int ListenIndex { get; } = listenIndex;

        public SocketAddress Source { get; } = source;

        public long LastSeenMs { get; set; }
    }
}
