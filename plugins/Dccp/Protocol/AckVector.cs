namespace VirtualStack.Plugins.Dccp.Protocol;

/// <summary>Packet state in an Ack Vector (RFC 4340 §11.4).</summary>
public enum AckVectorState : byte
{
    /// <summary>Received (state 0).</summary>
    Received = 0,
    /// <summary>Received with an ECN Congestion Experienced mark (state 1).</summary>
    ReceivedEcnMarked = 1,
    /// <summary>Reserved (state 2).</summary>
    Reserved = 2,
    /// <summary>Not yet received (state 3).</summary>
    NotReceived = 3,
}

/// <summary>One run of an Ack Vector: <see cref="Length"/> consecutive packets in <see cref="State"/>.</summary>
/// <param name="State">The packets' state.</param>
/// <param name="Length">Number of packets (run length + 1, 1..64).</param>
public readonly record struct AckVectorRun(AckVectorState State, int Length);

/// <summary>
/// Decodes and encodes Ack Vector data (RFC 4340 §11.4): each byte is a 2-bit State and a 6-bit Run Length; the
/// first byte describes the packet named by the Acknowledgement Number and Run Length older packets, and each
/// further byte continues toward older sequence numbers.
/// </summary>
public static class AckVector
{
    /// <summary>Most packets one byte can describe.</summary>
    public const int MaxRunPerByte = 64;

    /// <summary>Most data bytes in one option (the length byte counts type and length too).</summary>
    public const int MaxOptionData = 253;

    /// <summary>Decodes one byte.</summary>
    public static AckVectorRun Decode(byte b) => new((AckVectorState)(b >> 6), (b & 0x3F) + 1);

    /// <summary>Encodes a run of any length as as many bytes as it needs; returns the bytes written, or -1 when it does not fit.</summary>
    public static int EncodeRun(Span<byte> destination, AckVectorState state, long length)
    {
        int written = 0;
        while (length > 0)
        {
            if (written >= destination.Length)
            {
                return -1;
            }

            int run = (int)Math.Min(length, MaxRunPerByte);
            destination[written++] = (byte)(((int)state << 6) | (run - 1));
            length -= run;
        }

        return written;
    }

    /// <summary>Number of packets an Ack Vector's data describes (the sum of its runs).</summary>
    public static long CountPackets(ReadOnlySpan<byte> data)
    {
        long count = 0;
        foreach (byte b in data)
        {
            count += (b & 0x3F) + 1;
        }

        return count;
    }
}
