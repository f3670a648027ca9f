using System.Runtime.InteropServices;
using Tmds.Linux;
using VirtualStack.Plugins.Shared.Native;

namespace VirtualStack.Host.Native;

/// <summary>sendmmsg/recvmmsg, which Tmds.LibC does not bind.</summary>
internal static unsafe partial class Datagrams
{
    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int SendMany(int fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int ReceiveMany(int fd, MMsgHdr* messages, uint count, int flags, timespec* timeout);
}
