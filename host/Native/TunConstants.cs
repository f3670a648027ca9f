namespace VirtualStack.Host.Native;

/// <summary>TUN/TAP definitions from linux/if_tun.h that Tmds.LibC lacks.</summary>
internal static class TunConstants
{
    /// <summary><c>_IOW('T', 202, int)</c>.</summary>
    public const int TunSetIff = 0x400454ca;

    public const short IffTun = 0x0001;
    public const short IffNoPi = 0x1000;
    public const short IffMultiQueue = 0x0100;

    /// <summary>Longest interface name the kernel accepts (IFNAMSIZ - 1).</summary>
    public const int MaxNameLength = 15;
}
