namespace VirtualStack.Plugins.Dccp.Protocol;

/// <summary>
/// The fixed fields of a packet to encode (RFC 4340 §5.1-5.7). Fields that the packet type does not carry are
/// ignored by <see cref="DccpPacketWriter"/>.
/// </summary>
public struct DccpHeader
{
    /// <summary>Source Port.</summary>
    public ushort SourcePort;

    /// <summary>Destination Port.</summary>
    public ushort DestinationPort;

    /// <summary>Packet type.</summary>
    public DccpPacketType Type;

    /// <summary>False to send 24-bit sequence numbers (X=0; only Data, Ack, DataAck with Allow Short Seqnos, §7.6).</summary>
    public bool Short;

    /// <summary>CCVal (4 bits) for the HC-Sender's CCID.</summary>
    public byte CCVal;

    /// <summary>Checksum Coverage (4 bits, §9.2); 0 covers the whole packet.</summary>
    public byte CsCov;

    /// <summary>Sequence Number (48 bits; its low 24 bits when <see cref="Short"/>).</summary>
    public ulong SequenceNumber;

    /// <summary>Acknowledgement Number (types other than Request and Data).</summary>
    public ulong AcknowledgementNumber;

    /// <summary>Service Code (Request and Response).</summary>
    public uint ServiceCode;

    /// <summary>Reset Code (Reset).</summary>
    public DccpResetCode ResetCode;

    /// <summary>Reset Data 1.</summary>
    public byte ResetData1;

    /// <summary>Reset Data 2.</summary>
    public byte ResetData2;

    /// <summary>Reset Data 3.</summary>
    public byte ResetData3;
}
