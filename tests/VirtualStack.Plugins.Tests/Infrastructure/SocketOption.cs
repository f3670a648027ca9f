using System.Runtime.InteropServices;

namespace VirtualStack.Plugins.Tests.Infrastructure;

/// <summary>Reads an integer socket option straight from a descriptor a stack owns (without wrapping it in a Socket).</summary>
internal static unsafe partial class SocketOption
{
    public const int SolSocket = 1;
    public const int SoRcvBuf = 8;
    public const int SoMark = 36;

    public static int Get(int fd, int name, int level = SolSocket)
    {
        int value = 0;
        uint length = sizeof(int);
        return GetSockOpt(fd, level, name, &value, &length) == 0
            ? value
            : throw new InvalidOperationException($"getsockopt({name}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSockOpt(int fd, int level, int name, void* value, uint* length);
}
