using VirtualStack.Contracts.Flows;

namespace VirtualStack.Contracts.Packets;

/// <summary>
/// What the classifier and the ID extractor learned about one packet read from the VNIC. A plain value
/// written once per packet in the batch's metadata array; stacks read it to find the payload without parsing again.
/// </summary>
public struct PacketInfo
{
    /// <summary>Total length of the IP packet in bytes.</summary>
    public ushort Length;

    /// <summary>4 or 6; 0 when the IP header could not be parsed.</summary>
    public byte IpVersion;

    /// <summary>Transport protocol (after IPv6 extension headers), see <see cref="IpProtocols"/>.</summary>
    public byte Protocol;

    /// <summary>Offset of the transport header (= length of IP header and extension headers).</summary>
    public ushort TransportOffset;

    /// <summary>Offset of the transport payload (valid with <see cref="PacketFlags.TransportParsed"/>).</summary>
    public ushort PayloadOffset;

    /// <summary>Length of the transport payload.</summary>
    public ushort PayloadLength;

    /// <summary>Classification flags.</summary>
    public PacketFlags Flags;

    /// <summary>DSCP of the packet (upper six bits of TOS / traffic class).</summary>
    public byte Dscp;

    /// <summary>ICMP/ICMPv6 type, where the protocol is ICMP.</summary>
    public byte IcmpType;

    /// <summary>The flow this packet belongs to (addresses, ports, protocol).</summary>
    public FlowKey Flow;

    /// <summary>Index of the stack chosen by the decision stage in the flow's rule, or -1 for the default stack.</summary>
    public short Stack;

    /// <summary>Why the packet was dropped, or <see cref="DropReason.None"/> while it travels on.</summary>
    public DropReason Drop;

    /// <summary>True when the payload offsets are usable.</summary>
    public readonly bool HasTransport => (Flags & PacketFlags.TransportParsed) != 0;
}
