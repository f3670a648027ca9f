using System.Text;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Shared.Native;

namespace VirtualStack.Plugins.Udp;

/// <summary>
/// The <c>Device</c> option of a Udp stack: every socket of the stack is bound to that interface (SO_BINDTODEVICE),
/// so its datagrams leave through it whatever the routing table says. A multipath rule gives each path a stack
/// of its own with its path's interface, so each path leaves by its own link.
/// </summary>
internal static unsafe class UdpDevice
{
    public const string Key = "Device";

    /// <summary>SO_BINDTODEVICE (asm-generic/socket.h).</summary>
    private const int SoBindToDevice = 25;

    /// <summary>The configured device, or null.</summary>
    public static string? Read(StackOptions options) =>
        options.Values.FirstOrDefault(v => v.Key.Equals(Key, StringComparison.OrdinalIgnoreCase)).Value;

    /// <summary>Null when the device name is acceptable, else what is wrong (the interface need not exist yet).</summary>
    public static string? Validate(string? device) =>
        device is null || (device.Length is > 0 and <= 15 && device.All(c => c > ' ' && c < 127 && c is not '/' and not ':'))
            ? null
            : $"{Key}: '{device}' is not an interface name (1-15 characters, no '/', ':' or spaces).";

    /// <summary>The options without <see cref="Key"/>, for the integer options' validation.</summary>
    public static StackOptions Without(StackOptions options) =>
        new(options.Name, options.Plugin, options.Values.Where(v => !v.Key.Equals(Key, StringComparison.OrdinalIgnoreCase))
            .ToDictionary(v => v.Key, v => v.Value, StringComparer.OrdinalIgnoreCase));

    /// <summary>Binds <paramref name="fd"/> to <paramref name="device"/>; needs CAP_NET_RAW (root).</summary>
    public static void Bind(int fd, string device, string what)
    {
        byte[] name = Encoding.ASCII.GetBytes(device + "\0");
        fixed (byte* value = name)
        {
            if (LibC.SetSockOpt(fd, Linux.SolSocket, SoBindToDevice, value, (uint)name.Length) < 0)
            {
                int errno = Errno.Last;
                throw new NativeCallException($"setsockopt(SO_BINDTODEVICE={device}) on {what}", errno);
            }
        }
    }
}
