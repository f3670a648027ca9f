using System.Globalization;

namespace VirtualStack.Host.Bench;

/// <summary>A process's resident memory (from /proc/PID/status) and open descriptors (/proc/PID/fd).</summary>
internal sealed record ProcessMemory(long RssBytes, long RssAnonBytes, int Descriptors)
{
    public static ProcessMemory Read(int pid)
    {
        long rss = 0;
        long anon = 0;
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = Kilobytes(line);
            }
            else if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
            {
                anon = Kilobytes(line);
            }
        }

        return new ProcessMemory(rss, anon, Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count());
    }

    // "VmRSS:	  123456 kB"
    private static long Kilobytes(string line) =>
        long.Parse(line.Split(' ', '\t').Where(f => f.Length > 0).ElementAt(1), CultureInfo.InvariantCulture) * 1024;
}
