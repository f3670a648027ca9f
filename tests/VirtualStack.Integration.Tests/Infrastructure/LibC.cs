using System.Runtime.InteropServices;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>The few libc calls the test infrastructure needs and .NET does not expose.</summary>
internal static partial class LibC
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    public const int CloneNewNet = 0x40000000;

    public const int AfPacket = 17;
    public const int SockRaw = 3;
    public const ushort EthPIp = 0x0800;
    public const ushort EthPIpv6 = 0x86DD;

    [LibraryImport("libc", SetLastError = true)]
    public static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int sig);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setns(int fd, int nstype);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial nint sendto(int fd, byte* buf, nint len, int flags, byte* addr, int addrLen);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint if_nametoindex(string name);

    public static string LastError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
}
