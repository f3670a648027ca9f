namespace VirtualStack.Plugins.Dccp.Protocol;

/// <summary>
/// Outcome of <see cref="DccpPacket.TryParse"/>: why a packet is invalid per RFC 4340 §8.5 Step 1 ("Check header
/// validity"). The parser never throws; a hostile packet is always one of these.
/// </summary>
public enum DccpParseResult : byte
{
    /// <summary>Header, type-specific fields and option list are well formed.</summary>
    Ok = 0,
    /// <summary>Shorter than the generic header or than its type's fixed fields.</summary>
    Truncated,
    /// <summary>Type 10-15 (reserved): MUST be ignored (§5.1).</summary>
    ReservedType,
    /// <summary>X=0 on a type that requires 48-bit sequence numbers (§5.1).</summary>
    ShortSequenceNotAllowed,
    /// <summary>Data Offset smaller than the fixed header or larger than the packet (§5.1, Step 1).</summary>
    BadDataOffset,
    /// <summary>Checksum Coverage reaches past the end of the packet (§9.2, Step 1).</summary>
    BadChecksumCoverage,
    /// <summary>An option's length byte is missing, below 2, or runs past the option area (§5.8).</summary>
    MalformedOptions,
}
