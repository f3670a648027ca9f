namespace VirtualStack.Plugins.Dccp.Protocol;

/// <summary>Reset Code field of a DCCP-Reset (RFC 4340 §5.6). 12-127 reserved, 128-255 CCID-specific.</summary>
public enum DccpResetCode : byte
{
    /// <summary>No reason given.</summary>
    Unspecified = 0,
    /// <summary>Normal close: the answer to a DCCP-Close.</summary>
    Closed = 1,
    /// <summary>The sender aborted the connection.</summary>
    Aborted = 2,
    /// <summary>No connection exists for the packet (or it arrived in TIMEWAIT).</summary>
    NoConnection = 3,
    /// <summary>A valid packet arrived with an unexpected type.</summary>
    PacketError = 4,
    /// <summary>An option was erroneous (e.g. an invalid length); Data 1-3 hold its first bytes.</summary>
    OptionError = 5,
    /// <summary>A Mandatory option could not be processed; Data 1-3 hold the option's first bytes.</summary>
    MandatoryError = 6,
    /// <summary>The server refused the connection.</summary>
    ConnectionRefused = 7,
    /// <summary>The Request's Service Code is not accepted on that port.</summary>
    BadServiceCode = 8,
    /// <summary>The server is too busy (e.g. too many half-open connections).</summary>
    TooBusy = 9,
    /// <summary>An Init Cookie was invalid.</summary>
    BadInitCookie = 10,
    /// <summary>The sender detected misbehaviour of the peer's congestion control.</summary>
    AggressionPenalty = 11,
    /// <summary>DCCP-UDP (RFC 6773 §3.8): the UDP 4-tuple already carries another DCCP connection; retry from another UDP port.</summary>
    EncapsulatedPortReuse = 12,
}
