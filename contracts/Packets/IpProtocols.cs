namespace VirtualStack.Contracts.Packets;

/// <summary>IANA protocol numbers that VirtualStack looks at (IPv4 Protocol / IPv6 Next Header).</summary>
public static class IpProtocols
{
    /// <summary>IPv6 Hop-by-Hop Options extension header.</summary>
    public const byte HopByHop = 0;
    /// <summary>ICMP for IPv4.</summary>
    public const byte Icmp = 1;
    /// <summary>TCP.</summary>
    public const byte Tcp = 6;
    /// <summary>UDP.</summary>
    public const byte Udp = 17;
    /// <summary>DCCP (RFC 4340).</summary>
    public const byte Dccp = 33;
    /// <summary>IPv6 Routing extension header.</summary>
    public const byte Routing = 43;
    /// <summary>IPv6 Fragment extension header.</summary>
    public const byte Fragment = 44;
    /// <summary>Encapsulating Security Payload.</summary>
    public const byte Esp = 50;
    /// <summary>Authentication Header.</summary>
    public const byte AuthenticationHeader = 51;
    /// <summary>ICMP for IPv6.</summary>
    public const byte IcmpV6 = 58;
    /// <summary>IPv6 No Next Header.</summary>
    public const byte NoNextHeader = 59;
    /// <summary>IPv6 Destination Options extension header.</summary>
    public const byte DestinationOptions = 60;
    /// <summary>Mobility header.</summary>
    public const byte Mobility = 135;

    /// <summary>Short lower-case name for tables and logs ("udp", "tcp", "proto-47").</summary>
    public static string Name(byte protocol) => protocol switch
    {
        Icmp => "icmp",
        Tcp => "tcp",
        Udp => "udp",
        Dccp => "dccp",
        IcmpV6 => "icmpv6",
        _ => "proto-" + protocol.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Parses a name from <see cref="Name"/> or a number.</summary>
    public static bool TryParse(string? text, out byte protocol)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "icmp": protocol = Icmp; return true;
            case "tcp": protocol = Tcp; return true;
            case "udp": protocol = Udp; return true;
            case "dccp": protocol = Dccp; return true;
            case "icmpv6" or "ipv6-icmp": protocol = IcmpV6; return true;
            case null: protocol = 0; return false;
            case var other:
                string digits = other.StartsWith("proto-", StringComparison.Ordinal) ? other[6..] : other;
                return byte.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out protocol);
        }
    }
}
