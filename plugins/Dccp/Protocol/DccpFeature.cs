namespace VirtualStack.Plugins.Dccp.Protocol;

/// <summary>Feature numbers (RFC 4340 §6.4 table). 10-127 reserved, 128-255 CCID-specific.</summary>
public enum DccpFeature : byte
{
    /// <summary>Congestion control mechanism of a half-connection (§10). Server-priority, 1 byte, initially 2.</summary>
    Ccid = 1,
    /// <summary>Whether 24-bit sequence numbers may be sent (§7.6.1). Server-priority, 1 byte, initially 0.</summary>
    AllowShortSeqnos = 2,
    /// <summary>Width of the sequence validity window (§7.5.2). Non-negotiable, 6 bytes, initially 100.</summary>
    SequenceWindow = 3,
    /// <summary>The endpoint cannot do ECN (§12.1). Server-priority, 1 byte, initially 0.</summary>
    EcnIncapable = 4,
    /// <summary>Data packets per acknowledgement (§11.3). Non-negotiable, 2 bytes, initially 2.</summary>
    AckRatio = 5,
    /// <summary>Whether the receiver sends Ack Vectors (§11.5). Server-priority, 1 byte, initially 0.</summary>
    SendAckVector = 6,
    /// <summary>Whether NDP Count options are sent (§7.7.2). Server-priority, 1 byte, initially 0.</summary>
    SendNdpCount = 7,
    /// <summary>Smallest Checksum Coverage accepted (§9.2.1). Server-priority, 1 byte, initially 0.</summary>
    MinimumChecksumCoverage = 8,
    /// <summary>Whether Data Checksum options are checked (§9.3.1). Server-priority, 1 byte, initially 0.</summary>
    CheckDataChecksum = 9,
}

/// <summary>How a feature's value is agreed (RFC 4340 §6.3).</summary>
public enum DccpReconciliation : byte
{
    /// <summary>Not a feature this implementation knows.</summary>
    Unknown = 0,
    /// <summary>Server-priority: preference lists, the server's order wins (§6.3.1).</summary>
    ServerPriority,
    /// <summary>Non-negotiable: the feature location sets it, the peer confirms (§6.3.2).</summary>
    NonNegotiable,
}

/// <summary>The per-feature facts of RFC 4340 §6.4's table.</summary>
public static class DccpFeatures
{
    /// <summary>Number of known feature numbers plus one (index 0 unused), for per-feature arrays.</summary>
    public const int Count = 10;

    /// <summary>Reconciliation rule of a feature, or <see cref="DccpReconciliation.Unknown"/>.</summary>
    public static DccpReconciliation Reconciliation(byte feature) => feature switch
    {
        (byte)DccpFeature.SequenceWindow or (byte)DccpFeature.AckRatio => DccpReconciliation.NonNegotiable,
        >= 1 and <= 9 => DccpReconciliation.ServerPriority,
        _ => DccpReconciliation.Unknown,
    };

    /// <summary>Length in bytes of a value of the feature (§6.4 "Size" column; 0 for unknown).</summary>
    public static int ValueLength(byte feature) => feature switch
    {
        (byte)DccpFeature.SequenceWindow => 6,
        (byte)DccpFeature.AckRatio => 2,
        >= 1 and <= 9 => 1,
        _ => 0,
    };

    /// <summary>Initial value of a feature before negotiation (§6.4 "Initial Value" column).</summary>
    public static ulong InitialValue(byte feature) => feature switch
    {
        (byte)DccpFeature.Ccid => 2,
        (byte)DccpFeature.SequenceWindow => 100,
        (byte)DccpFeature.AckRatio => 2,
        _ => 0,
    };

    /// <summary>
    /// Checks a value against the feature's valid range (§6.4, §7.5.2: Sequence Window 32..2^46-1; §11.3: Ack Ratio
    /// &gt; 0; §9.2.1: Minimum Checksum Coverage 0..15; booleans 0 or 1).
    /// </summary>
    public static bool IsValidValue(byte feature, ulong value) => feature switch
    {
        (byte)DccpFeature.Ccid => value is 2 or 3,
        (byte)DccpFeature.SequenceWindow => value is >= 32 and < (1UL << 46),
        (byte)DccpFeature.AckRatio => value is > 0 and <= ushort.MaxValue,
        (byte)DccpFeature.MinimumChecksumCoverage => value <= 15,
        >= 1 and <= 9 => value <= 1,
        _ => false,
    };

    /// <summary>Name as in §6.4, for logs.</summary>
    public static string Name(byte feature) => feature switch
    {
        1 => "CCID",
        2 => "AllowShortSeqnos",
        3 => "SequenceWindow",
        4 => "ECNIncapable",
        5 => "AckRatio",
        6 => "SendAckVector",
        7 => "SendNDPCount",
        8 => "MinimumChecksumCoverage",
        9 => "CheckDataChecksum",
        _ => "feature" + feature.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
