using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace VirtualStack.Plugins.Tests.Infrastructure;

/// <summary>
/// Root checks, and running code without one capability: Linux capabilities belong to a thread, so a fresh thread
/// drops it from its effective set, runs the code and ends, and the rest of the test process keeps its privileges.
/// </summary>
internal static unsafe partial class Privileges
{
    public const int CapNetAdmin = 12;
    public const int CapNetRaw = 13;

    private const uint CapabilityVersion3 = 0x20080522;

    public static bool IsRoot => Environment.IsPrivilegedProcess;

    public const string NeedsRoot = "needs root (raw sockets, SO_MARK and capability changes); run the tests as root to include it";

    /// <summary>Runs <paramref name="action"/> on a new thread whose effective set lacks <paramref name="capabilities"/>.</summary>
    public static T RunWithout<T>(int[] capabilities, Func<T> action)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                foreach (int capability in capabilities)
                {
                    Drop(capability);
                }

                result = action();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        });
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    private static void Drop(int capability)
    {
        Header header = new() { Version = CapabilityVersion3, Pid = 0 };
        Data* data = stackalloc Data[2];
        if (CapGet(&header, data) != 0)
        {
            throw new InvalidOperationException($"capget failed: errno {Marshal.GetLastPInvokeError()}");
        }

        data[capability / 32].Effective &= ~(1u << (capability % 32));
        if (CapSet(&header, data) != 0)
        {
            throw new InvalidOperationException($"capset failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "capget", SetLastError = true)]
    private static partial int CapGet(Header* header, Data* data);

    [LibraryImport("libc", EntryPoint = "capset", SetLastError = true)]
    private static partial int CapSet(Header* header, Data* data);

    [StructLayout(LayoutKind.Sequential)]
    private struct Header
    {
        public uint Version;
        public int Pid;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Data
    {
        public uint Effective;
        public uint Permitted;
        public uint Inheritable;
    }
}
