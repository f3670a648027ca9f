namespace VirtualStack.Host.Tun;

/// <summary>
/// Per-instance identifiers derived from the TUN name, so that two instances with different names use different
/// firewall marks and routing tables by default and never disturb each other.
/// </summary>
internal static class TunIdentity
{
    /// <summary>0x5653xxxx ("VS" and a 16-bit FNV-1a hash of the name): the default SO_MARK and routing table.</summary>
    public static uint DefaultMark(string tunName)
    {
        uint hash = 2166136261;
        foreach (char c in tunName)
        {
            hash = (hash ^ c) * 16777619;
        }

        uint low = (hash ^ (hash >> 16)) & 0xffff;
        return 0x5653_0000u | (low == 0 ? 1u : low);
    }
}
