using System.Buffers.Binary;
using VirtualStack.Contracts.Net;

namespace VirtualStack.Plugins.Shared.Native;

/// <summary>Creates and configures the kernel sockets the stacks send through.</summary>
internal static unsafe class NativeSocket
{
    /// <summary>
    /// How long a send may wait for room in a full socket buffer before the rest of the batch is given up: long
    /// enough to ride out a burst, short enough not to stall the pipeline thread's other flows for long.
    /// </summary>
    public const int SendTimeoutMs = 250;

    /// <summary>
    /// Opens a socket, marks it with <paramref name="mark"/> (SO_MARK, skipped for 0) and sizes its buffers. The
    /// socket stays blocking, with a send timeout: a full send buffer then slows the sender down instead of dropping
    /// (receives use MSG_DONTWAIT). Throws <see cref="NativeCallException"/> with a message that says what to do.
    /// </summary>
    public static int Open(int family, int type, int protocol, int mark, int bufferBytes, string what)
    {
        int fd = LibC.Socket(family, type | Linux.SockCloexec, protocol);
        if (fd < 0)
        {
            int errno = Errno.Last;
            throw new NativeCallException($"socket({what})", errno, Hint(errno, type == Linux.SockRaw ? "root or CAP_NET_RAW" : "a security policy that allows this process to open sockets"));
        }

        try
        {
            if (mark != 0)
            {
                SetInt(fd, Linux.SolSocket, Linux.SoMark, mark, $"setsockopt(SO_MARK={mark}) on {what}", "root, CAP_NET_ADMIN or (Linux 5.17 and later) CAP_NET_RAW; the mark keeps VirtualStack's own traffic out of the VNIC");
            }

            long* timeout = stackalloc long[2] { SendTimeoutMs / 1000, SendTimeoutMs % 1000 * 1000 };
            if (LibC.SetSockOpt(fd, Linux.SolSocket, Linux.SoSndTimeo, timeout, 2 * sizeof(long)) < 0)
            {
                throw new NativeCallException($"setsockopt(SO_SNDTIMEO) on {what}", Errno.Last);
            }

            if (bufferBytes > 0)
            {
                SetBuffer(fd, Linux.SoSndBufForce, Linux.SoSndBuf, bufferBytes);
                SetBuffer(fd, Linux.SoRcvBufForce, Linux.SoRcvBuf, bufferBytes);
            }

            if (family == Linux.AfInet6 && type == Linux.SockDgram)
            {
                // IPv4 flows get IPv4 sockets; a dual-stack socket would report their sources as ::ffff:a.b.c.d.
                SetInt(fd, Linux.IpProtoIpv6, Linux.Ipv6V6Only, 1, $"setsockopt(IPV6_V6ONLY) on {what}", null);
            }

            return fd;
        }
        catch
        {
            LibC.Close(fd);
            throw;
        }
    }

    /// <summary>Binds to the wildcard address of the socket's family and an ephemeral port.</summary>
    public static void BindAnyPort(int fd, bool v6, string what)
    {
        byte* address = stackalloc byte[SockAddr.SlotSize];
        uint length = SockAddr.Write(address, v6 ? NetAddress.Read(stackalloc byte[16]) : NetAddress.AnyV4, 0);
        if (LibC.Bind(fd, address, length) < 0)
        {
            int errno = Errno.Last;
            throw new NativeCallException($"bind({what})", errno);
        }
    }

    /// <summary>The local port the socket is bound to (0 when unbound or on error).</summary>
    public static ushort LocalPort(int fd)
    {
        byte* address = stackalloc byte[SockAddr.SlotSize];
        uint length = SockAddr.SlotSize;
        return LibC.GetSockName(fd, address, &length) == 0
            ? BinaryPrimitives.ReadUInt16BigEndian(new ReadOnlySpan<byte>(address + 2, 2))
            : (ushort)0;
    }

    /// <summary>Reads an integer socket option, -1 on error.</summary>
    public static int GetInt(int fd, int level, int name)
    {
        int value = 0;
        uint length = sizeof(int);
        return LibC.GetSockOpt(fd, level, name, &value, &length) == 0 ? value : -1;
    }

    private static void SetInt(int fd, int level, int name, int value, string call, string? needs)
    {
        if (LibC.SetSockOpt(fd, level, name, &value, sizeof(int)) < 0)
        {
            int errno = Errno.Last;
            throw new NativeCallException(call, errno, needs is null ? null : Hint(errno, needs));
        }
    }

    private static void SetBuffer(int fd, int forced, int plain, int bytes)
    {
        // The FORCE variants pass net.core.[rw]mem_max but need CAP_NET_ADMIN; without it take what the limit allows.
        if (LibC.SetSockOpt(fd, Linux.SolSocket, forced, &bytes, sizeof(int)) < 0)
        {
            _ = LibC.SetSockOpt(fd, Linux.SolSocket, plain, &bytes, sizeof(int));
        }
    }

    private static string? Hint(int errno, string needs) => errno switch
    {
        _ when Errno.IsPermission(errno) => $"this needs {needs}.",
        _ when Errno.IsOutOfDescriptors(errno) => "the process has run out of file descriptors (see ulimit -n); close flows or raise the limit.",
        Errno.EAFNOSUPPORT => "this address family is not available on this system.",
        _ => null,
    };
}
