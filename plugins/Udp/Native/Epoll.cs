using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtualStack.Plugins.Shared.Native;

namespace VirtualStack.Plugins.Udp.Native;

/// <summary>epoll with the 64-bit user data word carrying a small integer (a socket's id).</summary>
internal static unsafe class Epoll
{
    // x86-64 declares struct epoll_event packed (12 bytes); the other 64-bit ABIs align its data member (16 bytes).
    private static readonly bool Packed = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86;

    public static int EventSize => Packed ? 12 : 16;

    private static int DataOffset => Packed ? 4 : 8;

    public static int Create()
    {
        int fd = LibC.EpollCreate1(Linux.EpollCloexec);
        return fd >= 0 ? fd : throw new NativeCallException("epoll_create1", Errno.Last);
    }

    /// <summary>Watches <paramref name="fd"/> for input, level-triggered, tagged with <paramref name="data"/>.</summary>
    public static void AddInput(int epollFd, int fd, ulong data)
    {
        byte* ev = stackalloc byte[16];
        Unsafe.WriteUnaligned(ev, Linux.EpollIn);
        Unsafe.WriteUnaligned(ev + DataOffset, data);
        if (LibC.EpollCtl(epollFd, Linux.EpollCtlAdd, fd, ev) < 0)
        {
            throw new NativeCallException("epoll_ctl(EPOLL_CTL_ADD)", Errno.Last);
        }
    }

    public static void Remove(int epollFd, int fd)
    {
        byte* ev = stackalloc byte[16];
        _ = LibC.EpollCtl(epollFd, Linux.EpollCtlDel, fd, ev);
    }

    /// <summary>The data word of event <paramref name="index"/> in a buffer filled by epoll_wait.</summary>
    public static ulong Data(byte* events, int index) => Unsafe.ReadUnaligned<ulong>(events + (index * EventSize) + DataOffset);
}
