using System.Buffers.Binary;
using System.Runtime.InteropServices;
using VirtualStack.Contracts.Net;

namespace VirtualStack.Contracts.Packets;

/// <summary>
/// The Internet checksum (RFC 1071): one's-complement sum of 16-bit words. Used for IPv4 headers and, with a
/// pseudo-header, for UDP, TCP, ICMPv6 and DCCP over IPv4 and IPv6.
/// </summary>
public static class InternetChecksum
{
    /// <summary>Adds <paramref name="data"/> to a running 32-bit partial sum (not yet folded or complemented).</summary>
    /// <remarks>
    /// Sums 32-bit big-endian words into a 64-bit accumulator, which cannot overflow for any IP packet, then folds;
    /// the one's-complement sum is byte-order independent (RFC 1071 §2(B)), so reading in either order is sound as
    /// long as the odd trailing byte is placed in the high half of its word.
    /// </remarks>
    public static uint Add(uint partial, ReadOnlySpan<byte> data)
    {
        ulong sum = partial;
        ReadOnlySpan<uint> words = MemoryMarshal.Cast<byte, uint>(data);
        foreach (uint word in words)
        {
            sum += BinaryPrimitives.ReverseEndianness(word);
        }

        int done = words.Length * 4;
        if (data.Length - done >= 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[done..]);
            done += 2;
        }

        if (done < data.Length)
        {
            sum += (uint)data[done] << 8;
        }

        return Fold32(sum);
    }

    /// <summary>Adds the transport pseudo-header for IPv4 (RFC 768) or IPv6 (RFC 8200 §8.1) to a partial sum.</summary>
    public static uint AddPseudoHeader(uint partial, NetAddress source, NetAddress destination, byte protocol, int transportLength)
    {
        Span<byte> addresses = stackalloc byte[32];
        int s = source.Write(addresses);
        int d = destination.Write(addresses[s..]);
        ulong sum = Add(partial, addresses[..(s + d)]);
        sum += protocol;
        sum += (uint)transportLength;
        return Fold32(sum);
    }

    /// <summary>Folds a partial sum to 16 bits and complements it: the value to put on the wire.</summary>
    public static ushort Finish(uint partial)
    {
        uint sum = partial;
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    /// <summary>The checksum of <paramref name="data"/> alone (e.g. an IPv4 header).</summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => Finish(Add(0, data));

    private static uint Fold32(ulong sum)
    {
        while ((sum >> 32) != 0)
        {
            sum = (sum & 0xffff_ffff) + (sum >> 32);
        }

        // Keep it below 2^32 - 2^16 so later additions of 16-bit values cannot overflow a uint before the next fold.
        uint result = (uint)sum;
        return (result & 0xffff) + (result >> 16);
    }
}
