using System.Buffers.Binary;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// The test streams' datagram: a big-endian sequence number, then bytes that depend on it and on their position, so
/// that a datagram cut, changed or swapped with another is told apart from the one that was sent.
/// </summary>
internal static class NumberedDatagram
{
    public static void Fill(Span<byte> datagram, int seq)
    {
        BinaryPrimitives.WriteInt32BigEndian(datagram, seq);
        for (int i = 4; i < datagram.Length; i++)
        {
            datagram[i] = (byte)(seq + i);
        }
    }

    /// <summary>The sequence number, or -1 when the datagram is not exactly what <see cref="Fill"/> made of <paramref name="size"/> bytes with a number below <paramref name="count"/>.</summary>
    public static int Read(ReadOnlySpan<byte> datagram, int size, int count)
    {
        int seq = datagram.Length == size ? BinaryPrimitives.ReadInt32BigEndian(datagram) : -1;
        bool ok = seq >= 0 && seq < count;
        for (int i = 4; ok && i < datagram.Length; i++)
        {
            ok = datagram[i] == (byte)(seq + i);
        }

        return ok ? seq : -1;
    }
}
