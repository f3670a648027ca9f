using System.Text.Json.Nodes;
using VirtualStack.Host.Lab;

namespace VirtualStack.Host.Bench;

/// <summary>
/// CPU time per thread of one process, summed by thread name (/proc/PID/task/*/stat, user + system): where a
/// process spends its time, without a profiler. Thread names are the kernel's (15 characters at most).
/// </summary>
internal sealed class DccpThreadCpu
{
    private readonly Dictionary<string, long> _ticks;

    private DccpThreadCpu(Dictionary<string, long> ticks)
    {
        _ticks = ticks;
    }

    public static DccpThreadCpu Read(int pid)
    {
        var ticks = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            foreach (string task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    (string name, long used) = ProcStat.Read(Path.Combine(task, "stat"));
                    ticks[name] = ticks.GetValueOrDefault(name) + used;
                }
                catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
                {
                    // A thread that ended between the listing and the read.
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The process is gone.
        }

        return new DccpThreadCpu(ticks);
    }

    /// <summary>
    /// What each thread name used between <paramref name="before"/> and this reading: <c>[{"thread", "cpu_s",
    /// "us_per_packet"}, ...]</c>, busiest first, names under 10 ms left out.
    /// </summary>
    public JsonArray Since(DccpThreadCpu before, long packets)
    {
        var rows = new List<(string Name, long Ticks)>();
        foreach ((string name, long ticks) in _ticks)
        {
            long used = ticks - before._ticks.GetValueOrDefault(name);
            if (used > 0)
            {
                rows.Add((name, used));
            }
        }

        rows.Sort((a, b) => b.Ticks.CompareTo(a.Ticks));
        var result = new JsonArray();
        foreach ((string name, long used) in rows)
        {
            double seconds = used / ProcStat.TicksPerSecond;
            result.Add(new JsonObject
            {
                ["thread"] = name,
                ["cpu_s"] = Math.Round(seconds, 2),
                ["us_per_packet"] = packets > 0 ? Math.Round(seconds * 1e6 / packets, 3) : null,
            });
        }

        return result;
    }
}
