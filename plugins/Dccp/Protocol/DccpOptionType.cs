namespace VirtualStack.Plugins.Dccp.Protocol;

/// <summary>
/// Option types (RFC 4340 §5.8, RFC 4341). Types 0-31 are single-byte options; 32-255 have a length byte.
/// 3-31 and 45-127 are reserved; 128-255 are CCID-specific.
/// </summary>
public enum DccpOptionType : byte
{
    /// <summary>Padding (§5.8.1).</summary>
    Padding = 0,
    /// <summary>The next option must be understood (§5.8.2).</summary>
    Mandatory = 1,
    /// <summary>The receiver is struggling to keep up (§11.6).</summary>
    SlowReceiver = 2,
    /// <summary>Change L: the sender wants to change one of its own features (§6.1).</summary>
    ChangeL = 32,
    /// <summary>Confirm L: answer to a Change R (§6.2).</summary>
    ConfirmL = 33,
    /// <summary>Change R: the sender wants the receiver to change one of its features (§6.1).</summary>
    ChangeR = 34,
    /// <summary>Confirm R: answer to a Change L (§6.2).</summary>
    ConfirmR = 35,
    /// <summary>Server state the client must echo (§8.1.4).</summary>
    InitCookie = 36,
    /// <summary>Count of consecutive non-data packets (§7.7).</summary>
    NdpCount = 37,
    /// <summary>Ack Vector with ECN nonce sum 0 (§11.4).</summary>
    AckVector0 = 38,
    /// <summary>Ack Vector with ECN nonce sum 1 (§11.4).</summary>
    AckVector1 = 39,
    /// <summary>Which acknowledged packets were not delivered (§11.7).</summary>
    DataDropped = 40,
    /// <summary>Sender's time stamp, 10 us units (§13.1).</summary>
    Timestamp = 41,
    /// <summary>Echo of a received Timestamp, optionally with elapsed time (§13.3).</summary>
    TimestampEcho = 42,
    /// <summary>Time between receiving a packet and acknowledging it, 10 us units (§13.2).</summary>
    ElapsedTime = 43,
    /// <summary>CRC-32c of the application data (§9.3).</summary>
    DataChecksum = 44,
}

/// <summary>Facts about option types from RFC 4340 §5.8's table.</summary>
public static class DccpOptionTypes
{
    /// <summary>True for types 0-31, which are a single byte with no length (§5.8).</summary>
    public static bool IsSingleByte(byte type) => type < 32;

    /// <summary>True for the CCID-specific range 128-255 (§10.3).</summary>
    public static bool IsCcidSpecific(byte type) => type >= 128;

    /// <summary>True for types this implementation understands (everything §5.8 and RFC 4341 define).</summary>
    public static bool IsKnown(byte type) => type is <= 2 or (>= 32 and <= 44);

    /// <summary>
    /// True when the option means something on a DCCP-Data packet. The "DCCP-Data?" column of §5.8's table: options
    /// marked N there MUST be ignored when they arrive on Data packets (Change/Confirm, Init Cookie, Ack Vector,
    /// Data Dropped, Elapsed Time).
    /// </summary>
    public static bool AllowedOnData(byte type) => type switch
    {
        (byte)DccpOptionType.Padding or (byte)DccpOptionType.Mandatory or (byte)DccpOptionType.SlowReceiver => true,
        (byte)DccpOptionType.NdpCount or (byte)DccpOptionType.Timestamp or (byte)DccpOptionType.TimestampEcho => true,
        (byte)DccpOptionType.DataChecksum => true,
        _ => type >= 128,
    };

    /// <summary>
    /// Checks an option's total length (type and length bytes included) against §5.8 and §13. Returns false for a
    /// length the RFC forbids, e.g. a Timestamp that is not 6 bytes long.
    /// </summary>
    public static bool IsValidLength(byte type, int length) => type switch
    {
        < 32 => length == 1,
        (byte)DccpOptionType.ChangeL or (byte)DccpOptionType.ChangeR => length >= 3, // feature number + value(s) (§6.1)
        (byte)DccpOptionType.ConfirmL or (byte)DccpOptionType.ConfirmR => length >= 3, // an empty Confirm has just the feature (§6.2)
        (byte)DccpOptionType.InitCookie => length >= 3,
        (byte)DccpOptionType.NdpCount => length is >= 3 and <= 8, // 1-6 bytes of count (§7.7)
        (byte)DccpOptionType.AckVector0 or (byte)DccpOptionType.AckVector1 => length >= 3,
        (byte)DccpOptionType.DataDropped => length >= 3,
        (byte)DccpOptionType.Timestamp => length == 6, // §13.1
        (byte)DccpOptionType.TimestampEcho => length is 6 or 8 or 10, // §13.3
        (byte)DccpOptionType.ElapsedTime => length is 4 or 6, // §13.2
        (byte)DccpOptionType.DataChecksum => length == 6, // §9.3
        _ => length >= 2,
    };

    /// <summary>Name as RFC 4340 writes it, for logs and tests.</summary>
    public static string Name(byte type) => type switch
    {
        0 => "Padding",
        1 => "Mandatory",
        2 => "SlowReceiver",
        32 => "ChangeL",
        33 => "ConfirmL",
        34 => "ChangeR",
        35 => "ConfirmR",
        36 => "InitCookie",
        37 => "NDPCount",
        38 => "AckVector0",
        39 => "AckVector1",
        40 => "DataDropped",
        41 => "Timestamp",
        42 => "TimestampEcho",
        43 => "ElapsedTime",
        44 => "DataChecksum",
        >= 128 => "CCID-specific",
        _ => "Reserved",
    };
}
