namespace VirtualStack.Plugins.Dccp.Protocol;

/// <summary>The 4-bit Type field of the generic header (RFC 4340 §5.1). Values 10-15 are reserved.</summary>
public enum DccpPacketType : byte
{
    /// <summary>Client asks to open a connection (§5.2).</summary>
    Request = 0,
    /// <summary>Server's answer to a Request (§5.3).</summary>
    Response = 1,
    /// <summary>Application data without an acknowledgement (§5.4).</summary>
    Data = 2,
    /// <summary>Acknowledgement without data (§5.4).</summary>
    Ack = 3,
    /// <summary>Application data with an acknowledgement (§5.4).</summary>
    DataAck = 4,
    /// <summary>Server asks the client to close (§5.5).</summary>
    CloseReq = 5,
    /// <summary>Closes the connection; answered by Reset(Closed) (§5.5).</summary>
    Close = 6,
    /// <summary>Ends the connection, normally or abnormally (§5.6).</summary>
    Reset = 7,
    /// <summary>Resynchronizes sequence numbers after a burst of loss (§5.7).</summary>
    Sync = 8,
    /// <summary>Answer to a Sync (§5.7).</summary>
    SyncAck = 9,
}

/// <summary>Per-type layout facts from RFC 4340 §5.</summary>
public static class DccpPacketTypes
{
    /// <summary>Highest defined type; 10-15 are reserved and MUST be ignored (§5.1).</summary>
    public const DccpPacketType Highest = DccpPacketType.SyncAck;

    /// <summary>
    /// True when the packet carries an acknowledgement subheader: every type except Request and Data (§5.1:
    /// "the Acknowledgement Number subheader ... present on all packets other than DCCP-Request and DCCP-Data").
    /// </summary>
    public static bool HasAck(DccpPacketType type) => type is not (DccpPacketType.Request or DccpPacketType.Data);

    /// <summary>
    /// True when the type may use 24-bit sequence numbers (X=0). Only Data, Ack and DataAck may; every other type
    /// MUST have X=1 and is ignored otherwise (§5.1).
    /// </summary>
    public static bool AllowsShortSequence(DccpPacketType type) =>
        type is DccpPacketType.Data or DccpPacketType.Ack or DccpPacketType.DataAck;

    /// <summary>
    /// Size in bytes of the fixed part (generic header + type-specific fields, no options) for a type and X bit.
    /// </summary>
    public static int FixedHeaderLength(DccpPacketType type, bool extended)
    {
        int length = extended ? 16 : 12;
        if (HasAck(type))
        {
            length += extended ? 8 : 4;
        }

        if (type is DccpPacketType.Request or DccpPacketType.Response)
        {
            length += 4; // Service Code (§5.2, §5.3)
        }
        else if (type == DccpPacketType.Reset)
        {
            length += 4; // Reset Code, Data 1, Data 2, Data 3 (§5.6)
        }

        return length;
    }

    /// <summary>True when the type carries an application data area that is delivered (Request, Response, Data, DataAck; §5.2-5.4).</summary>
    public static bool CarriesApplicationData(DccpPacketType type) => type is DccpPacketType.Data or DccpPacketType.DataAck;

    /// <summary>Short name as RFC 4340 writes it ("DataAck").</summary>
    public static string Name(DccpPacketType type) => type switch
    {
        DccpPacketType.Request => "Request",
        DccpPacketType.Response => "Response",
        DccpPacketType.Data => "Data",
        DccpPacketType.Ack => "Ack",
        DccpPacketType.DataAck => "DataAck",
        DccpPacketType.CloseReq => "CloseReq",
        DccpPacketType.Close => "Close",
        DccpPacketType.Reset => "Reset",
        DccpPacketType.Sync => "Sync",
        DccpPacketType.SyncAck => "SyncAck",
        _ => "Reserved",
    };
}
