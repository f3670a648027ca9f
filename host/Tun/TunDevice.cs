using Tmds.Linux;
using VirtualStack.Host.Native;
using static Tmds.Linux.LibC;

namespace VirtualStack.Host.Tun;

/// <summary>
/// A TUN device (IFF_TUN | IFF_NO_PI): each read returns exactly one IP packet, each write injects one. The device
/// is not persistent: it disappears, with its addresses and routes, when the last descriptor closes, so even a
/// crashed VirtualStack leaves no device behind.
/// </summary>
internal sealed unsafe class TunDevice : IDisposable
{
    private int _fd;

    private TunDevice(int fd, string name)
    {
        _fd = fd;
        Name = name;
    }

    public string Name { get; }

    public int Descriptor => _fd;

    /// <summary>Creates (or attaches to) the device. Needs CAP_NET_ADMIN.</summary>
    public static TunDevice Open(string name)
    {
        int fd;
        fixed (byte* path = "/dev/net/tun\0"u8)
        {
            fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK, 0);
        }

        if (fd < 0)
        {
            int error = errno;
            throw new IOException(
                $"Cannot open /dev/net/tun: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(error)}. " +
                "VirtualStack needs root (CAP_NET_ADMIN) and the tun module (modprobe tun).");
        }

        IfReq request = IfReq.ForName(name);
        request.Flags = TunConstants.IffTun | TunConstants.IffNoPi;
        if (ioctl(fd, TunConstants.TunSetIff, &request) < 0)
        {
            int error = errno;
            close(fd);
            throw SystemError.Exception($"TUNSETIFF({name})", error);
        }

        return new TunDevice(fd, request.GetName());
    }

    /// <summary>Reads one packet without blocking. Returns its length, 0 when none is waiting, -errno on error.</summary>
    public int TryRead(byte* buffer, int capacity)
    {
        ssize_t n = read(_fd, buffer, (size_t)capacity);
        if (n >= 0)
        {
            return (int)n;
        }

        int error = errno;
        return error == EAGAIN || error == EINTR ? 0 : -error;
    }

    /// <summary>Writes one packet. Returns 0 or -errno. Safe from any thread: each write is one whole packet.</summary>
    public int Write(byte* packet, int length)
    {
        ssize_t n = write(_fd, packet, (size_t)length);
        return n >= 0 ? 0 : -errno;
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            close(fd);
        }
    }
}
