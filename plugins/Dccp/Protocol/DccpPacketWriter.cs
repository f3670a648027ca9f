using System.Buffers.Binary;
using VirtualStack.Contracts.Net;

namespace VirtualStack.Plugins.Dccp.Protocol;

/// <summary>
/// Encodes one DCCP packet into a caller's buffer without allocating: fixed header first, then options, then
/// <see cref="Finish"/> pads the options to a 32-bit boundary (§5.8), sets Data Offset, appends the application
/// data and computes the checksum over the pseudo-header (§9.1).
/// </summary>
/// <remarks>Every Try method leaves the buffer unchanged and returns false when the option would not fit.</remarks>
public ref struct DccpPacketWriter
{
    private readonly Span<byte> _buffer;
    private int _length;
    private int _fixedLength;

    /// <summary>Starts a packet in <paramref name="buffer"/>.</summary>
    public DccpPacketWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _length = 0;
        _fixedLength = 0;
    }

    /// <summary>Bytes written so far (header and options).</summary>
    public readonly int Length => _length;

    /// <summary>Room left for options: the header may not exceed 1020 bytes (§5.1) nor the buffer.</summary>
    public readonly int OptionSpace => Math.Min(DccpPacket.MaxHeaderLength, _buffer.Length) - _length;

    /// <summary>Writes the generic header and the type-specific fields. Returns false when the buffer is too small.</summary>
    public bool WriteHeader(in DccpHeader header)
    {
        bool extended = !header.Short || !DccpPacketTypes.AllowsShortSequence(header.Type);
        int fixedLength = DccpPacketTypes.FixedHeaderLength(header.Type, extended);
        if (_buffer.Length < fixedLength)
        {
            return false;
        }

        Span<byte> b = _buffer;
        b[..fixedLength].Clear(); // reserved fields are zero (§5.1)
        BinaryPrimitives.WriteUInt16BigEndian(b, header.SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(b[2..], header.DestinationPort);
        b[5] = (byte)((header.CCVal << 4) | (header.CsCov & 0x0F));
        b[8] = (byte)(((int)header.Type << 1) | (extended ? 1 : 0));
        int offset;
        if (extended)
        {
            DccpPacket.WriteUInt48(b[10..], header.SequenceNumber);
            offset = DccpPacket.ExtendedGenericHeaderLength;
        }
        else
        {
            WriteUInt24(b[9..], header.SequenceNumber);
            offset = DccpPacket.ShortGenericHeaderLength;
        }

        if (DccpPacketTypes.HasAck(header.Type))
        {
            if (extended)
            {
                DccpPacket.WriteUInt48(b[(offset + 2)..], header.AcknowledgementNumber);
                offset += 8;
            }
            else
            {
                WriteUInt24(b[(offset + 1)..], header.AcknowledgementNumber);
                offset += 4;
            }
        }

        if (header.Type is DccpPacketType.Request or DccpPacketType.Response)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b[offset..], header.ServiceCode);
        }
        else if (header.Type == DccpPacketType.Reset)
        {
            b[offset] = (byte)header.ResetCode;
            b[offset + 1] = header.ResetData1;
            b[offset + 2] = header.ResetData2;
            b[offset + 3] = header.ResetData3;
        }

        _length = fixedLength;
        _fixedLength = fixedLength;
        return true;
    }

    /// <summary>Adds a single-byte option (types 0-31: Padding, Mandatory, Slow Receiver).</summary>
    public bool TryAddOption(DccpOptionType type) => TryAddSingleByte((byte)type);

    /// <summary>Adds a single-byte option by number.</summary>
    public bool TryAddSingleByte(byte type)
    {
        if (!DccpOptionTypes.IsSingleByte(type) || OptionSpace < 1)
        {
            return false;
        }

        _buffer[_length++] = type;
        return true;
    }

    /// <summary>Adds an option with a length byte (types 32-255) and <paramref name="data"/> (at most 253 bytes).</summary>
    public bool TryAddOption(byte type, scoped ReadOnlySpan<byte> data)
    {
        int total = data.Length + 2;
        if (DccpOptionTypes.IsSingleByte(type) || total > 255 || OptionSpace < total)
        {
            return false;
        }

        _buffer[_length] = type;
        _buffer[_length + 1] = (byte)total;
        data.CopyTo(_buffer[(_length + 2)..]);
        _length += total;
        return true;
    }

    /// <summary>Adds an option with a length byte.</summary>
    public bool TryAddOption(DccpOptionType type, scoped ReadOnlySpan<byte> data) => TryAddOption((byte)type, data);

    /// <summary>
    /// Adds a Change L/R or Confirm L/R option (§6.1, §6.2): the feature number then <paramref name="values"/>
    /// (preference list, or a big-endian non-negotiable value; empty for an empty Confirm). A Mandatory option
    /// is put before it when <paramref name="mandatory"/>.
    /// </summary>
    public bool TryAddFeature(DccpOptionType type, byte feature, scoped ReadOnlySpan<byte> values, bool mandatory = false)
    {
        int total = values.Length + 3 + (mandatory ? 1 : 0);
        if (values.Length > 252 || OptionSpace < total)
        {
            return false;
        }

        if (mandatory)
        {
            _buffer[_length++] = (byte)DccpOptionType.Mandatory;
        }

        _buffer[_length] = (byte)type;
        _buffer[_length + 1] = (byte)(values.Length + 3);
        _buffer[_length + 2] = feature;
        values.CopyTo(_buffer[(_length + 3)..]);
        _length += values.Length + 3;
        return true;
    }

    /// <summary>Adds a Timestamp option (§13.1), 10 us units.</summary>
    public bool TryAddTimestamp(uint timestamp)
    {
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(data, timestamp);
        return TryAddOption(DccpOptionType.Timestamp, data);
    }

    /// <summary>Adds a Timestamp Echo (§13.3); the elapsed time takes 0, 2 or 4 bytes as its size needs.</summary>
    public bool TryAddTimestampEcho(uint echo, uint elapsed)
    {
        Span<byte> data = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(data, echo);
        int length = 4;
        if (elapsed != 0 && elapsed <= ushort.MaxValue)
        {
            BinaryPrimitives.WriteUInt16BigEndian(data[4..], (ushort)elapsed);
            length = 6;
        }
        else if (elapsed > ushort.MaxValue)
        {
            BinaryPrimitives.WriteUInt32BigEndian(data[4..], elapsed);
            length = 8;
        }

        return TryAddOption(DccpOptionType.TimestampEcho, data[..length]);
    }

    /// <summary>Adds an Elapsed Time option (§13.2), 2 bytes when it fits, else 4.</summary>
    public bool TryAddElapsedTime(uint elapsed)
    {
        Span<byte> data = stackalloc byte[4];
        if (elapsed <= ushort.MaxValue)
        {
            BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)elapsed);
            return TryAddOption(DccpOptionType.ElapsedTime, data[..2]);
        }

        BinaryPrimitives.WriteUInt32BigEndian(data, elapsed);
        return TryAddOption(DccpOptionType.ElapsedTime, data);
    }

    /// <summary>Adds an NDP Count option (§7.7) in the fewest bytes (1-6) that hold <paramref name="count"/>.</summary>
    public bool TryAddNdpCount(ulong count)
    {
        Span<byte> data = stackalloc byte[6];
        int length = 1;
        while (length < 6 && (count >> (8 * length)) != 0)
        {
            length++;
        }

        for (int i = 0; i < length; i++)
        {
            data[length - 1 - i] = (byte)(count >> (8 * i));
        }

        return TryAddOption(DccpOptionType.NdpCount, data[..length]);
    }

    /// <summary>Adds a Data Checksum option (§9.3) holding the CRC-32c of <paramref name="payload"/>.</summary>
    public bool TryAddDataChecksum(scoped ReadOnlySpan<byte> payload)
    {
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(data, Crc32C.Compute(payload));
        return TryAddOption(DccpOptionType.DataChecksum, data);
    }

    /// <summary>Adds an Init Cookie (§8.1.4).</summary>
    public bool TryAddInitCookie(scoped ReadOnlySpan<byte> cookie) => TryAddOption(DccpOptionType.InitCookie, cookie);

    /// <summary>Adds an Ack Vector option (§11.4) with already-encoded run bytes.</summary>
    public bool TryAddAckVector(scoped ReadOnlySpan<byte> runs, bool nonce1 = false) =>
        TryAddOption(nonce1 ? DccpOptionType.AckVector1 : DccpOptionType.AckVector0, runs);

    /// <summary>
    /// Reserves <paramref name="length"/> bytes of option data for an option the caller fills in place (used for
    /// Ack Vectors built straight into the packet). Returns the data span, or an empty span when it does not fit.
    /// </summary>
    public Span<byte> BeginOption(byte type, int maxDataLength)
    {
        int room = Math.Min(Math.Min(maxDataLength, 253), OptionSpace - 2);
        if (room <= 0 || DccpOptionTypes.IsSingleByte(type))
        {
            return default;
        }

        _buffer[_length] = type;
        return _buffer.Slice(_length + 2, room);
    }

    /// <summary>Completes an option begun with <see cref="BeginOption"/> with <paramref name="dataLength"/> bytes used (0 drops it).</summary>
    public void EndOption(int dataLength)
    {
        if (dataLength <= 0)
        {
            return;
        }

        _buffer[_length + 1] = (byte)(dataLength + 2);
        _length += dataLength + 2;
    }

    /// <summary>
    /// Pads the options with zero bytes to a 32-bit boundary, sets Data Offset, appends <paramref name="payload"/>
    /// and writes the checksum. Returns the packet length, or -1 when the payload does not fit.
    /// </summary>
    public int Finish(scoped ReadOnlySpan<byte> payload, NetAddress source, NetAddress destination)
    {
        int total = FinishWithoutChecksum(payload);
        if (total > 0)
        {
            DccpChecksum.Write(_buffer[..total], source, destination);
        }

        return total;
    }

    /// <summary>As <see cref="Finish"/> but leaves the Checksum field zero (for tests and for transports that fill it).</summary>
    public int FinishWithoutChecksum(scoped ReadOnlySpan<byte> payload)
    {
        if (_fixedLength == 0)
        {
            return -1;
        }

        int padded = (_length + 3) & ~3;
        if (padded > DccpPacket.MaxHeaderLength || padded + payload.Length > _buffer.Length)
        {
            return -1;
        }

        _buffer[_length..padded].Clear();
        _buffer[4] = (byte)(padded / 4);
        payload.CopyTo(_buffer[padded..]);
        int total = padded + payload.Length;

        // A CsCov that would cover more than the packet is invalid (§9.2): clamp it to "whole packet".
        int csCov = _buffer[5] & 0x0F;
        if (csCov != 0 && padded + ((csCov - 1) * 4) > total)
        {
            _buffer[5] &= 0xF0;
        }

        return total;
    }

    private static void WriteUInt24(Span<byte> bytes, ulong value)
    {
        bytes[0] = (byte)(value >> 16);
        bytes[1] = (byte)(value >> 8);
        bytes[2] = (byte)value;
    }
}
