using System.Runtime.InteropServices;

namespace VirtualStack.Plugins.Tests.Infrastructure;

/// <summary>Lowers the process's soft RLIMIT_NOFILE for a while; disposing restores it.</summary>
internal sealed unsafe partial class DescriptorLimit : IDisposable
{
    private const int RlimitNofile = 7;

    private readonly Limit _saved;

    private DescriptorLimit(ulong soft)
    {
        Limit current;
        if (GetRLimit(RlimitNofile, &current) != 0)
        {
            throw new InvalidOperationException($"getrlimit failed: errno {Marshal.GetLastPInvokeError()}");
        }

        _saved = current;
        Limit lowered = new() { Soft = Math.Min(soft, current.Hard), Hard = current.Hard };
        if (SetRLimit(RlimitNofile, &lowered) != 0)
        {
            throw new InvalidOperationException($"setrlimit failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>
    /// Leaves exactly <paramref name="more"/> descriptor numbers free for new descriptors. The limit bounds the
    /// numbers a new descriptor may get (the lowest free one), not how many are open, so it is set just above the
    /// <paramref name="more"/>-th free number; descriptors open above it stay valid.
    /// </summary>
    public static DescriptorLimit AllowOnly(int more)
    {
        var open = new HashSet<int>();
        foreach (string entry in Directory.GetFiles("/proc/self/fd"))
        {
            if (int.TryParse(Path.GetFileName(entry), out int fd))
            {
                open.Add(fd);
            }
        }

        int number = 0;
        for (int free = 0; ; number++)
        {
            if (!open.Contains(number) && ++free == more)
            {
                break;
            }
        }

        return new DescriptorLimit((ulong)(number + 1));
    }

    public void Dispose()
    {
        Limit saved = _saved;
        _ = SetRLimit(RlimitNofile, &saved);
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, Limit* limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, Limit* limit);

    [StructLayout(LayoutKind.Sequential)]
    private struct Limit
    {
        public ulong Soft;
        public ulong Hard;
    }
}
