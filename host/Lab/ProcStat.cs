using System.Globalization;

namespace VirtualStack.Host.Lab;

/// <summary>
/// CPU time from /proc/PID/stat and /proc/PID/task/TID/stat: user + system (fields 14 and 15), in USER_HZ ticks,
/// read after the parenthesised command name (which may itself hold spaces and parentheses).
/// </summary>
internal static class ProcStat
{
    /// <summary>USER_HZ: 100 on every Linux .NET runs on.</summary>
    public const double TicksPerSecond = 100;

    /// <summary>The command (thread) name and the CPU ticks of one stat file.</summary>
    public static (string Name, long Ticks) Read(string statPath)
    {
        string stat = File.ReadAllText(statPath);
        int open = stat.IndexOf('(', StringComparison.Ordinal);
        int close = stat.LastIndexOf(')');
        string[] fields = stat[(close + 2)..].Split(' ');
        return (stat[(open + 1)..close], long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture));
    }

    /// <summary>CPU time a process has used so far.</summary>
    public static TimeSpan ProcessCpu(int pid) => TimeSpan.FromSeconds(Read($"/proc/{pid}/stat").Ticks / TicksPerSecond);
}
