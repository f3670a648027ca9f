using System.Buffers.Binary;

namespace VirtualStack.Host.Multipath;

/// <summary>
/// The 16-byte sequence tag VS puts in front of each payload of a rule with <c>SequenceTag</c> (docs/redundant-tag.md
/// is the wire format for far sides written in any language). All fields in network byte order:
/// <code>
///  0       2       3       4               8                               16
///  | "VT"  | ver 1 | flags | flow id (u32) | sequence (u64)                | payload ...
/// </code>
/// Every copy of one packet (one per path under Redundant, probes) carries the same sequence, so a far side that
/// keeps a <see cref="DuplicateWindow"/> per flow id delivers each packet once. The flow id (random, non-zero) ties
/// together the copies arriving on different paths from different source addresses; the 64-bit sequence never
/// wraps, so a far side needs no serial-number arithmetic.
/// </summary>
internal static class SequenceTag
{
    public const int Size = 16;

    public const byte Magic0 = (byte)'V';

    public const byte Magic1 = (byte)'T';

    public const byte Version = 1;

    /// <summary>Writes a tag into the first <see cref="Size"/> bytes of <paramref name="into"/>.</summary>
    public static void Write(Span<byte> into, uint flowId, ulong sequence)
    {
        // Bounds check once, for the JIT to drop the others.
        into = into[..Size];
        into[0] = Magic0;
        into[1] = Magic1;
        into[2] = Version;
        into[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(into[4..], flowId);
        BinaryPrimitives.WriteUInt64BigEndian(into[8..], sequence);
    }

    /// <summary>
    /// Reads the tag at the start of <paramref name="datagram"/>: false when it is too short or does not start with the
    /// magic and version 1 (flags are ignored, so later versions may add some without breaking this reader).
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out uint flowId, out ulong sequence)
    {
        if (datagram.Length < Size || datagram[0] != Magic0 || datagram[1] != Magic1 || datagram[2] != Version)
        {
            flowId = 0;
            sequence = 0;
            return false;
        }

        flowId = BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]);
        sequence = BinaryPrimitives.ReadUInt64BigEndian(datagram[8..]);
        return true;
    }

    /// <summary>A random non-zero flow id (once per flow, never per packet).</summary>
    public static uint NewFlowId() => (uint)Random.Shared.NextInt64(1, 1L << 32);
}
