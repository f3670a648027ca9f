using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using VirtualStack.Contracts.Net;

namespace VirtualStack.Plugins.Dccp.Transport;

/// <summary>Small socket helpers shared by the transports.</summary>
internal static partial class SocketHelpers
{
    /// <summary>
    /// Opens a raw socket for <paramref name="protocol"/> through libc: .NET's socket constructor refuses protocol
    /// numbers it has no <see cref="ProtocolType"/> mapping for (33 fails with "Protocol not supported").
    /// </summary>
    public static Socket OpenRaw(AddressFamily family, int protocol)
    {
        const int SockRaw = 3;
        const int SockCloexec = 0x80000;
        int domain = family == AddressFamily.InterNetwork ? 2 : 10; // AF_INET, AF_INET6
        int fd = NativeSocket(domain, SockRaw | SockCloexec, protocol);
        if (fd < 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }

        return new Socket(new SafeSocketHandle(fd, ownsHandle: true));
    }

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int NativeSocket(int domain, int type, int protocol);

    private const int SolSocket = 1;
    private const int SoMark = 36;

    /// <summary>Sets SO_MARK so that policy routing can steer this socket's traffic (needs CAP_NET_ADMIN).</summary>
    public static void SetMark(Socket socket, int mark)
    {
        if (mark != 0)
        {
            socket.SetRawSocketOption(SolSocket, SoMark, BitConverter.GetBytes(mark));
        }
    }

    /// <summary>A socket address for <paramref name="address"/>:<paramref name="port"/> (allocates; cache it).</summary>
    public static SocketAddress ToSocketAddress(NetAddress address, int port) => new IPEndPoint(address.ToIPAddress(), port).Serialize();

    /// <summary>Reads the address and port of a sockaddr_in / sockaddr_in6 without allocating.</summary>
    public static NetAddress ReadAddress(SocketAddress socketAddress, out ushort port)
    {
        Span<byte> b = socketAddress.Buffer.Span;
        port = (ushort)((b[2] << 8) | b[3]);
        return socketAddress.Family == AddressFamily.InterNetwork ? NetAddress.Read(b.Slice(4, 4)) : NetAddress.Read(b.Slice(8, 16));
    }

    /// <summary>Waits for readability; false on timeout.</summary>
    public static bool WaitReadable(Socket socket, TimeSpan timeout) =>
        socket.Poll((int)Math.Clamp(timeout.TotalMicroseconds, 0, int.MaxValue), SelectMode.SelectRead);
}

/// <summary>
/// Socket addresses of the peers sent to, built once each: sends do not allocate. Bounded: a cache this full is
/// cleared and filled again from traffic.
/// </summary>
internal sealed class DestinationCache
{
    private const int MaxEntries = 4096;

    private readonly Lock _gate = new();
    private readonly Dictionary<(NetAddress Address, int Port), SocketAddress> _entries = [];

    public SocketAddress Get(NetAddress address, int port)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue((address, port), out SocketAddress? socketAddress))
            {
                if (_entries.Count >= MaxEntries)
                {
                    _entries.Clear();
                }

                socketAddress = SocketHelpers.ToSocketAddress(address, port);
                _entries.Add((address, port), socketAddress);
            }

            return socketAddress;
        }
    }
}
