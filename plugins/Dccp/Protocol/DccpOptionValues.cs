using System.Buffers.Binary;

namespace VirtualStack.Plugins.Dccp.Protocol;

/// <summary>Decoders for the data of individual options (RFC 4340 §6, §7.7, §9.3, §11.7, §13). All return false on a bad length.</summary>
public static class DccpOptionValues
{
    /// <summary>Timestamp (§13.1): a 32-bit value in units of 10 microseconds.</summary>
    public static bool TryReadTimestamp(ReadOnlySpan<byte> data, out uint timestamp)
    {
        timestamp = data.Length == 4 ? BinaryPrimitives.ReadUInt32BigEndian(data) : 0;
        return data.Length == 4;
    }

    /// <summary>
    /// Timestamp Echo (§13.3): the echoed Timestamp, then an optional Elapsed Time of 0, 2 or 4 bytes in units of
    /// 10 microseconds.
    /// </summary>
    public static bool TryReadTimestampEcho(ReadOnlySpan<byte> data, out uint echo, out uint elapsed)
    {
        echo = 0;
        elapsed = 0;
        if (data.Length is not (4 or 6 or 8))
        {
            return false;
        }

        echo = BinaryPrimitives.ReadUInt32BigEndian(data);
        elapsed = data.Length switch
        {
            6 => BinaryPrimitives.ReadUInt16BigEndian(data[4..]),
            8 => BinaryPrimitives.ReadUInt32BigEndian(data[4..]),
            _ => 0,
        };
        return true;
    }

    /// <summary>Elapsed Time (§13.2): 2 or 4 bytes, units of 10 microseconds.</summary>
    public static bool TryReadElapsedTime(ReadOnlySpan<byte> data, out uint elapsed)
    {
        elapsed = data.Length switch
        {
            2 => BinaryPrimitives.ReadUInt16BigEndian(data),
            4 => BinaryPrimitives.ReadUInt32BigEndian(data),
            _ => 0,
        };
        return data.Length is 2 or 4;
    }

    /// <summary>NDP Count (§7.7): 1 to 6 bytes, big-endian.</summary>
    public static bool TryReadNdpCount(ReadOnlySpan<byte> data, out ulong count)
    {
        count = 0;
        if (data.Length is < 1 or > 6)
        {
            return false;
        }

        foreach (byte b in data)
        {
            count = (count << 8) | b;
        }

        return true;
    }

    /// <summary>Data Checksum (§9.3): the CRC-32c of the application data area, 4 bytes.</summary>
    public static bool TryReadDataChecksum(ReadOnlySpan<byte> data, out uint crc)
    {
        crc = data.Length == 4 ? BinaryPrimitives.ReadUInt32BigEndian(data) : 0;
        return data.Length == 4;
    }

    /// <summary>
    /// Change/Confirm option data (§6.1, §6.2): the feature number, then the value bytes (a preference list for
    /// server-priority features, one big-endian value for non-negotiable ones; Confirm puts the chosen value first).
    /// An empty Confirm has no value bytes: the peer does not know the feature (§6.2).
    /// </summary>
    public static bool TryReadFeature(ReadOnlySpan<byte> data, out byte feature, out ReadOnlySpan<byte> values)
    {
        feature = 0;
        values = default;
        if (data.Length < 1)
        {
            return false;
        }

        feature = data[0];
        values = data[1..];
        return true;
    }

    /// <summary>Reads a big-endian value of 1 to 8 bytes (non-negotiable feature values, §6.3.2).</summary>
    public static bool TryReadFeatureValue(ReadOnlySpan<byte> bytes, out ulong value)
    {
        value = 0;
        if (bytes.Length is < 1 or > 8)
        {
            return false;
        }

        foreach (byte b in bytes)
        {
            value = (value << 8) | b;
        }

        return true;
    }
}
