using System.Globalization;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Shared.Native;

namespace VirtualStack.Plugins.Shared.Diagnostics;

/// <summary>
/// Turns errors that can happen per packet into at most one log line per <see cref="IntervalMs"/>, with the count
/// since the last line: a peer or a firewall that refuses every packet must not flood the log.
/// </summary>
internal sealed class ErrorReport(IStackHost host, string what)
{
    public const long IntervalMs = 10_000;

    private long _pending;
    private long _lastLogAt = long.MinValue / 2;

    /// <summary>Counts <paramref name="count"/> errors; <paramref name="errno"/> (0 when none) goes into the next line.</summary>
    public void Note(int count, int errno)
    {
        // The only shared state is the pending count; a line lost to a race between two threads is harmless.
        long pending = Interlocked.Add(ref _pending, count);
        long now = Environment.TickCount64;
        if (now - Volatile.Read(ref _lastLogAt) < IntervalMs)
        {
            return;
        }

        Volatile.Write(ref _lastLogAt, now);
        Interlocked.Add(ref _pending, -pending);
        string cause = errno == 0 ? string.Empty : " (last: " + Errno.Describe(errno) + ")";
        host.Log(StackLogLevel.Warning, string.Create(CultureInfo.InvariantCulture, $"{pending} {what}{cause}; next report in {IntervalMs / 1000} s at the earliest."));
    }
}
