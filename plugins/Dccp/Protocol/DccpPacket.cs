using System.Buffers.Binary;

namespace VirtualStack.Plugins.Dccp.Protocol;

/// <summary>
/// A parsed view of one DCCP packet (RFC 4340 §5): the generic header, the type-specific fields, and spans over
/// the options and the application data. Reads only; holds no copy of the packet, so it lives as long as the span.
/// </summary>
public ref struct DccpPacket
{
    /// <summary>Length of the generic header with X=1 (§5.1).</summary>
    public const int ExtendedGenericHeaderLength = 16;

    /// <summary>Length of the generic header with X=0 (§5.1).</summary>
    public const int ShortGenericHeaderLength = 12;

    /// <summary>The largest header: Data Offset is 8 bits of 32-bit words (§5.1).</summary>
    public const int MaxHeaderLength = 255 * 4;

    /// <summary>The whole packet as received.</summary>
    public ReadOnlySpan<byte> Bytes;

    /// <summary>Source Port.</summary>
    public ushort SourcePort;

    /// <summary>Destination Port.</summary>
    public ushort DestinationPort;

    /// <summary>Data Offset in 32-bit words: where the application data area starts (§5.1).</summary>
    public byte DataOffset;

    /// <summary>CCVal, 4 bits used by the HC-Sender's CCID (§5.1).</summary>
    public byte CCVal;

    /// <summary>Checksum Coverage, 4 bits (§9.2).</summary>
    public byte CsCov;

    /// <summary>The Checksum field as received.</summary>
    public ushort Checksum;

    /// <summary>Packet type.</summary>
    public DccpPacketType Type;

    /// <summary>The X bit: true for 48-bit sequence numbers.</summary>
    public bool IsExtended;

    /// <summary>Sequence Number: 48 bits when <see cref="IsExtended"/>, else the raw 24 bits (extend with <see cref="Protocol.SequenceNumber.ExtendShort"/>).</summary>
    public ulong SequenceNumber;

    /// <summary>True when an acknowledgement subheader is present (all types but Request and Data).</summary>
    public bool HasAck;

    /// <summary>Acknowledgement Number: 48 bits when <see cref="IsExtended"/>, else the raw 24 bits.</summary>
    public ulong AcknowledgementNumber;

    /// <summary>Service Code of a Request or Response (§5.2, §8.1.2).</summary>
    public uint ServiceCode;

    /// <summary>Reset Code of a Reset (§5.6).</summary>
    public DccpResetCode ResetCode;

    /// <summary>Data 1 of a Reset.</summary>
    public byte ResetData1;

    /// <summary>Data 2 of a Reset.</summary>
    public byte ResetData2;

    /// <summary>Data 3 of a Reset.</summary>
    public byte ResetData3;

    /// <summary>The option area, between the fixed header and Data Offset.</summary>
    public ReadOnlySpan<byte> Options;

    /// <summary>The application data area, from Data Offset to the end.</summary>
    public ReadOnlySpan<byte> Payload;

    /// <summary>Total length of header and options in bytes (Data Offset × 4).</summary>
    public readonly int HeaderLength => DataOffset * 4;

    /// <summary>Enumerates the options (Padding included) without allocating.</summary>
    public readonly DccpOptionEnumerator EnumerateOptions() => new(Options);

    /// <summary>
    /// Parses <paramref name="bytes"/> as a DCCP packet (RFC 4340 §5 and the header checks of §8.5 Step 1, except the
    /// checksum, which needs the IP addresses: see <see cref="DccpChecksum"/>). Never throws; reads only inside the span.
    /// </summary>
    public static DccpParseResult TryParse(ReadOnlySpan<byte> bytes, out DccpPacket packet)
    {
        packet = default;
        if (bytes.Length < ShortGenericHeaderLength)
        {
            return DccpParseResult.Truncated;
        }

        packet.Bytes = bytes;
        packet.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(bytes);
        packet.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]);
        packet.DataOffset = bytes[4];
        packet.CCVal = (byte)(bytes[5] >> 4);
        packet.CsCov = (byte)(bytes[5] & 0x0F);
        packet.Checksum = BinaryPrimitives.ReadUInt16BigEndian(bytes[6..]);

        // Byte 8: 3 reserved bits (ignored on receipt, §5.1), 4 bits of Type, the X bit.
        int typeField = (bytes[8] >> 1) & 0x0F;
        packet.IsExtended = (bytes[8] & 1) != 0;
        if (typeField > (int)DccpPacketTypes.Highest)
        {
            return DccpParseResult.ReservedType;
        }

        DccpPacketType type = (DccpPacketType)typeField;
        packet.Type = type;
        if (!packet.IsExtended && !DccpPacketTypes.AllowsShortSequence(type))
        {
            return DccpParseResult.ShortSequenceNotAllowed;
        }

        int fixedLength = DccpPacketTypes.FixedHeaderLength(type, packet.IsExtended);
        if (bytes.Length < fixedLength)
        {
            return DccpParseResult.Truncated;
        }

        int offset;
        if (packet.IsExtended)
        {
            // Byte 9 is reserved; bytes 10-15 are the 48-bit Sequence Number.
            packet.SequenceNumber = ReadUInt48(bytes[10..]);
            offset = ExtendedGenericHeaderLength;
        }
        else
        {
            packet.SequenceNumber = ReadUInt24(bytes[9..]);
            offset = ShortGenericHeaderLength;
        }

        packet.HasAck = DccpPacketTypes.HasAck(type);
        if (packet.HasAck)
        {
            // Acknowledgement subheader (§5.1): 16 reserved bits + 48 bits, or 8 reserved bits + 24 bits when X=0.
            if (packet.IsExtended)
            {
                packet.AcknowledgementNumber = ReadUInt48(bytes[(offset + 2)..]);
                offset += 8;
            }
            else
            {
                packet.AcknowledgementNumber = ReadUInt24(bytes[(offset + 1)..]);
                offset += 4;
            }
        }

        if (type is DccpPacketType.Request or DccpPacketType.Response)
        {
            packet.ServiceCode = BinaryPrimitives.ReadUInt32BigEndian(bytes[offset..]);
            offset += 4;
        }
        else if (type == DccpPacketType.Reset)
        {
            packet.ResetCode = (DccpResetCode)bytes[offset];
            packet.ResetData1 = bytes[offset + 1];
            packet.ResetData2 = bytes[offset + 2];
            packet.ResetData3 = bytes[offset + 3];
            offset += 4;
        }

        int headerLength = packet.DataOffset * 4;
        if (headerLength < fixedLength || headerLength > bytes.Length)
        {
            return DccpParseResult.BadDataOffset;
        }

        // §9.2 / Step 1: "If P.CsCov is too large for the packet size, drop packet".
        if (packet.CsCov != 0 && headerLength + ((packet.CsCov - 1) * 4) > bytes.Length)
        {
            return DccpParseResult.BadChecksumCoverage;
        }

        packet.Options = bytes[offset..headerLength];
        packet.Payload = bytes[headerLength..];
        return DccpOptionEnumerator.IsWellFormed(packet.Options) ? DccpParseResult.Ok : DccpParseResult.MalformedOptions;
    }

    /// <summary>Reads a 48-bit big-endian number.</summary>
    public static ulong ReadUInt48(ReadOnlySpan<byte> bytes) =>
        ((ulong)BinaryPrimitives.ReadUInt16BigEndian(bytes) << 32) | BinaryPrimitives.ReadUInt32BigEndian(bytes[2..]);

    /// <summary>Writes the low 48 bits of <paramref name="value"/> big-endian.</summary>
    public static void WriteUInt48(Span<byte> bytes, ulong value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(bytes, (ushort)(value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(bytes[2..], (uint)value);
    }

    private static uint ReadUInt24(ReadOnlySpan<byte> bytes) => ((uint)bytes[0] << 16) | ((uint)bytes[1] << 8) | bytes[2];
}
