using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Plugins.Tests.Infrastructure;

/// <summary>Small helpers for loopback tests.</summary>
internal static class Loopback
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>True when ::1 can be bound (IPv6 enabled on lo).</summary>
    public static bool HasIpv6 { get; } = Probe();

    public const string NoIpv6 = "IPv6 loopback (::1) is not available on this machine";

    public static StackOptions Options(string name, string plugin, params (string Key, string Value)[] values) =>
        new(name, plugin, values.ToDictionary(v => v.Key, v => v.Value, StringComparer.OrdinalIgnoreCase));

    /// <summary>A UDP socket that receives on a loopback address, for checking what arrives.</summary>
    public static Socket Listener(IPAddress address)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(address, 0));
        socket.ReceiveTimeout = (int)Timeout.TotalMilliseconds;
        return socket;
    }

    private static bool Probe()
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
