namespace VirtualStack.Contracts.Packets;

/// <summary>What the classifier found out about a packet, beyond its protocol.</summary>
[Flags]
public enum PacketFlags : ushort
{
    /// <summary>Nothing special.</summary>
    None = 0,
    /// <summary>The transport header was found and is complete: ports and payload offsets are valid.</summary>
    TransportParsed = 1 << 0,
    /// <summary>A fragment of a larger datagram (IPv4 MF or offset, IPv6 Fragment header).</summary>
    Fragment = 1 << 1,
    /// <summary>A non-first fragment: it carries no transport header.</summary>
    LaterFragment = 1 << 2,
    /// <summary>IPv4 header options or IPv6 extension headers are present.</summary>
    HasOptions = 1 << 3,
    /// <summary>TCP SYN set.</summary>
    TcpSyn = 1 << 4,
    /// <summary>TCP FIN set.</summary>
    TcpFin = 1 << 5,
    /// <summary>TCP RST set.</summary>
    TcpRst = 1 << 6,
    /// <summary>The transport header is present but malformed (e.g. a UDP length that disagrees with IP).</summary>
    TransportMalformed = 1 << 7,
    /// <summary>IPv4 header checksum was wrong. The packet is still carried by the raw stack unchanged.</summary>
    BadIpChecksum = 1 << 8,
}
