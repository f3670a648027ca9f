using System.Buffers.Binary;
using VirtualStack.Contracts.Net;

namespace VirtualStack.Plugins.Shared.Native;

/// <summary>
/// Writes and reads <c>sockaddr_in</c> / <c>sockaddr_in6</c> in place, in native memory, without allocating.
/// </summary>
internal static unsafe class SockAddr
{
    /// <summary>Room for either kind: sockaddr_in6 is 28 bytes; a 32-byte slot keeps the slots aligned.</summary>
    public const int SlotSize = 32;

    public const int V4Length = 16;
    public const int V6Length = 28;

    /// <summary>Writes <paramref name="address"/>:<paramref name="port"/> at <paramref name="destination"/> and returns its length.</summary>
    public static uint Write(byte* destination, NetAddress address, ushort port)
    {
        var bytes = new Span<byte>(destination, SlotSize);
        bytes.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, address.IsV4 ? (ushort)Linux.AfInet : (ushort)Linux.AfInet6);
        BinaryPrimitives.WriteUInt16BigEndian(bytes[2..], port);
        if (address.IsV4)
        {
            // sin_addr at offset 4.
            address.Write(bytes[4..]);
            return V4Length;
        }

        // sin6_flowinfo at 4 stays 0, sin6_addr at 8, sin6_scope_id at 24 stays 0.
        address.Write(bytes[8..]);
        return V6Length;
    }

    /// <summary>Reads what the kernel wrote into a receive slot; false for a family other than IPv4/IPv6.</summary>
    public static bool TryRead(byte* source, uint length, out NetEndpoint endpoint)
    {
        var bytes = new ReadOnlySpan<byte>(source, (int)Math.Min(length, SlotSize));
        if (bytes.Length >= V4Length && BinaryPrimitives.ReadUInt16LittleEndian(bytes) == Linux.AfInet)
        {
            endpoint = new NetEndpoint(NetAddress.Read(bytes.Slice(4, 4)), BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]));
            return true;
        }

        if (bytes.Length >= V6Length && BinaryPrimitives.ReadUInt16LittleEndian(bytes) == Linux.AfInet6)
        {
            endpoint = new NetEndpoint(NetAddress.Read(bytes.Slice(8, 16)), BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]));
            return true;
        }

        endpoint = default;
        return false;
    }
}
